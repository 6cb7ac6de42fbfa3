package state

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// names maps uids and gids to names from one root's /etc/passwd and /etc/group. Files are
// re-read when their modification time changes, checked at most once per refresh interval, so
// a user added after start is named without a lookup per event.
type names struct {
	root    string
	users   map[uint32]string
	groups  map[uint32]string
	pwMod   time.Time
	grMod   time.Time
	checked time.Time
}

const namesRefresh = 5 * time.Second

func newNames(root string) *names {
	return &names{root: root, users: map[uint32]string{}, groups: map[uint32]string{}}
}

func (n *names) refresh(now time.Time) {
	if now.Sub(n.checked) < namesRefresh {
		return
	}
	n.checked = now
	if m, mod, ok := readIDFile(filepath.Join(n.root, "etc/passwd"), n.pwMod); ok {
		n.users, n.pwMod = m, mod
	}
	if m, mod, ok := readIDFile(filepath.Join(n.root, "etc/group"), n.grMod); ok {
		n.groups, n.grMod = m, mod
	}
}

// user returns the name of uid, or "" when unknown (Falco prints <NA>).
func (n *names) user(uid uint32, now time.Time) string {
	n.refresh(now)
	return n.users[uid]
}

func (n *names) group(gid uint32, now time.Time) string {
	n.refresh(now)
	return n.groups[gid]
}

// readIDFile parses a passwd or group file (name:x:id:...). ok is false when the file did not
// change since mod or cannot be read.
func readIDFile(path string, mod time.Time) (map[uint32]string, time.Time, bool) {
	st, err := os.Stat(path)
	if err != nil {
		// Keep what we knew: a container's root reached through a pid that just exited
		// disappears, its files do not.
		return nil, mod, false
	}
	if st.ModTime().Equal(mod) {
		return nil, mod, false
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, mod, false
	}
	return parseIDFile(data), st.ModTime(), true
}

func parseIDFile(data []byte) map[uint32]string {
	m := map[uint32]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		f := bytes.SplitN(line, []byte(":"), 4)
		if len(f) < 3 || len(f[0]) == 0 {
			continue
		}
		id, err := strconv.ParseUint(string(f[2]), 10, 32)
		if err != nil {
			continue
		}
		// The first entry wins, as getpwuid does.
		if _, dup := m[uint32(id)]; !dup {
			m[uint32(id)] = string(f[0])
		}
	}
	return m
}
