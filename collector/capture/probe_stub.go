//go:build !(linux && lannerbpf)

package capture

import (
	"context"
	"io"
)

// Probe is the loaded eBPF capture. This build has no eBPF support: Open always fails.
type Probe struct{}

// Open loads and attaches the capture programs; in this build it returns ErrNoBPF.
func Open(Config) (*Probe, error) { return nil, ErrNoBPF }

// Run reads records until ctx ends.
func (*Probe) Run(context.Context, func([]byte)) error { return ErrNoBPF }

// Stats returns the kernel counters.
func (*Probe) Stats() (Stats, error) { return Stats{}, ErrNoBPF }

// SetSyscalls replaces the set of reported syscalls.
func (*Probe) SetSyscalls([]uint16) error { return ErrNoBPF }

// BootTime is the epoch time of boot in ns: Record.Time + BootTime is an epoch time.
func (*Probe) BootTime() int64 { return 0 }

// Close detaches the programs.
func (*Probe) Close() error { return nil }

// OpenFloor attaches the no-op syscall program benchmarks compare against.
func OpenFloor() (io.Closer, error) { return nil, ErrNoBPF }

// Poll consumes what is in the ring now.
func (*Probe) Poll(func([]byte)) int { return 0 }
