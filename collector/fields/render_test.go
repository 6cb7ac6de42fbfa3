package fields

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

func TestRender(t *testing.T) {
	num := func(n int64) func(*event.Event) (int64, bool) {
		return func(*event.Event) (int64, bool) { return n, true }
	}
	str := func(s string) func(*event.Event) (string, bool) {
		return func(*event.Event) (string, bool) { return s, true }
	}
	ip := func(s string) func(*event.Event) (netip.Addr, bool) {
		return func(*event.Event) (netip.Addr, bool) { return netip.MustParseAddr(s), true }
	}
	strs := func(v ...string) func(*event.Event, []string) ([]string, bool) {
		return func(_ *event.Event, dst []string) ([]string, bool) { return append(dst, v...), true }
	}
	long := make([]byte, 1500)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name string
		x    Extractor
		text string
		json any
	}{
		{"charbuf", Extractor{Type: TypeCharBuf, Str: str("bash")}, "bash", "bash"},
		{"charbuf cut at NUL", Extractor{Type: TypeCharBuf, Str: str("ab\x00cd")}, "ab", "ab"},
		{"fspath", Extractor{Type: TypeFSPath, Str: str("/etc/shadow")}, "/etc/shadow", "/etc/shadow"},
		{"empty string", Extractor{Type: TypeCharBuf, Str: str("")}, "", ""},
		{"int8", Extractor{Type: TypeInt8, Num: num(-5)}, "-5", int64(-5)},
		{"int16 wraps to its width", Extractor{Type: TypeInt16, Num: num(65535)}, "-1", int64(-1)},
		{"int32", Extractor{Type: TypeInt32, Num: num(-2147483648)}, "-2147483648", int64(-2147483648)},
		{"int64", Extractor{Type: TypeInt64, Num: num(-1)}, "-1", int64(-1)},
		{"uint8", Extractor{Type: TypeUint8, Num: num(255)}, "255", uint64(255)},
		{"uint16", Extractor{Type: TypeUint16, Num: num(65535)}, "65535", uint64(65535)},
		{"uint32 of -1", Extractor{Type: TypeUint32, Num: num(-1)}, "4294967295", uint64(4294967295)},
		{"uint64 of -1", Extractor{Type: TypeUint64, Num: num(-1)}, "18446744073709551615", uint64(18446744073709551615)},
		{"port", Extractor{Type: TypePort, Num: num(443)}, "443", uint64(443)},
		{"l4proto", Extractor{Type: TypeL4Proto, Num: num(6)}, "6", uint64(6)},
		{"reltime", Extractor{Type: TypeRelTime, Num: num(1500000000)}, "1500000000", uint64(1500000000)},
		{"abstime", Extractor{Type: TypeAbsTime, Num: num(1718000000123456789)}, "1718000000123456789", uint64(1718000000123456789)},
		{"errno", Extractor{Type: TypeErrno, Num: num(-2)}, "-2", int64(-2)},
		{"fd", Extractor{Type: TypeFD, Num: num(3)}, "3", int64(3)},
		{"pid", Extractor{Type: TypePID, Num: num(4242)}, "4242", int64(4242)},
		{"flags32", Extractor{Type: TypeFlags32, Num: num(0x80000000)}, "2147483648", uint64(2147483648)},
		{"double", Extractor{Type: TypeDouble, Num: num(3)}, "3.0", int64(3)},
		{"bool true", Extractor{Type: TypeBool, Bool: func(*event.Event) (bool, bool) { return true, true }}, "true", true},
		{"bool false", Extractor{Type: TypeBool, Bool: func(*event.Event) (bool, bool) { return false, true }}, "false", false},
		{"ipv4", Extractor{Type: TypeIPAddr, IP: ip("192.168.0.1")}, "192.168.0.1", "192.168.0.1"},
		{"ipv6", Extractor{Type: TypeIPAddr, IP: ip("2001:db8::1")}, "2001:db8::1", "2001:db8::1"},
		{"ipv4-mapped ipv6", Extractor{Type: TypeIPAddr, IP: ip("::ffff:10.0.0.1")}, "::ffff:10.0.0.1", "::ffff:10.0.0.1"},
		{"ipnet placeholder", Extractor{Type: TypeIPNet, IP: ip("10.0.0.1")}, "<IPNET>", "<IPNET>"},
		{"bytebuf", Extractor{Type: TypeByteBuf, Bytes: func(*event.Event) ([]byte, bool) { return []byte("GET /\r\n\x00\xff~"), true }}, "GET /....~", "GET /....~"},
		{"bytebuf cut at 1023", Extractor{Type: TypeByteBuf, Bytes: func(*event.Event) ([]byte, bool) { return long, true }}, string(long[:1023]), string(long[:1023])},
		{"list", Extractor{Type: TypeCharBuf, List: true, Strs: strs("nginx", "busybox")}, "(nginx,busybox)", []any{"nginx", "busybox"}},
		{"list of one", Extractor{Type: TypeCharBuf, List: true, Strs: strs("nginx")}, "(nginx)", []any{"nginx"}},
		{"any-of", Extractor{Type: TypeCharBuf, List: true, AnyOf: true, Strs: strs("bash", "sshd", "systemd")}, "bash sshd systemd", "bash sshd systemd"},
		{"ip list", Extractor{Type: TypeIPAddr, List: true, IPs: func(_ *event.Event, dst []netip.Addr) ([]netip.Addr, bool) {
			return append(dst, netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::1")), true
		}}, "(10.0.0.1,::1)", []any{"10.0.0.1", "::1"}},
		{"text and json overrides", Extractor{Type: TypeAbsTime, Num: num(1),
			Text: func(*event.Event) (string, bool) { return "00:00:00.000000001", true },
			JSON: func(*event.Event) (any, bool) { return "custom", true }}, "00:00:00.000000001", "custom"},
	}
	e := &event.Event{Source: event.SourceSyscall, Num: 1}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text, ok := tc.x.Render(e)
			if !ok || text != tc.text {
				t.Errorf("Render = %q, %v; want %q, true", text, ok, tc.text)
			}
			j, ok := tc.x.RenderJSON(e)
			if !ok || !reflect.DeepEqual(j, tc.json) {
				t.Errorf("RenderJSON = %#v, %v; want %#v, true", j, ok, tc.json)
			}
		})
	}
}

func TestRenderMissing(t *testing.T) {
	tests := []struct {
		name string
		x    Extractor
	}{
		{"string", Extractor{Type: TypeCharBuf, Str: func(*event.Event) (string, bool) { return "x", false }}},
		{"number", Extractor{Type: TypeUint64, Num: func(*event.Event) (int64, bool) { return 1, false }}},
		{"bool", Extractor{Type: TypeBool, Bool: func(*event.Event) (bool, bool) { return true, false }}},
		{"ip", Extractor{Type: TypeIPAddr, IP: func(*event.Event) (netip.Addr, bool) { return netip.Addr{}, false }}},
		{"bytes", Extractor{Type: TypeByteBuf, Bytes: func(*event.Event) ([]byte, bool) { return nil, false }}},
		{"list", Extractor{Type: TypeCharBuf, List: true, Strs: func(_ *event.Event, d []string) ([]string, bool) { return d, false }}},
		{"override", Extractor{Type: TypeCharBuf, Str: func(*event.Event) (string, bool) { return "x", true },
			Text: func(*event.Event) (string, bool) { return "", false }, JSON: func(*event.Event) (any, bool) { return nil, false }}},
		{"no function for the kind", Extractor{Type: TypeCharBuf}},
		{"invalid type", Extractor{Type: TypeInvalid}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s, ok := tc.x.Render(&event.Event{}); ok {
				t.Errorf("Render = %q, true; want missing", s)
			}
			if v, ok := tc.x.RenderJSON(&event.Event{}); ok {
				t.Errorf("RenderJSON = %#v, true; want missing", v)
			}
		})
	}
}

func TestRenderEmptyList(t *testing.T) {
	x := Extractor{Type: TypeCharBuf, List: true, Strs: func(_ *event.Event, d []string) ([]string, bool) { return d, true }}
	if s, ok := x.Render(&event.Event{}); !ok || s != "()" {
		t.Errorf("Render = %q, %v; want (), true", s, ok)
	}
	// jsoncpp leaves a list with no element null.
	if v, ok := x.RenderJSON(&event.Event{}); ok {
		t.Errorf("RenderJSON = %#v, true; want null", v)
	}
}
