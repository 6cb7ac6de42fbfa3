//go:build integration && lannerbpf

package capture

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

// TestProbeOpenFilter runs real opens through the kernel's open filter: writes, sensitive names,
// directories and non-canonical paths are reported, ordinary reads are dropped and counted.
func TestProbeOpenFilter(t *testing.T) {
	f := &OpenFilter{Writes: true, Paths: true, Prefixes: []string{"/etc/shadow\x00", "/etc/pam.d", "/very/" + strings.Repeat("x", 300)}}
	r := startRecorderWith(t, Config{RingBytesPerCPU: 4 << 20, Syscalls: DefaultSyscalls(), OpenFilter: f})
	dir := t.TempDir()
	out := filepath.Join(dir, "written")
	// cat reads each file in turn (a missing one is an error it reports and goes on), from /etc
	// so that "hostname" is relative; then the shell opens a file for writing.
	script := `cd /etc; cat hostname /etc/hostname /etc/shadow /etc/shadow- /etc/shadowx /etc/../etc/hostname ` +
		`/etc//hostname /etc/./hostname /etc/hostname/ /etc/pam.d/other /etc/pam.d ` +
		`/etc/` + strings.Repeat("y", 260) + ` >/dev/null 2>&1; echo x > ` + out
	if err := runShell(script); err != nil {
		t.Fatal(err)
	}
	r.find("the write open", func(rec *Record) bool { p, _ := openPath(rec); return p == out })

	got := map[string]bool{}
	r.mu.Lock()
	for _, rec := range r.recs {
		if p, ok := openPath(rec); ok {
			got[p] = true
		}
	}
	r.mu.Unlock()
	for _, p := range []string{"hostname", "/etc/shadow", "/etc/../etc/hostname", "/etc//hostname",
		"/etc/./hostname", "/etc/hostname/", "/etc/pam.d/other", "/etc/pam.d", "/etc/" + strings.Repeat("y", 260)} {
		if !got[p] {
			t.Errorf("open of %q was not reported", p)
		}
	}
	// an exact name covers no longer path
	for _, p := range []string{"/etc/hostname", "/etc/shadow-", "/etc/shadowx", "/etc/ld.so.cache"} {
		if got[p] {
			t.Errorf("open of %q was reported: no prefix covers it", p)
		}
	}
	st, err := r.probe.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Filtered == 0 {
		t.Errorf("the kernel counted no filtered open: %+v", st)
	}

	// openat2 takes its flags from struct open_how in user memory.
	out3 := filepath.Join(dir, "written3")
	py := `import ctypes, struct, os
libc = ctypes.CDLL(None, use_errno=True)
def openat2(path, flags):
    how = struct.pack("QQQ", flags, 0o600 if flags & os.O_CREAT else 0, 0)
    fd = libc.syscall(437, -100, path.encode(), how, len(how))
    if fd < 0:
        raise OSError(ctypes.get_errno(), path)
    os.close(fd)
openat2("/etc/hostname", os.O_RDONLY)
openat2("` + out3 + `", os.O_WRONLY | os.O_CREAT)
`
	if out, err := exec.Command("python3", "-c", py).CombinedOutput(); err != nil {
		t.Fatalf("openat2: %v: %s", err, out)
	}
	r.find("the openat2 write", func(rec *Record) bool {
		p, _ := openPath(rec)
		return p == out3 && event.TypeName(rec.Nr) == "openat2"
	})
	if n := r.count(func(rec *Record) bool { p, _ := openPath(rec); return p == "/etc/hostname" }); n != 0 {
		t.Errorf("the openat2 read of /etc/hostname was reported")
	}

	// Without the path tests only writes are reported; with no filter, everything.
	if err := r.probe.SetOpenFilter(&OpenFilter{Writes: true}); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "written2")
	if err := runShell("cat /etc/shadow >/dev/null; echo x > " + out2); err != nil {
		t.Fatal(err)
	}
	r.find("the second write open", func(rec *Record) bool { p, _ := openPath(rec); return p == out2 })
	if n := r.count(func(rec *Record) bool { p, _ := openPath(rec); return p == "/etc/shadow" }); n != 1 {
		t.Errorf("%d reads of /etc/shadow reported, want 1 (the second one has only writes reported)", n)
	}
	if err := r.probe.SetOpenFilter(nil); err != nil {
		t.Fatal(err)
	}
	if err := runShell("cat /etc/hostname >/dev/null"); err != nil {
		t.Fatal(err)
	}
	r.find("an unfiltered read", func(rec *Record) bool { p, _ := openPath(rec); return p == "/etc/hostname" })
}

func (r *recorder) count(fn func(*Record) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.recs {
		if fn(rec) {
			n++
		}
	}
	return n
}

func runShell(script string) error {
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stderr = os.Stderr
	return cmd.Run()
}

// openPath is the path of an open-family record.
func openPath(rec *Record) (string, bool) {
	if rec.Kind != KindSyscall {
		return "", false
	}
	switch event.TypeName(rec.Nr) {
	case "open", "creat":
		return rec.Str(0)
	case "openat", "openat2":
		return rec.Str(1)
	}
	return "", false
}
