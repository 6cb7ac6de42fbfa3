package alert

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

var fmtValues = testValues{
	1: {
		"evt.type": "openat", "proc.name": "Cat", "proc.cmdline": `cat "/etc/shadow"`, "fd.name": "/etc/shadow",
		"evt.arg[flags]": "O_RDONLY", "proc.aname": []string{"cat", "bash", "sshd"},
		"proc.tty": int64(34816), "user.loginuid": int64(-1), "fd.sport": int64(443),
		"evt.is_open_read": true, "fd.sip": netip.MustParseAddr("10.0.0.1"),
		"proc.vmsize": int64(-1), "container.id": "host", "container.name": "host",
		"proc.env[B64]": "aGVsbG8=", "proc.env[B64NP]": "aGVsbG8", "proc.env[BAD]": "!!not base64",
	},
	2: {
		"proc.name": "evil\nline\x1b[31m", "fd.name": "bad\xffutf8",
	},
}

func TestFormatter(t *testing.T) {
	r := newTestRegistry(t, fmtValues)
	tests := []struct {
		name   string
		format string
		num    uint64
		text   string
		fields map[string]any
	}{
		{"plain field", "file=%fd.name", 1, "file=/etc/shadow", map[string]any{"fd.name": "/etc/shadow"}},
		{"paren stops token", "(%proc.name)", 1, "(Cat)", map[string]any{"proc.name": "Cat"}},
		{"index argument", "gp=%proc.aname[2]", 1, "gp=sshd", map[string]any{"proc.aname[2]": "sshd"}},
		{"missing index", "x=%proc.aname[7]", 1, "x=<NA>", map[string]any{"proc.aname[7]": nil}},
		{"any-of without argument", "a=%proc.aname", 1, "a=cat bash sshd", map[string]any{"proc.aname": "cat bash sshd"}},
		{"dotted key form", "flags=%evt.arg.flags", 1, "flags=O_RDONLY", map[string]any{"evt.arg.flags": "O_RDONLY"}},
		{"bracket key form", "flags=%evt.arg[flags]", 1, "flags=O_RDONLY", map[string]any{"evt.arg[flags]": "O_RDONLY"}},
		{"dotted key of missing param", "t=%evt.arg.target", 1, "t=<NA>", map[string]any{"evt.arg.target": nil}},
		{"longest prefix that resolves", "n=%proc.name.suffix", 1, "n=Cat.suffix", map[string]any{"proc.name": "Cat"}},
		{"comma after token", "%proc.name,%evt.type", 1, "Cat,openat", map[string]any{"proc.name": "Cat", "evt.type": "openat"}},
		{"missing value", "user=%proc.name", 3, "user=<NA>", map[string]any{"proc.name": nil}},
		{"star prefix dropped", "*hello %proc.name", 1, "hello Cat", map[string]any{"proc.name": "Cat"}},
		{"only one star dropped", "**x", 1, "*x", map[string]any{}},
		{"width pads", "[%6proc.name]", 1, "[Cat   ]", map[string]any{"proc.name": "Cat"}},
		{"width cuts", "[%2proc.name]", 1, "[Ca]", map[string]any{"proc.name": "Ca"[:0] + "Cat"}},
		{"width zero is no width", "[%0proc.name]", 1, "[Cat]", map[string]any{"proc.name": "Cat"}},
		{"width pads missing", "[%5fd.sip]", 3, "[<NA> ]", map[string]any{"fd.sip": nil}},
		{"unsigned", "tty=%proc.tty", 1, "tty=34816", map[string]any{"proc.tty": uint64(34816)}},
		{"signed", "l=%user.loginuid", 1, "l=-1", map[string]any{"user.loginuid": int64(-1)}},
		{"uint64 max", "v=%proc.vmsize", 1, "v=18446744073709551615", map[string]any{"proc.vmsize": uint64(18446744073709551615)}},
		{"port", "p=%fd.sport", 1, "p=443", map[string]any{"fd.sport": uint64(443)}},
		{"bool", "r=%evt.is_open_read", 1, "r=true", map[string]any{"evt.is_open_read": true}},
		{"ip", "ip=%fd.sip", 1, "ip=10.0.0.1", map[string]any{"fd.sip": "10.0.0.1"}},
		{"tolower", "%tolower(proc.name)", 1, "cat", map[string]any{"proc.name": "Cat", "tolower(proc.name)": "cat"}},
		{"toupper with blanks", "%toupper( proc.name )!", 1, "CAT!", map[string]any{"proc.name": "Cat", "toupper(proc.name)": "CAT"}},
		{"nested transformers", "%tolower(toupper(proc.name))", 1, "cat", map[string]any{"proc.name": "Cat", "tolower(toupper(proc.name))": "cat"}},
		{"len", "%len(fd.name)", 1, "11", map[string]any{"fd.name": "/etc/shadow", "len(fd.name)": uint64(11)}},
		{"basename", "%basename(fd.name)", 1, "shadow", map[string]any{"fd.name": "/etc/shadow", "basename(fd.name)": "shadow"}},
		{"transformer of missing", "%tolower(proc.name)", 3, "<NA>", map[string]any{"proc.name": nil, "tolower(proc.name)": nil}},
		{"quotes are escaped", "cmd=%proc.cmdline", 1, `cmd=cat \"/etc/shadow\"`, map[string]any{"proc.cmdline": `cat "/etc/shadow"`}},
		{"control characters are escaped", "p=%proc.name", 2, `p=evil\nline\u001b[31m`, map[string]any{"proc.name": "evil\nline\x1b[31m"}},
		{"invalid utf8 is replaced", "f=%fd.name", 2, "f=bad\uFFFDutf8", map[string]any{"fd.name": "bad\xffutf8"}},
		{"literal backslash escaped", `a\b %proc.name`, 1, `a\\b Cat`, map[string]any{"proc.name": "Cat"}},
		{"b64", "%b64(proc.env[B64])", 1, "hello", map[string]any{"proc.env[B64]": "aGVsbG8=", "b64(proc.env[B64])": "hello"}},
		{"b64 without padding", "%b64(proc.env[B64NP])", 1, "hello", map[string]any{"proc.env[B64NP]": "aGVsbG8", "b64(proc.env[B64NP])": "hello"}},
		{"b64 of invalid input is missing", "%b64(proc.env[BAD])", 1, "<NA>", map[string]any{"proc.env[BAD]": "!!not base64", "b64(proc.env[BAD])": nil}},
		// Output tokens are parsed by the condition parser (Falco's parse_field_or_transformer), so
		// a quoted argument is unescaped like a quoted string in a condition; lanner's own token
		// lexer used to decode only \\, \" and \' and looked up the variable `B\x36\x34`.
		{"quoted argument escapes are decoded", `%proc.env["B\x36\x34"]`, 1, "aGVsbG8=", map[string]any{"proc.env[B64]": "aGVsbG8="}},
		{"quoted argument with bracket", `%proc.env["B]"]`, 1, "<NA>", map[string]any{"proc.env[B]]": nil}},
		{"bad escape ends the token before the argument", `%proc.env["\q"]`, 1, `<NA>[\"\\q\"]`, map[string]any{"proc.env": nil}},
		{"dotted key inside transformer", "%toupper(proc.env.B64)", 1, "AGVSBG8=", map[string]any{"proc.env.B64": "aGVsbG8=", "toupper(proc.env.B64)": "AGVSBG8="}},
		{"container.info is dropped", "x%container.info y", 1, "x y", map[string]any{}},
		{"repeated field one key", "%proc.name %proc.name", 1, "Cat Cat", map[string]any{"proc.name": "Cat"}},
		{"no tokens", "just text", 1, "just text", map[string]any{}},
		{"empty", "", 1, "", map[string]any{}},
		{"token at the very end", "x %proc.name", 1, "x Cat", map[string]any{"proc.name": "Cat"}},
		{"literal percent-like text after field", "%proc.name%evt.type", 1, "Catopenat", map[string]any{"proc.name": "Cat", "evt.type": "openat"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFormatter(tc.format, event.SourceSyscall, r)
			if err != nil {
				t.Fatalf("NewFormatter(%q): %v", tc.format, err)
			}
			text, got := f.Format(&event.Event{Source: event.SourceSyscall, Num: tc.num})
			if text != tc.text {
				t.Errorf("text = %q, want %q", text, tc.text)
			}
			if !reflect.DeepEqual(got, tc.fields) {
				t.Errorf("fields = %#v, want %#v", got, tc.fields)
			}
		})
	}
}

func TestFormatterWidthCutsValue(t *testing.T) {
	// The width also applies to the JSON? No: Falco's width only changes the text.
	r := newTestRegistry(t, fmtValues)
	f, err := NewFormatter("%2proc.name", event.SourceSyscall, r)
	if err != nil {
		t.Fatal(err)
	}
	_, m := f.Format(&event.Event{Num: 1})
	if m["proc.name"] != "Cat" {
		t.Fatalf("output_fields proc.name = %v, want the whole value", m["proc.name"])
	}
}

func TestFormatterErrors(t *testing.T) {
	r := newTestRegistry(t, fmtValues)
	tests := []struct {
		format string
		offset int
		msg    string
	}{
		{"ends with %", 10, "formatting cannot end with a %"},
		{"x %12", 2, "formatting cannot end with a number"},
		{"100% sure", 3, "unknown filter"},
		{"%% escape", 0, "unknown filter"},
		{"%proc.nme", 0, `unknown field "proc.nme"`},
		{"a %evt.around", 2, "is filter only and cannot be used as a display field"},
		{"%evt.arg", 0, "requires an argument"},
		{"%proc.name[1]", 0, ""}, // proc.name takes no argument: the token is proc.name, "[1]" literal
		{"%fd.nameraw", 0, ""},   // filter-only: the longest prefix that prints is fd.name, "raw" literal
		{"%tolower(proc.tty)", 0, "type UINT32 is not supported by tolower"},
		{"%tolower(proc.aname[1])", 0, "does not support transformers"},
		{"%tolower(proc.name", 0, "unknown filter"},
		{"*%", 1, "formatting cannot end with a %"},
		{"%ka.user.name", 0, "unknown field"}, // a k8s_audit field is not a syscall field
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			_, err := NewFormatter(tc.format, event.SourceSyscall, r)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("NewFormatter(%q) succeeded, want error containing %q", tc.format, tc.msg)
			}
			fe, ok := err.(*FormatError)
			if !ok {
				t.Fatalf("error %T %v is not a *FormatError", err, err)
			}
			if fe.Offset != tc.offset || !strings.Contains(fe.Msg, tc.msg) {
				t.Fatalf("error = offset %d %q, want offset %d containing %q", fe.Offset, fe.Msg, tc.offset, tc.msg)
			}
		})
	}
}

func TestFormatterArgumentNotTakenIsLiteral(t *testing.T) {
	r := newTestRegistry(t, fmtValues)
	f, err := NewFormatter("%proc.name[1]", event.SourceSyscall, r)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := f.Format(&event.Event{Num: 1})
	if text != "Cat[1]" {
		t.Fatalf("text = %q, want %q", text, "Cat[1]")
	}
}

func TestFormatterListField(t *testing.T) {
	tv := testValues{
		1: {"ka.req.pod.containers.image": []string{"nginx", "busybox:1"}},
		2: {"ka.req.pod.containers.image": []string{}},
	}
	r := newTestRegistry(t, tv)
	f, err := NewFormatter("images=%ka.req.pod.containers.image", event.SourceK8sAudit, r)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		num  uint64
		text string
		json any
	}{
		{1, "images=(nginx,busybox:1)", []any{"nginx", "busybox:1"}},
		{2, "images=()", nil},
		{3, "images=<NA>", nil},
	}
	for _, tc := range tests {
		text, m := f.Format(&event.Event{Source: event.SourceK8sAudit, Num: tc.num})
		if text != tc.text {
			t.Errorf("event %d: text = %q, want %q", tc.num, text, tc.text)
		}
		if got := m["ka.req.pod.containers.image"]; !reflect.DeepEqual(got, tc.json) {
			t.Errorf("event %d: json = %#v, want %#v", tc.num, got, tc.json)
		}
	}
}

func TestFormatterFieldsOrder(t *testing.T) {
	r := newTestRegistry(t, fmtValues)
	f, err := NewFormatter("%proc.name %tolower(fd.name) %proc.name %evt.arg.flags", event.SourceSyscall, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"proc.name", "fd.name", "tolower(fd.name)", "evt.arg.flags"}
	if got := f.Fields(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Fields() = %q, want %q", got, want)
	}
}

func FuzzNewFormatter(f *testing.F) {
	for _, s := range []string{"%proc.name", "(%proc.aname[2])", "%20evt.arg.flags x", "%tolower(toupper(fd.name))", "%", "%1", "%evt.arg['a]b']", "*%proc.name"} {
		f.Add(s)
	}
	r := newTestRegistry(f, fmtValues)
	f.Fuzz(func(t *testing.T, format string) {
		fm, err := NewFormatter(format, event.SourceSyscall, r)
		if err != nil {
			if _, ok := err.(*FormatError); !ok {
				t.Fatalf("error %T is not a *FormatError", err)
			}
			return
		}
		fm.Format(&event.Event{Num: 1})
		fm.Format(&event.Event{Num: 2})
	})
}
