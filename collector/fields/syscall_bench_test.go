package fields

import (
	"net/netip"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

// hotFields are the fields the stable ruleset reads on every open, exec and connect: reading
// them must not allocate, or every non-matching event would cost garbage.
var hotFields = []struct{ name, arg string }{
	{"evt.type", ""}, {"evt.num", ""}, {"evt.res", ""}, {"evt.rawres", ""}, {"evt.arg", "flags"},
	{"evt.is_open_read", ""}, {"evt.is_open_write", ""}, {"proc.name", ""}, {"proc.exe", ""},
	{"proc.exepath", ""}, {"proc.args", ""}, {"proc.cmdline", ""}, {"proc.pname", ""}, {"proc.pexe", ""},
	{"proc.pcmdline", ""}, {"proc.aname", "2"}, {"proc.aname", ""}, {"proc.cwd", ""}, {"proc.tty", ""},
	{"proc.duration", ""}, {"proc.is_exe_upper_layer", ""}, {"thread.cap_effective", ""}, {"user.uid", ""},
	{"user.name", ""}, {"fd.num", ""}, {"fd.name", ""}, {"fd.nameraw", ""}, {"fd.typechar", ""}, {"fd.type", ""},
	{"fd.directory", ""}, {"fd.filename", ""}, {"fd.ip", ""}, {"fd.net", ""}, {"fd.snet", ""}, {"fd.sport", ""},
	{"fd.l4proto", ""}, {"fd.connected", ""}, {"fd.name_changed", ""}, {"fd.sip.name", ""},
	{"container.id", ""}, {"container.image.repository", ""}, {"container.privileged", ""}, {"k8s.ns.name", ""},
}

// reader returns a function that reads x once, reusing list buffers like the engine does.
func reader(x *Extractor) func(e *event.Event) {
	var strs []string
	var ips []netip.Addr
	var nums []int64
	return func(e *event.Event) {
		switch {
		case x.Str != nil:
			x.Str(e)
		case x.Num != nil:
			x.Num(e)
		case x.Bool != nil:
			x.Bool(e)
		case x.IP != nil:
			x.IP(e)
		case x.Strs != nil:
			strs, _ = x.Strs(e, strs[:0])
		case x.IPs != nil:
			ips, _ = x.IPs(e, ips[:0])
		case x.Nums != nil:
			nums, _ = x.Nums(e, nums[:0])
		}
	}
}

func TestHotExtractorsDoNotAllocate(t *testing.T) {
	r := testRegistry(t, WithHostResolver(NewStaticHosts(map[string][]netip.Addr{"k": {netip.MustParseAddr("10.96.0.1")}})))
	for _, ev := range []*event.Event{openEvent(), connectEvent()} {
		for _, f := range hotFields {
			x := resolve(t, r, f.name, f.arg, f.arg != "")
			read := reader(x)
			read(ev) // warm caches (command line, capability text, list buffers)
			if n := testing.AllocsPerRun(100, func() { read(ev) }); n != 0 {
				t.Errorf("%s on %s: %.1f allocations per read, want 0", x.Name, event.TypeName(ev.Type), n)
			}
		}
	}
}

func BenchmarkHotExtractors(b *testing.B) {
	r := testRegistry(b)
	ev := openEvent()
	for _, f := range hotFields {
		x := resolve(b, r, f.name, f.arg, f.arg != "")
		read := reader(x)
		b.Run(x.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				read(ev)
			}
		})
	}
}
