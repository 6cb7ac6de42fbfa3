package fields

import (
	"net/netip"
	"os"
	"time"

	"github.com/lannersec/lanner/collector/event"
)

// Option configures the built-in fields of a Registry.
type Option func(*config)

// config is what syscall extractors need from outside the event: none of it changes while the
// registry is in use.
type config struct {
	loc      *time.Location
	hostname string
	hosts    HostResolver
}

func newConfig(opts []Option) *config {
	c := &config{loc: time.Local}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.hostname == "" {
		// Falco's evt.hostname: FALCO_HOSTNAME overrides the kernel's name, so DaemonSets can report
		// the node name.
		if h := os.Getenv("FALCO_HOSTNAME"); h != "" {
			c.hostname = h
		} else if h, err := os.Hostname(); err == nil {
			c.hostname = h
		}
	}
	return c
}

// WithLocation sets the time zone of the clock-time fields (evt.time, evt.time.s, evt.datetime):
// Falco prints them in the machine's local zone, which is the default. Tests pass time.UTC.
func WithLocation(loc *time.Location) Option {
	return func(c *config) {
		if loc != nil {
			c.loc = loc
		}
	}
}

// WithHostname sets evt.hostname (default: $FALCO_HOSTNAME, else the kernel's host name).
func WithHostname(name string) Option {
	return func(c *config) { c.hostname = name }
}

// HostResolver gives the fd.*ip.name fields a domain name for an address. Falco does not do
// reverse DNS: it resolves the names that rules mention and compares addresses, so a resolver
// answers from the forward lookups of the names it was asked to watch. NameOf is called on the
// event path: it must not block and should not allocate.
type HostResolver interface {
	NameOf(ip netip.Addr) (string, bool)
}

// WithHostResolver sets how fd.cip.name, fd.sip.name, fd.lip.name and fd.rip.name are resolved.
// Without one those fields are always missing, so `fd.sip.name = x` is false and
// `not fd.sip.name = x` true.
func WithHostResolver(r HostResolver) Option {
	return func(c *config) { c.hosts = r }
}

// StaticHosts is a HostResolver over a fixed name -> addresses table. When several names share an
// address the one that sorts first wins, so answers do not depend on map order.
type StaticHosts struct {
	byAddr map[netip.Addr]string
}

// NewStaticHosts builds a StaticHosts from forward lookups (name -> addresses).
func NewStaticHosts(table map[string][]netip.Addr) *StaticHosts {
	h := &StaticHosts{byAddr: make(map[netip.Addr]string)}
	for name, addrs := range table {
		for _, a := range addrs {
			a = a.Unmap()
			if old, ok := h.byAddr[a]; !ok || name < old {
				h.byAddr[a] = name
			}
		}
	}
	return h
}

// NameOf returns the name that resolved to ip.
func (h *StaticHosts) NameOf(ip netip.Addr) (string, bool) {
	n, ok := h.byAddr[ip.Unmap()]
	return n, ok
}

// Suggested returns the fields of src that Falco appends to every output of the source
// (suggested_output), in Falco's order: container.id, container.name,
// container.image.repository, container.image.tag, k8s.pod.name, k8s.ns.name for syscall.
func (r *Registry) Suggested(src event.Source) []*Field {
	if int(src) >= event.NumSources {
		return nil
	}
	var out []*Field
	for _, f := range r.ordered[src] {
		if f.Flags&Suggested != 0 {
			out = append(out, f)
		}
	}
	return out
}

// syscallFields returns the built-in fields of the syscall source, class by class in the order
// `falco --list` shows them. The order matters for Suggested.
func syscallFields(c *config) []*Field {
	var out []*Field
	out = append(out, evtFields(c)...)
	out = append(out, procFields(c)...)
	out = append(out, userFields(c)...)
	out = append(out, fdFields(c)...)
	out = append(out, containerFields(c)...)
	for _, f := range out {
		f.Source = event.SourceSyscall
	}
	return out
}
