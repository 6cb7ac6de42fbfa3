//go:build integration && lannerbpf

package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The end-to-end tests of `lanner run` as a separate process on the real kernel: they build the
// binary with eBPF, start it with Falco's stable rules and lanner's, perform real activity and
// read the alerts it prints. They need root; outside CI they skip without it, in CI (CI=true)
// that is a failure, because there they must run.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("the eBPF end-to-end tests must run in CI: run `make test` as root")
	}
	t.Skip("loading eBPF needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_RESOURCE): run the integration tests as root")
}

// compatDir holds the upstream rules files (../shared/compat beside the repository; the
// LANNER_COMPAT_DIR environment variable overrides).
func compatDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LANNER_COMPAT_DIR")
	if dir == "" {
		dir = "../../../shared/compat"
	}
	if _, err := os.Stat(filepath.Join(dir, "falco_rules.yaml")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("upstream rules not found (%v): set LANNER_COMPAT_DIR", err)
		}
		t.Skipf("upstream rules not found (%v): set LANNER_COMPAT_DIR", err)
	}
	return dir
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// lannerBinary builds cmd/lanner with eBPF support once per test run.
func lannerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lanner-run-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "lanner")
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
		out, err := exec.Command(goBin, "build", "-tags", "lannerbpf", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build -tags lannerbpf: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type liveAlert struct {
	Rule, Priority, Source, Hostname, Output string
	Tags                                     []string
	OutputFields                             map[string]any `json:"output_fields"`
}

// collectorProc is a running `lanner run`.
type collectorProc struct {
	cmd      *exec.Cmd
	stderr   *syncBuffer
	mu       sync.Mutex
	alerts   []liveAlert
	bad      []string
	httpAddr string
	done     chan struct{}
}

func startCollector(t *testing.T, args ...string) *collectorProc {
	t.Helper()
	bin := lannerBinary(t)
	p := &collectorProc{stderr: &syncBuffer{}, httpAddr: freeAddr(t), done: make(chan struct{})}
	args = append([]string{"run", "--http.listen", p.httpAddr}, args...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = "../.." // the repository root, as `make run`
	p.cmd.Env = append(os.Environ(), "LANNER_HOSTNAME=e2e-node")
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var a liveAlert
			p.mu.Lock()
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				p.bad = append(p.bad, sc.Text())
			} else {
				p.alerts = append(p.alerts, a)
			}
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	waitFor(t, "the collector to be ready (/readyz)", func() bool {
		if p.exited() {
			t.Fatalf("lanner run exited early:\n%s", p.stderr.String())
		}
		resp, err := http.Get("http://" + p.httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

func (p *collectorProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// find returns the alerts of rule whose output field key has value want.
func (p *collectorProc) find(rule, key, want string) []liveAlert {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []liveAlert
	for _, a := range p.alerts {
		if a.Rule == rule && fmt.Sprint(a.OutputFields[key]) == want {
			out = append(out, a)
		}
	}
	return out
}

// stop sends SIGTERM and returns the exit code.
func (p *collectorProc) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- p.cmd.Wait() }()
	select {
	case err := <-errc:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(60 * time.Second):
		t.Fatalf("lanner run did not stop within a minute of SIGTERM:\n%s", p.stderr.String())
		return -1
	}
}

func TestRunLiveAlerts(t *testing.T) {
	needRoot(t)
	compat := compatDir(t)
	abs, err := filepath.Abs(compat)
	if err != nil {
		t.Fatal(err)
	}
	p := startCollector(t, "-r", filepath.Join(abs, "falco_rules.yaml"), "-r", "rules/lanner_rules.yaml")

	dir := t.TempDir()
	sh := func(script string) {
		t.Helper()
		cmd := exec.Command("/bin/bash", "-c", script)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("%s: %v: %s", script, err, out)
		}
	}
	type want struct {
		rule, priority string
		// key and value identify this test's alert among others; fields are then checked exactly
		key, value string
		fields     map[string]string
		output     string // a substring of the output line
	}
	cases := []struct {
		name string
		act  string
		want want
	}{
		{"sensitive file read by an untrusted program", "cp /bin/cat ./lanner-reader && ./lanner-reader /etc/shadow >/dev/null",
			want{"Read sensitive file untrusted", "Warning", "proc.cmdline", "lanner-reader /etc/shadow",
				map[string]string{"fd.name": "/etc/shadow", "proc.name": "lanner-reader", "proc.pname": "bash",
					"proc.exepath": dir + "/lanner-reader", "user.name": "root", "user.uid": "0", "evt.type": "openat",
					"container.id": "host"},
				"Warning Sensitive file opened for reading by non-trusted program | file=/etc/shadow"}},
		{"symlink over a sensitive file", "ln -s /etc/shadow ./lanner-run-shadow-link",
			// evt.arg.linkpath is the argument as given, as in Falco
			want{"Create Symlink Over Sensitive Files", "Warning", "evt.arg.linkpath", "./lanner-run-shadow-link",
				map[string]string{"evt.arg.target": "/etc/shadow", "proc.name": "ln", "evt.type": "symlinkat",
					"proc.cmdline": "ln -s /etc/shadow ./lanner-run-shadow-link"},
				"Symlinks created over sensitive files | target=/etc/shadow linkpath=./lanner-run-shadow-link"}},
		{"hardlink over a sensitive file", "ln /etc/shadow /etc/.lanner-run-hardlink; rm -f /etc/.lanner-run-hardlink",
			want{"Create Hardlink Over Sensitive Files", "Warning", "evt.arg.newpath", "/etc/.lanner-run-hardlink",
				map[string]string{"evt.arg.oldpath": "/etc/shadow", "proc.name": "ln", "evt.type": "linkat"},
				"Hardlinks created over sensitive files"}},
		{"private key search", "find " + dir + " -name id_rsa",
			want{"Search Private Keys or Passwords", "Warning", "proc.cmdline", "find " + dir + " -name id_rsa",
				map[string]string{"proc.name": "find", "evt.type": "execve", "user.name": "root"},
				"Grep private keys or passwords activities found"}},
		{"execution from /dev/shm", "cp /bin/true /dev/shm/lanner-run-shm && /dev/shm/lanner-run-shm; rm -f /dev/shm/lanner-run-shm",
			want{"Execution from /dev/shm", "Warning", "proc.exepath", "/dev/shm/lanner-run-shm",
				map[string]string{"proc.name": "lanner-run-shm", "evt.type": "execve"},
				"File execution detected from /dev/shm"}},
		{"ptrace anti-debug", `python3 -c 'import ctypes, sys; sys.argv[0]="x"; ctypes.CDLL(None).ptrace(0, 0, 0, 0)' lanner-traceme`,
			want{"PTRACE anti-debug attempt", "Notice", "proc.cmdline", `python3 -c import ctypes, sys; sys.argv[0]="x"; ctypes.CDLL(None).ptrace(0, 0, 0, 0) lanner-traceme`,
				map[string]string{"evt.type": "ptrace"},
				"Detected potential PTRACE_TRACEME anti-debug attempt"}},
	}
	for _, c := range cases {
		sh(c.act)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := c.want
			var got []liveAlert
			deadline := time.Now().Add(20 * time.Second)
			for got = p.find(w.rule, w.key, w.value); len(got) == 0 && time.Now().Before(deadline); got = p.find(w.rule, w.key, w.value) {
				time.Sleep(50 * time.Millisecond)
			}
			if len(got) == 0 {
				p.mu.Lock()
				var seen []string
				for _, a := range p.alerts {
					seen = append(seen, a.Rule+" "+fmt.Sprint(a.OutputFields[w.key]))
				}
				p.mu.Unlock()
				t.Fatalf("no %q alert with %s=%q; alerts so far:\n%s", w.rule, w.key, w.value, strings.Join(seen, "\n"))
			}
			a := got[0]
			if a.Priority != w.priority || a.Source != "syscall" || a.Hostname != "e2e-node" {
				t.Errorf("priority/source/hostname = %s/%s/%s, want %s/syscall/e2e-node", a.Priority, a.Source, a.Hostname, w.priority)
			}
			for k, v := range w.fields {
				if got := fmt.Sprint(a.OutputFields[k]); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if !strings.Contains(a.Output, w.output) {
				t.Errorf("output %q lacks %q", a.Output, w.output)
			}
		})
	}

	// A benign command raises nothing naming it.
	sh("ls /etc >/dev/null; cat /etc/hostname >/dev/null")
	resp, err := http.Get("http://" + p.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`lanner_alerts_total{priority="Warning",rule="Read sensitive file untrusted",source="syscall"}`,
		`lanner_events_total{source="syscall"}`, `lanner_events_dropped_total{reason="buffer"}`, `lanner_capture_events_total`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0:\n%s", code, p.stderr.String())
	}
	<-p.done
	log := p.stderr.String()
	for _, want := range []string{"shutting down", "capture stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.bad) > 0 {
		t.Errorf("stdout lines that are not Falco JSON: %q", p.bad)
	}
	for _, a := range p.alerts {
		if strings.Contains(fmt.Sprint(a.OutputFields["proc.cmdline"]), "cat /etc/hostname") {
			t.Errorf("benign command raised %q", a.Rule)
		}
	}
}

// Without root, one message says what is missing, and the exit status is 1.
func TestRunNotRootMessage(t *testing.T) {
	needRoot(t) // to drop to an unprivileged user
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv to run as an unprivileged user")
	}
	bin := lannerBinary(t)
	// the binary must be reachable by the unprivileged user
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	rules, err := filepath.Abs("../../rules/lanner_rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
		bin, "run", "-r", rules, "--http.enabled=false")
	cmd.Dir = "/"
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit status 1, got %v\n%s", err, stderr.String())
	}
	msg := stderr.String()
	if !strings.Contains(msg, "lanner: cannot start live capture: loading eBPF needs root") {
		t.Errorf("stderr lacks the message:\n%s", msg)
	}
	if n := strings.Count(msg, "cannot start live capture"); n != 1 {
		t.Errorf("the message appears %d times", n)
	}
}

// TestRunShipsToElasticsearch: an alert from real activity reaches the terminal and, through the
// spool, the local Elasticsearch node as an ECS document. It needs the node (make stack-up, or
// LANNER_ES_URL); without one it skips, except in CI where `make test-bpf` starts it.
func TestRunShipsToElasticsearch(t *testing.T) {
	needRoot(t)
	esURL := os.Getenv("LANNER_ES_URL")
	if esURL == "" {
		esURL = "http://127.0.0.1:9200"
	}
	if resp, err := http.Get(esURL); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Elasticsearch at %s: %v", esURL, err)
		}
		t.Skipf("no Elasticsearch at %s (make stack-up, or set LANNER_ES_URL): %v", esURL, err)
	} else {
		resp.Body.Close()
	}
	ns := fmt.Sprintf("runtest%d", time.Now().UnixNano())
	// a data set of its own: a template whose pattern overlapped lanner-alerts' would be refused
	stream := "logs-lanner." + ns + "-default"
	del := func(path string) {
		req, _ := http.NewRequest(http.MethodDelete, esURL+path, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	t.Cleanup(func() { del("/_data_stream/" + stream); del("/_index_template/lanner-" + ns) })
	p := startCollector(t, "-r", "rules/lanner_rules.yaml", "--elasticsearch.enabled",
		"--elasticsearch.addresses", esURL, "--elasticsearch.data-stream", stream,
		"--elasticsearch.template-name", "lanner-"+ns, "--elasticsearch.flush-interval", "100ms",
		"--elasticsearch.spool-dir", t.TempDir())

	dir := t.TempDir()
	cmd := exec.Command("/bin/bash", "-c", `cp /bin/bash ./nginx && ./nginx -c "/bin/sh -c true; true"`)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	const rule = "Lanner Shell Spawned by Network Service"
	waitFor(t, "the alert on stdout", func() bool { return len(p.find(rule, "proc.pname", "nginx")) > 0 })

	var doc map[string]any
	waitFor(t, "the document in Elasticsearch", func() bool {
		if p.exited() {
			t.Fatalf("lanner run exited:\n%s", p.stderr.String())
		}
		resp, err := http.Get(esURL + "/" + stream + "/_search?q=rule.name:%22" + strings.ReplaceAll(rule, " ", "%20") + "%22")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Hits struct {
				Hits []struct {
					Source map[string]any `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Hits.Hits) == 0 {
			return false
		}
		doc = r.Hits.Hits[0].Source
		return true
	})
	get := func(path string) string {
		var v any = doc
		for _, k := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return ""
			}
			v = m[k]
		}
		return fmt.Sprint(v)
	}
	for path, want := range map[string]string{
		"rule.name": rule, "event.kind": "alert", "process.name": "sh", "process.parent.name": "nginx",
		"process.command_line": "sh -c true", "host.hostname": "e2e-node", "rule.ruleset": "lanner_rules.yaml",
		"event.severity": "3",
	} {
		if got := get(path); got != want {
			t.Errorf("%s = %q, want %q", path, got, want)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM:\n%s", code, p.stderr.String())
	}
}

// TestRunReportsDrops: with a ring far too small and read rarely, a burst of opens loses records;
// the loss is logged as Falco's syscall_event_drops report and counted in the metrics.
func TestRunReportsDrops(t *testing.T) {
	needRoot(t)
	compat := compatDir(t)
	abs, err := filepath.Abs(filepath.Join(compat, "falco_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p := startCollector(t, "-r", abs, "--capture.ring-bytes-per-cpu", "4096", "--capture.poll-interval", "2s",
		"--syscall-event-drops.threshold", "0", "--syscall-event-drops.rate", "100",
		"--syscall-event-drops.check-interval", "200ms")
	// Opens for writing: the kernel's open filter drops read-only opens no rule can match, so
	// only these fill the (tiny) ring.
	target := filepath.Join(t.TempDir(), "burst")
	burst := exec.Command("python3", "-c", "import os,sys\nfor i in range(200000): os.close(os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT))", target)
	if out, err := burst.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	waitFor(t, "the drop report in the log", func() bool { return strings.Contains(p.stderr.String(), "syscall event drop") })
	resp, err := http.Get("http://" + p.httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var dropped float64
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, `lanner_events_dropped_total{reason="buffer"} `); ok {
			fmt.Sscan(v, &dropped)
		}
	}
	if dropped == 0 {
		t.Errorf("lanner_events_dropped_total{reason=\"buffer\"} is 0 after a logged drop")
	}
	for _, want := range []string{"n_drops=", "n_drops_buffer=", "drop_ratio="} {
		if !strings.Contains(p.stderr.String(), want) {
			t.Errorf("the drop report lacks %s", want)
		}
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
}

// TestRunEnrichesContainerAlerts: a process in a container-style cgroup whose id a pod of this
// node reports is matched by a container rule; the alert's k8s.* fields name that pod (the
// annotator feeds the rule fields from the pod cache, through a kubeconfig to an API server
// stand-in).
func TestRunEnrichesContainerAlerts(t *testing.T) {
	needRoot(t)
	compat := compatDir(t)
	abs, err := filepath.Abs(filepath.Join(compat, "falco_rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	idb := make([]byte, 32)
	_, _ = rand.Read(idb)
	id := hex.EncodeToString(idb)
	cgRoot := "/sys/fs/cgroup/unified"
	if _, err := os.Stat(cgRoot + "/cgroup.procs"); err != nil {
		cgRoot = "/sys/fs/cgroup"
	}
	cg := cgRoot + "/docker/" + id
	if err := os.MkdirAll(cg, 0o755); err != nil {
		t.Fatalf("create a container cgroup: %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(cg); _ = os.Remove(cgRoot + "/docker") })

	pod := fmt.Sprintf(`{"metadata":{"name":"web-1","namespace":"shop","uid":"9b1f3c9e-1111-2222-3333-444455556666","resourceVersion":"1","labels":{"app":"web"}},
"spec":{"nodeName":"node-a","containers":[{"name":"app","image":"nginx:1.27"}]},
"status":{"podIP":"10.1.2.3","containerStatuses":[{"name":"app","image":"nginx:1.27","imageID":"docker.io/library/nginx@sha256:0123","containerID":"docker://%s","ready":true,"restartCount":0,"state":{"running":{}}}]}}`, id)
	apiURL, _ := fakeAPIServer(t, strings.ReplaceAll(pod, "\n", ""))
	p := startCollector(t, "-r", abs, "--kubernetes.enabled", "--kubernetes.kubeconfig", writeKubeconfig(t, apiURL),
		"--kubernetes.node-name", "node-a")

	cmd := exec.Command("/bin/bash", "-c", "echo $$ > "+cg+"/cgroup.procs && "+
		`python3 -c "import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)" lanner-enrich`)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	const rule = "Packet socket created in container"
	var got []liveAlert
	waitFor(t, "the container alert", func() bool {
		got = p.find(rule, "container.id", id[:12])
		return len(got) > 0
	})
	a := got[0]
	for k, want := range map[string]string{"k8s.pod.name": "web-1", "k8s.ns.name": "shop", "container.name": "app",
		"container.image.repository": "nginx", "container.image.tag": "1.27"} {
		if v := fmt.Sprint(a.OutputFields[k]); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if a.Priority != "Notice" || !strings.Contains(a.Output, "k8s_pod_name=web-1 k8s_ns_name=shop") {
		t.Errorf("priority %s, output %q", a.Priority, a.Output)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
}
