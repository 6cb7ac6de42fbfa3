package state

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lannersec/lanner/collector/event"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat's start time; 100 on every Linux lanner runs on.
const clockTicks = 100

// procThread is one thread as /proc describes it.
type procThread struct {
	t      *event.Thread
	cgroup string
}

// readProcThread reads thread tid of process pid from procRoot (normally /proc). bootTime is the
// epoch time of boot in ns, to turn the start time into an epoch time.
func readProcThread(procRoot string, pid, tid int64, bootTime int64) (*procThread, error) {
	dir := filepath.Join(procRoot, strconv.FormatInt(pid, 10))
	tdir := filepath.Join(dir, "task", strconv.FormatInt(tid, 10))
	stat, err := os.ReadFile(filepath.Join(tdir, "stat"))
	if err != nil {
		return nil, fmt.Errorf("read thread %d/%d: %w", pid, tid, err)
	}
	t := &event.Thread{Tid: tid, Pid: pid, LoginUID: event.LoginUIDUnset}
	if err := parseStat(stat, t, bootTime); err != nil {
		return nil, fmt.Errorf("thread %d/%d: %w", pid, tid, err)
	}
	if status, err := os.ReadFile(filepath.Join(tdir, "status")); err == nil {
		parseStatus(status, t)
	}
	if cmd, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cmd) > 0 {
		argv := splitNul(cmd)
		if len(argv) > 0 {
			t.Exe = argv[0]
			t.SetArgs(argv[1:])
		}
	}
	if exe, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
		t.ExePath = exe
		if strings.HasPrefix(exe, "/memfd:") {
			t.ExeFromMemfd = true
		}
	}
	if cwd, err := os.Readlink(filepath.Join(dir, "cwd")); err == nil {
		t.Cwd = cwd
	}
	if b, err := os.ReadFile(filepath.Join(dir, "loginuid")); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32); err == nil {
			t.LoginUID = uint32(v)
		}
	}
	pt := &procThread{t: t}
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup")); err == nil {
		pt.cgroup = string(b)
	}
	return pt, nil
}

// parseStat reads /proc/PID/task/TID/stat: "tid (comm) state ppid pgrp session tty_nr ...".
// comm may contain spaces and parentheses, so it is everything up to the last ')'.
func parseStat(b []byte, t *event.Thread, bootTime int64) error {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return fmt.Errorf("malformed stat %q", b)
	}
	t.Name = string(b[open+1 : end])
	f := strings.Fields(string(b[end+1:]))
	// f[0] is state; field n of proc(5) is f[n-3].
	if len(f) < 20 {
		return fmt.Errorf("stat has %d fields after comm", len(f))
	}
	num := func(i int) int64 { v, _ := strconv.ParseInt(f[i], 10, 64); return v }
	t.PPid = num(1)
	t.Vpgid = num(2)
	t.Sid = num(3)
	t.Tty = uint32(num(4))
	start := num(19)
	t.StartTime = bootTime + start*(1_000_000_000/clockTicks)
	return nil
}

// parseStatus reads the credential, capability and namespace-id lines of /proc/PID/status.
// Falco's user.uid and group.gid are the effective ids.
func parseStatus(b []byte, t *event.Thread) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		f := strings.Fields(string(v))
		switch string(k) {
		case "Uid":
			if len(f) > 1 {
				u, _ := strconv.ParseUint(f[1], 10, 32)
				t.UID = uint32(u)
			}
		case "Gid":
			if len(f) > 1 {
				g, _ := strconv.ParseUint(f[1], 10, 32)
				t.GID = uint32(g)
			}
		case "CapInh":
			t.CapInheritable = hexField(f)
		case "CapPrm":
			t.CapPermitted = hexField(f)
		case "CapEff":
			t.CapEffective = hexField(f)
		case "NSpid": // this thread's ids from the host's namespace inward; the last is its own
			if len(f) > 0 {
				t.Vtid, _ = strconv.ParseInt(f[len(f)-1], 10, 64)
			}
		case "NStgid":
			if len(f) > 0 {
				t.Vpid, _ = strconv.ParseInt(f[len(f)-1], 10, 64)
			}
		}
	}
}

func hexField(f []string) uint64 {
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseUint(f[0], 16, 64)
	return v
}

func splitNul(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}

// scanProc reads every thread of every process under procRoot. Processes that exit during the
// scan are skipped; only an unreadable procRoot is an error.
func scanProc(procRoot string, bootTime int64) ([]*procThread, error) {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", procRoot, err)
	}
	var out []*procThread
	for _, e := range ents {
		pid, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || pid <= 0 {
			continue
		}
		tasks, err := os.ReadDir(filepath.Join(procRoot, e.Name(), "task"))
		if err != nil {
			continue
		}
		var main *procThread
		for _, te := range tasks {
			tid, err := strconv.ParseInt(te.Name(), 10, 64)
			if err != nil {
				continue
			}
			if main != nil && tid != pid {
				// Threads share the process's view; read only their own stat.
				if pt := threadOf(procRoot, main, tid, bootTime); pt != nil {
					out = append(out, pt)
				}
				continue
			}
			pt, err := readProcThread(procRoot, pid, tid, bootTime)
			if err != nil {
				continue
			}
			if tid == pid {
				main = pt
			}
			out = append(out, pt)
		}
	}
	return out, nil
}

// threadOf builds a non-main thread from its process's main thread and its own stat file.
func threadOf(procRoot string, main *procThread, tid int64, bootTime int64) *procThread {
	stat, err := os.ReadFile(filepath.Join(procRoot, strconv.FormatInt(main.t.Pid, 10), "task", strconv.FormatInt(tid, 10), "stat"))
	if err != nil {
		return nil
	}
	t := *main.t
	t.Tid = tid
	if err := parseStat(stat, &t, bootTime); err != nil {
		return nil
	}
	if status, err := os.ReadFile(filepath.Join(procRoot, strconv.FormatInt(main.t.Pid, 10), "task", strconv.FormatInt(tid, 10), "status")); err == nil {
		parseStatus(status, &t)
	}
	t.SetArgs(main.t.Args)
	return &procThread{t: &t, cgroup: main.cgroup}
}
