package capture

import (
	"errors"
	"log/slog"
	"time"
)

// ErrNoBPF is returned by Open in binaries built without the lannerbpf tag.
var ErrNoBPF = errors.New("lanner was built without eBPF support: rebuild with `make bpf` and `go build -tags lannerbpf`")

// Config configures a Probe. The zero value is usable.
type Config struct {
	// Syscalls is the set of syscall numbers the kernel reports; nil means DefaultSyscalls().
	// Use InterestingSyscalls to combine the loaded rules' event types with the state set.
	Syscalls []uint16
	// RingBytesPerCPU sizes the ring buffer: this many bytes per possible CPU, rounded up to a
	// power of two. Default 8 MiB, Falco's default buffer size.
	RingBytesPerCPU int
	// WakeupFraction: the kernel forces a wakeup only once the ring is this full (default 1/16);
	// below that, records wait for the next poll.
	WakeupFraction float64
	// OpenFilter lets the kernel drop the opens no loaded rule can match; nil reports them all.
	OpenFilter *OpenFilter
	// PollInterval bounds how long a record can sit in the ring (default 10ms).
	PollInterval time.Duration
	// Logger receives load progress and libbpf's complaints; nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Syscalls == nil {
		c.Syscalls = DefaultSyscalls()
	}
	if c.RingBytesPerCPU <= 0 {
		c.RingBytesPerCPU = 8 << 20
	}
	if c.WakeupFraction <= 0 || c.WakeupFraction > 1 {
		c.WakeupFraction = 1.0 / 16
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 10 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Stats are the kernel's counters, summed over CPUs. Every loss is counted: DropsBuffer when the
// ring was full, DropsSize when a record did not fit the scratch buffer. DropsProc counts the
// lost exec/fork/exit records among DropsBuffer: after one, the thread table may be wrong.
type Stats struct {
	Events      uint64
	DropsBuffer uint64
	DropsSize   uint64
	DropsProc   uint64
	// SkippedCompat counts 32-bit (ia32) syscalls of interesting numbers that were not reported:
	// their numbers mean other calls in the x86_64 table (ia32 support is not written yet).
	SkippedCompat uint64
	// Filtered counts the opens the OpenFilter dropped in the kernel: no loaded rule could
	// match them. They are not losses.
	Filtered uint64
}

// Drops is the total number of records the kernel could not deliver.
func (s Stats) Drops() uint64 { return s.DropsBuffer + s.DropsSize }
