package spool

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// repair makes a log that wal.Open refuses openable again and returns how many records (at
// least one per damaged place) it had to set aside. tidwall/wal frames each entry as
// uvarint(length) + bytes; a write torn by a power cut leaves a last entry whose length runs
// past the end of its file, which makes Open fail. repair keeps every whole entry, copies the
// damaged segment (and every segment after it, whose indices would no longer follow) into
// corrupt/, and cuts the damaged segment after its last whole entry.
func repair(dir string, logger *slog.Logger) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var segs []string
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || len(name) != 20 {
			continue
		}
		if _, err := strconv.ParseUint(name, 10, 64); err != nil {
			continue
		}
		segs = append(segs, name)
	}
	slices.Sort(segs)
	lost := 0
	for i, name := range segs {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return lost, err
		}
		good, whole := wholeEntries(data)
		if good == len(data) {
			continue
		}
		// Damage here: keep the whole entries, set the rest and every later segment aside.
		aside, err := copyAside(dir, path)
		if err != nil {
			return lost, err
		}
		lost++
		logger.Error("spool segment damaged: kept its whole records, moved a copy aside",
			"segment", path, "kept_records", whole, "kept_bytes", good, "damaged_bytes", len(data)-good, "copy", aside)
		if err := os.Truncate(path, int64(good)); err != nil {
			return lost, err
		}
		for _, later := range segs[i+1:] {
			lp := filepath.Join(dir, later)
			ld, _ := os.ReadFile(lp)
			_, n := wholeEntries(ld)
			lost += n
			if _, err := copyAside(dir, lp); err != nil {
				return lost, err
			}
			if err := os.Remove(lp); err != nil {
				return lost, err
			}
			logger.Error("spool segment after a damaged one moved aside", "segment", lp, "records", n)
		}
		if good == 0 && i > 0 {
			// An empty segment file in the middle is not a valid log; an empty first one is.
			if err := os.Remove(path); err != nil {
				return lost, err
			}
		}
		return lost, nil
	}
	return lost, nil
}

// wholeEntries returns the byte length of the whole entries at the start of data and how many.
func wholeEntries(data []byte) (good, n int) {
	for good < len(data) {
		size, k := binary.Uvarint(data[good:])
		if k <= 0 || uint64(len(data)-good-k) < size {
			return good, n
		}
		good += k + int(size)
		n++
	}
	return good, n
}

func copyAside(dir, path string) (string, error) {
	cdir := filepath.Join(dir, "corrupt")
	if err := os.MkdirAll(cdir, 0o750); err != nil {
		return "", err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(cdir, fmt.Sprintf("%s.%d", filepath.Base(path), time.Now().UnixNano()))
	return dst, os.WriteFile(dst, data, 0o640)
}

// moveAside renames the whole spool folder out of the way (for a human to look at) and leaves
// an empty one in its place.
func moveAside(dir, why string) (string, error) {
	dst := fmt.Sprintf("%s.%s-%d", filepath.Clean(dir), why, time.Now().UnixNano())
	if err := os.Rename(dir, dst); err != nil {
		return "", err
	}
	return dst, os.MkdirAll(dir, 0o750)
}
