package alert

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lannersec/lanner/collector/event"
)

const ruleOutput = "Sensitive file opened | file=%fd.name gparent=%proc.aname[2] terminal=%proc.tty user_loginuid=%user.loginuid evt_type=%evt.type"

func TestBuildAlertJSONExactBytes(t *testing.T) {
	tv := testValues{
		1: {"fd.name": "/etc/shadow", "proc.aname": []string{"cat", "bash", "sshd"}, "proc.tty": int64(34816),
			"user.loginuid": int64(-1), "evt.type": "openat", "container.id": "host", "container.name": "host"},
		2: {"fd.name": "/tmp/\"quoted\"\n", "evt.type": "openat"},
	}
	r := newTestRegistry(t, tv)
	msg, err := NewFormatter(ruleOutput, event.SourceSyscall, r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(r, "node-1")
	if err != nil {
		t.Fatal(err)
	}
	tags := []string{"mitre_credential_access", "filesystem", "T1555", "host", "filesystem", "container", "maturity_stable"}
	tests := []struct {
		name string
		ev   event.Event
		prio Priority
		want string
	}{
		{
			name: "full alert",
			ev:   event.Event{Source: event.SourceSyscall, Num: 1, Time: 1718000000123456789},
			prio: Warning,
			want: `{"hostname":"node-1",` +
				`"output":"06:13:20.123456789: Warning Sensitive file opened | file=/etc/shadow gparent=sshd terminal=34816 user_loginuid=-1 evt_type=openat container_id=host container_name=host container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>",` +
				`"output_fields":{"container.id":"host","container.image.repository":null,"container.image.tag":null,"container.name":"host","evt.time":1718000000123456789,"evt.type":"openat","fd.name":"/etc/shadow","k8s.ns.name":null,"k8s.pod.name":null,"proc.aname[2]":"sshd","proc.tty":34816,"user.loginuid":-1},` +
				`"priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall",` +
				`"tags":["T1555","container","filesystem","host","maturity_stable","mitre_credential_access"],` +
				`"time":"2024-06-10T06:13:20.123456789Z"}`,
		},
		{
			name: "missing values, escaping, small nanoseconds",
			ev:   event.Event{Source: event.SourceSyscall, Num: 2, Time: 5},
			prio: Informational,
			want: `{"hostname":"node-1",` +
				`"output":"00:00:00.000000005: Informational Sensitive file opened | file=/tmp/\"quoted\"\n gparent=<NA> terminal=<NA> user_loginuid=<NA> evt_type=openat container_id=<NA> container_name=<NA> container_image_repository=<NA> container_image_tag=<NA> k8s_pod_name=<NA> k8s_ns_name=<NA>",` +
				`"output_fields":{"container.id":null,"container.image.repository":null,"container.image.tag":null,"container.name":null,"evt.time":5,"evt.type":"openat","fd.name":"/tmp/\"quoted\"\n","k8s.ns.name":null,"k8s.pod.name":null,"proc.aname[2]":null,"proc.tty":null,"user.loginuid":null},` +
				`"priority":"Informational","rule":"Read sensitive file untrusted","source":"syscall",` +
				`"tags":["T1555","container","filesystem","host","maturity_stable","mitre_credential_access"],` +
				`"time":"1970-01-01T00:00:00.000000005Z"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := b.Build(&tc.ev, "Read sensitive file untrusted", tc.prio, tags, msg)
			got := string(a.AppendJSON(nil))
			if got != tc.want {
				t.Fatalf("JSON mismatch\n got: %s\nwant: %s", got, tc.want)
			}
			// Whatever we write must be valid JSON for every consumer.
			var v map[string]any
			if err := json.Unmarshal([]byte(got), &v); err != nil {
				t.Fatalf("invalid JSON: %v", err)
			}
			mj, _ := a.MarshalJSON()
			if string(mj) != got {
				t.Fatalf("MarshalJSON differs from AppendJSON")
			}
			if !strings.HasPrefix(a.Output, strings.SplitN(a.Output, ": ", 2)[0]+": "+tc.prio.String()+" ") || !strings.HasPrefix(a.Message, "Sensitive file opened") {
				t.Fatalf("Output %q / Message %q not split as Falco's prefix + message", a.Output, a.Message)
			}
		})
	}
}

func TestBuilderWithoutSuggested(t *testing.T) {
	tv := testValues{1: {"proc.name": "sh", "container.id": "abc"}}
	r := newTestRegistry(t, tv)
	msg, err := NewFormatter("shell %proc.name", event.SourceSyscall, r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(r, "h", WithoutSuggestedFields())
	if err != nil {
		t.Fatal(err)
	}
	a := b.Build(&event.Event{Source: event.SourceSyscall, Num: 1, Time: 3600e9}, "R", Critical, nil, msg)
	want := `{"hostname":"h","output":"01:00:00.000000000: Critical shell sh","output_fields":{"evt.time":3600000000000,"proc.name":"sh"},"priority":"Critical","rule":"R","source":"syscall","tags":[],"time":"1970-01-01T01:00:00.000000000Z"}`
	if got := string(a.AppendJSON(nil)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if s := b.SuggestedFormat(event.SourceSyscall); s != "" {
		t.Fatalf("SuggestedFormat = %q, want empty", s)
	}
}

func TestSuggestedFormatOrder(t *testing.T) {
	r := newTestRegistry(t, testValues{})
	b, err := NewBuilder(r, "h")
	if err != nil {
		t.Fatal(err)
	}
	want := " container_id=%container.id container_name=%container.name container_image_repository=%container.image.repository container_image_tag=%container.image.tag k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name"
	if got := b.SuggestedFormat(event.SourceSyscall); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got := b.SuggestedFormat(event.SourceK8sAudit); got != "" {
		t.Fatalf("k8s_audit suggested = %q, want none", got)
	}
}

func TestK8sAuditAlert(t *testing.T) {
	tv := testValues{1: {"ka.user.name": "system:anonymous", "ka.req.pod.containers.image": []string{"nginx", "evil/miner:1"}}}
	r := newTestRegistry(t, tv)
	msg, err := NewFormatter("user=%ka.user.name images=%ka.req.pod.containers.image", event.SourceK8sAudit, r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(r, "node-2")
	if err != nil {
		t.Fatal(err)
	}
	a := b.Build(&event.Event{Source: event.SourceK8sAudit, Num: 1, Time: 1700000000000000000}, "Create Privileged Pod", Warning, []string{"k8s"}, msg)
	want := `{"hostname":"node-2","output":"22:13:20.000000000: Warning user=system:anonymous images=(nginx,evil/miner:1)","output_fields":{"evt.time":1700000000000000000,"ka.req.pod.containers.image":["nginx","evil/miner:1"],"ka.user.name":"system:anonymous"},"priority":"Warning","rule":"Create Privileged Pod","source":"k8s_audit","tags":["k8s"],"time":"2023-11-14T22:13:20.000000000Z"}`
	if got := string(a.AppendJSON(nil)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestJSONStringEscaping(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"<>&/", `"<>&/"`},
		{"\u2028é漢😀", "\"\u2028é漢😀\""},
		{"a\xffb", "\"a\uFFFDb\""},
		{"\xe2\x82x", "\"\uFFFDx\""},               // truncated 3-byte sequence: one replacement
		{"\xe2\x82", "\"\uFFFD\""},                 // truncated at the end
		{"\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\""}, // surrogate: ED then two stray continuations
		{"\xc0\xaf", "\"\uFFFD\uFFFD\""},           // overlong lead bytes are invalid alone
	}
	for _, tc := range tests {
		if got := string(appendJSONString(nil, tc.in)); got != tc.want {
			t.Errorf("appendJSONString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJSONValues(t *testing.T) {
	m := map[string]any{"b": true, "a": nil, "n": int64(-3), "u": uint64(18446744073709551615), "f": 1.5, "g": 2.0,
		"l": []any{"x", int64(1)}, "z": map[string]any{"y": "1", "x": "2"}, "ip": netip.MustParseAddr("::1").String()}
	want := `{"a":null,"b":true,"f":1.5,"g":2.0,"ip":"::1","l":["x",1],"n":-3,"u":18446744073709551615,"z":{"x":"2","y":"1"}}`
	if got := string(appendJSONObject(nil, m)); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestAppendTime(t *testing.T) {
	loc := time.FixedZone("X", 5*3600)
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Unix(0, 1718000000123456789), "2024-06-10T06:13:20.123456789Z"},
		{time.Unix(0, 1718000000000000001).In(loc), "2024-06-10T06:13:20.000000001Z"},
		{time.Unix(0, 0), "1970-01-01T00:00:00.000000000Z"},
	}
	for _, tc := range tests {
		if got := string(AppendTime(nil, tc.t)); got != tc.want {
			t.Errorf("AppendTime(%v) = %s, want %s", tc.t, got, tc.want)
		}
	}
}

func BenchmarkBuildAlertJSON(b *testing.B) {
	tv := testValues{
		1: {"fd.name": "/etc/shadow", "proc.aname": []string{"cat", "bash", "sshd"}, "proc.tty": int64(34816),
			"user.loginuid": int64(-1), "evt.type": "openat", "container.id": "host", "container.name": "host"},
	}
	r := newTestRegistry(b, tv)
	msg, err := NewFormatter(ruleOutput, event.SourceSyscall, r)
	if err != nil {
		b.Fatal(err)
	}
	bl, err := NewBuilder(r, "node-1")
	if err != nil {
		b.Fatal(err)
	}
	tags := []string{"maturity_stable", "host", "container", "filesystem", "mitre_credential_access", "T1555"}
	e := &event.Event{Source: event.SourceSyscall, Num: 1, Time: 1718000000123456789}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		a := bl.Build(e, "Read sensitive file untrusted", Warning, tags, msg)
		buf = a.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

// FuzzJSONString checks that every string encodes to valid JSON that decodes back to the input
// (after invalid UTF-8 is replaced).
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\x00\x1f\x7f", "\xe2\x82x", "\xed\xa0\x80", "é😀", "\xf4\x90\x80\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		enc := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("%q encodes to invalid JSON %q: %v", s, enc, err)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("%q round-trips to %q", s, got)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("decoded %q is not valid UTF-8", got)
		}
	})
}

// TestTextLineEscapes checks that the text form of an alert cannot carry a raw newline or quote
// from a field value, while the JSON form keeps the value exactly (escaped once by JSON).
func TestTextLineEscapes(t *testing.T) {
	a := &Alert{Output: "file=/tmp/\"q\"\nforged line\x1b[31m"}
	got := a.TextLine()
	want := `file=/tmp/\"q\"\nforged line\u001b[31m`
	if got != want {
		t.Fatalf("TextLine() = %q, want %q", got, want)
	}
}

// TestBuildAction checks that every alert carries what its event did, whatever the rule's output
// prints: the syscall name for syscall events, the verb for audit events, nothing otherwise.
func TestBuildAction(t *testing.T) {
	r := newTestRegistry(t, testValues{})
	b, err := NewBuilder(r, "h", WithoutSuggestedFields())
	if err != nil {
		t.Fatal(err)
	}
	openat, _ := event.TypeByName("openat")
	for _, tc := range []struct {
		name string
		e    *event.Event
		want string
	}{
		{"syscall", &event.Event{Source: event.SourceSyscall, Type: openat, Num: 1}, "openat"},
		{"procexit", &event.Event{Source: event.SourceSyscall, Type: event.TypeProcExit, Num: 1}, "procexit"},
		{"audit verb", &event.Event{Source: event.SourceK8sAudit, Num: 1, Audit: &event.Audit{Doc: map[string]any{"verb": "delete"}}}, "delete"},
		{"audit without verb", &event.Event{Source: event.SourceK8sAudit, Num: 1, Audit: &event.Audit{Doc: map[string]any{}}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.Build(tc.e, "R", Notice, nil, nil).Action; got != tc.want {
				t.Fatalf("Action = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBuildAuditTarget(t *testing.T) {
	r := newTestRegistry(t, testValues{})
	b, err := NewBuilder(r, "h", WithoutSuggestedFields())
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{"verb": "create", "user": map[string]any{"username": "alice"},
		"sourceIPs": []any{"10.0.0.9", "10.0.0.1"},
		"objectRef": map[string]any{"resource": "pods", "subresource": "exec", "namespace": "shop", "name": "web-1",
			"apiVersion": "v1"}}
	got := b.Build(&event.Event{Source: event.SourceK8sAudit, Num: 1, Audit: &event.Audit{Doc: doc}}, "R", Notice, nil, nil).Audit
	want := &AuditTarget{User: "alice", Resource: "pods", Subresource: "exec", Namespace: "shop", Name: "web-1", APIVersion: "v1", SourceIP: "10.0.0.9"}
	if got == nil || *got != *want {
		t.Fatalf("Audit = %+v, want %+v", got, want)
	}
	if a := b.Build(&event.Event{Source: event.SourceK8sAudit, Num: 1, Audit: &event.Audit{Doc: map[string]any{"verb": "get"}}}, "R", Notice, nil, nil); a.Audit != nil {
		t.Fatalf("an event without user or object has Audit %+v", a.Audit)
	}
	openat, _ := event.TypeByName("openat")
	if a := b.Build(&event.Event{Source: event.SourceSyscall, Type: openat, Num: 1}, "R", Notice, nil, nil); a.Audit != nil {
		t.Fatal("a syscall alert has an audit target")
	}
}
