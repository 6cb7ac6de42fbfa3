package replay

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

const openLine = `{"type":"openat","time":"2024-06-10T06:13:20.123456789Z","res":3,"params":[{"name":"fd","value":"3","raw":3},{"name":"name","value":"/etc/shadow"},{"name":"flags","value":"O_RDONLY|O_CLOEXEC","raw":524288}],"thread":{"tid":4242,"exepath":"/usr/bin/cat","args":["/etc/shadow"],"uid":0,"user":"root","cap_effective":"CAP_CHOWN sys_admin","start_time":1718000000000000000,"parent":{"pid":4200,"name":"bash","parent":{"pid":900,"name":"sshd"}}},"fd":{"type":"file","name":"/etc/shadow"},"container":{"id":"3ad7b26ded6d","name":"web","image":"docker.io/library/nginx:1.25","privileged":true,"pod":{"name":"web-1","namespace":"prod","labels":{"app":"web"}}}}`

const auditLine = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"a1","stage":"ResponseComplete","verb":"get","stageTimestamp":"2024-06-10T06:13:21.000000Z","requestReceivedTimestamp":"2024-06-10T06:13:21.000000Z"}`

const auditList = `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + auditLine + `,` + auditLine + `]}`

func TestReadSyscallEvent(t *testing.T) {
	r := NewReader(strings.NewReader(openLine+"\n"), "t.jsonl", Options{})
	e, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	if e.Source != event.SourceSyscall || event.TypeName(e.Type) != "openat" || e.Num != 1 || e.Time != 1718000000123456789 {
		t.Fatalf("event header: %+v", e)
	}
	s := e.Sys
	if s.Res != 3 || len(s.Params) != 3 || s.Params[2].Value != "O_RDONLY|O_CLOEXEC" || !s.Params[2].HasRaw || s.Params[2].Raw != 524288 || s.Params[1].HasRaw {
		t.Errorf("params: res %d %+v", s.Res, s.Params)
	}
	th := s.Thread
	if th.Tid != 4242 || th.Pid != 4242 || th.Name != "cat" || th.CmdLine() != "cat /etc/shadow" || th.PPid != 4200 {
		t.Errorf("thread: %+v", th)
	}
	if th.LoginUID != event.LoginUIDUnset || th.CapEffective != 1|1<<21 || th.StartTime != 1718000000000000000 {
		t.Errorf("thread ids and caps: loginuid %d caps %b start %d", th.LoginUID, th.CapEffective, th.StartTime)
	}
	if th.Parent == nil || th.Parent.Name != "bash" || th.Parent.Parent == nil || th.Parent.Parent.Name != "sshd" || th.Parent.Parent.Parent != nil {
		t.Errorf("ancestry: %+v", th.Parent)
	}
	c := th.Container
	if c == nil || c.ID != "3ad7b26ded6d" || c.ImageRepository != "docker.io/library/nginx" || c.ImageTag != "1.25" ||
		!c.Privileged || !c.PrivilegedKnown || c.Pod == nil || c.Pod.Labels["app"] != "web" {
		t.Errorf("container: %+v", c)
	}
	if th.Parent.Container != nil {
		t.Errorf("parent inherited the container: %+v", th.Parent.Container)
	}
	if s.FD == nil || s.FD.Num != 3 || s.FD.Type != event.FDFile || s.FD.NameRaw != "/etc/shadow" {
		t.Errorf("fd: %+v", s.FD)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the last line: %v, want EOF", err)
	}
}

func TestDefaults(t *testing.T) {
	in := `{"type":"open","time":5,"res":"ENOENT","thread":{"pid":7,"exe":"/bin/very-long-program-name"},"fd":{"name":"/nope"}}
{"type":"connect","time":6,"res":-115,"thread":{"pid":8,"name":"ssh","loginuid":1000},"fd":{"type":"ipv4","cip":"10.0.0.2","cport":40000,"sip":"1.2.3.4","sport":443}}`
	evs, errs := ReadAll(NewReader(strings.NewReader(in), "d", Options{}))
	if len(errs) != 0 || len(evs) != 2 {
		t.Fatalf("events %d, errors %v", len(evs), errs)
	}
	open := evs[0].Sys
	if open.Res != -2 || open.FD.Num != -1 || open.Thread.Name != "very-long-progr" || open.Thread.Container.ID != "host" {
		t.Errorf("open defaults: res %d fd %d name %q container %+v", open.Res, open.FD.Num, open.Thread.Name, open.Thread.Container)
	}
	conn := evs[1].Sys
	if conn.FD.Name != "10.0.0.2:40000->1.2.3.4:443" || conn.FD.L4Proto != event.L4TCP || conn.FD.Num != -1 || conn.Thread.LoginUID != 1000 {
		t.Errorf("connect defaults: %+v loginuid %d", conn.FD, conn.Thread.LoginUID)
	}
	if evs[0].Num != 1 || evs[1].Num != 2 {
		t.Errorf("numbers %d %d, want 1 2", evs[0].Num, evs[1].Num)
	}
}

func TestAutoDetectAndNumbering(t *testing.T) {
	in := strings.Join([]string{"# a comment", openLine, "", auditLine, openLine, auditList}, "\n")
	evs, errs := ReadAll(NewReader(strings.NewReader(in), "mixed", Options{}))
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Source.String()+"#"+itoa(e.Num))
	}
	want := "syscall#1 k8s_audit#1 syscall#2 k8s_audit#2 k8s_audit#3"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, " "), want)
	}
}

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestForcedSource(t *testing.T) {
	evs, errs := ReadAll(NewReader(strings.NewReader(openLine), "f", Options{Source: event.SourceK8sAudit}))
	if len(evs) != 0 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "f:1:") {
		t.Fatalf("syscall line read as audit: %d events, errors %v", len(evs), errs)
	}
	evs, errs = ReadAll(NewReader(strings.NewReader(auditLine), "f", Options{Source: event.SourceSyscall}))
	if len(evs) != 0 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "unknown field") {
		t.Fatalf("audit line read as syscall: %d events, errors %v", len(evs), errs)
	}
}

func TestBadLinesAreReportedAndSkipped(t *testing.T) {
	cases := []struct{ line, want string }{
		{`{"type":"openat"}`, `no "time"`},
		{`{"time":1}`, `no "type"`},
		{`{"type":"fly","time":1}`, `unknown event type "fly"`},
		{`{"type":"open","time":"yesterday"}`, `not RFC 3339`},
		{`{"type":"open","time":1,"res":"EWHAT"}`, `not an errno name`},
		{`{"type":"open","time":1,"typo":1}`, `unknown field "typo"`},
		{`{"type":"open","time":1,"params":[{"name":"x"}]}`, `neither value nor raw`},
		{`{"type":"open","time":1,"params":[{"value":"x"}]}`, `no name`},
		{`{"type":"open","time":1,"thread":{"cap_effective":"CAP_FLY"}}`, `unknown capability`},
		{`{"type":"open","time":1,"fd":{"type":"socket"}}`, `unknown fd type`},
		{`{"type":"open","time":1,"fd":{"type":"file","cip":"1.2.3.4"}}`, `cip/sip given`},
		{`{"type":"open","time":1,"fd":{"type":"ipv4","cip":"1.2.3"}}`, `cip`},
		{`{"type":"open","time":1,"container":{"id":"abc"}}`, `without a "thread"`},
		{`{"type":"open","time":1,"thread":{"container":{"name":"x"}}}`, `no "id"`},
		{`{"type":"open","time":1} {}`, `text after`},
		{`{"type":"open",`, `syscall event`},
		{`not json`, `syscall event`},
		{`{"kind":"Event","apiVersion":"audit.k8s.io/v1"}`, `stageTimestamp`},
	}
	var b strings.Builder
	for _, c := range cases {
		b.WriteString(c.line)
		b.WriteByte('\n')
	}
	b.WriteString(openLine + "\n")
	evs, errs := ReadAll(NewReader(strings.NewReader(b.String()), "bad.jsonl", Options{}))
	if len(evs) != 1 || evs[0].Num != 1 {
		t.Fatalf("want the one good line as event 1, got %d events", len(evs))
	}
	if len(errs) != len(cases) {
		t.Fatalf("got %d errors, want %d: %v", len(errs), len(cases), errs)
	}
	for i, c := range cases {
		var le *LineError
		if !errors.As(errs[i], &le) || le.File != "bad.jsonl" || le.Line != i+1 {
			t.Errorf("line %d: error %v is not a LineError for bad.jsonl:%d", i+1, errs[i], i+1)
			continue
		}
		if !strings.Contains(errs[i].Error(), c.want) || !strings.HasPrefix(errs[i].Error(), "bad.jsonl:"+itoa(uint64(i+1))+": ") {
			t.Errorf("line %d: error %q, want prefix bad.jsonl:%d: and %q", i+1, errs[i], i+1, c.want)
		}
	}
}

func TestEventListWithBadItemKeepsGoodItems(t *testing.T) {
	in := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + auditLine + `,{"kind":"Event"}]}`
	evs, errs := ReadAll(NewReader(strings.NewReader(in), "l", Options{}))
	if len(evs) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "l:1: ") {
		t.Fatalf("events %d errors %v", len(evs), errs)
	}
}

func TestOpenFilesInOrder(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")
	if err := os.WriteFile(a, []byte(openLine+"\n"+openLine), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("\n"+openLine+"\n{bad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Open([]string{a, filepath.Join(dir, "missing.jsonl"), b}, Options{})
	defer r.Close()
	evs, errs := ReadAll(r)
	if len(evs) != 3 || evs[2].Num != 3 {
		t.Fatalf("events %d", len(evs))
	}
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), "missing.jsonl") || !strings.HasPrefix(errs[1].Error(), b+":3: ") {
		t.Fatalf("errors: %v", errs)
	}
}

func TestLongLine(t *testing.T) {
	long := `{"type":"open","time":1,"comment":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	evs, errs := ReadAll(NewReader(strings.NewReader(long+"\n"+openLine), "long", Options{}))
	if len(evs) != 1 || len(errs) != 1 || !strings.Contains(errs[0].Error(), "long:1: line longer") {
		t.Fatalf("events %d errors %v", len(evs), errs)
	}
}

func TestSplitImage(t *testing.T) {
	for _, c := range []struct{ in, repo, tag string }{
		{"nginx", "nginx", ""},
		{"nginx:1.25", "nginx", "1.25"},
		{"registry:5000/team/app:v2", "registry:5000/team/app", "v2"},
		{"registry:5000/team/app", "registry:5000/team/app", ""},
		{"docker.io/library/nginx@sha256:abcd", "docker.io/library/nginx", ""},
	} {
		if r, tg := splitImage(c.in); r != c.repo || tg != c.tag {
			t.Errorf("splitImage(%q) = %q, %q; want %q, %q", c.in, r, tg, c.repo, c.tag)
		}
	}
}

func FuzzReader(f *testing.F) {
	for _, s := range []string{openLine, auditLine, auditList, `{"type":"open","time":1}`, "[]", "#x\n\n{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r := NewReader(strings.NewReader(in), "fuzz", Options{})
		var last [event.NumSources]uint64
		for i := 0; i < 10000; i++ {
			e, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var le *LineError
				if !errors.As(err, &le) || le.Line < 1 {
					t.Fatalf("error without line: %v", err)
				}
				continue
			}
			if e.Num != last[e.Source]+1 {
				t.Fatalf("event number %d after %d", e.Num, last[e.Source])
			}
			last[e.Source] = e.Num
			if (e.Source == event.SourceSyscall) != (e.Sys != nil) {
				t.Fatalf("source %v with payload mismatch", e.Source)
			}
		}
	})
}

// TestDocExampleDecodes keeps docs/replay-format.md honest: its example event must read, and must
// say what the text around it says.
func TestDocExampleDecodes(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "replay-format.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	start := strings.Index(s, "```json\n")
	end := strings.Index(s[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no json example in docs/replay-format.md")
	}
	line := strings.ReplaceAll(s[start+8:start+8+end], "\n", "")
	evs, errs := ReadAll(NewReader(strings.NewReader(line), "docs/replay-format.md", Options{}))
	if len(errs) != 0 || len(evs) != 1 {
		t.Fatalf("doc example: %d events, errors %v", len(evs), errs)
	}
	th := evs[0].Sys.Thread
	if th.Name != "cat" || th.Parent.Parent.Name != "sshd" || th.Container.Pod.Namespace != "prod" || th.Container.ImageTag != "1.25" {
		t.Errorf("doc example decoded to %+v", th)
	}
}
