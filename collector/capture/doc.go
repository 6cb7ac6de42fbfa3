// Package capture is lanner's live syscall source: an eBPF program (bpf/lanner.bpf.c, CO-RE,
// compiled by clang and embedded in the binary) reports syscall exits, execs, forks and exits into
// a ring buffer, and this package loads it, tells it which syscalls matter, reads the ring in
// batches and decodes the records.
//
// The kernel side is built for cost: only tp_btf programs (the kernels lanner targets refuse
// kprobes, fentry and LSM programs), one exit-side dispatcher whose first step is an array lookup
// of the syscall number, so a syscall no rule and no state needs costs almost nothing; records are
// compact and written without a wakeup unless the ring is filling up, and the reader consumes them
// straight from the memory-mapped ring, without a copy or a channel send per event.
//
// Loading needs libbpf, so the loader is compiled only with the lannerbpf build tag (make bpf
// builds the object first). Without the tag, Open returns ErrNoBPF and everything else (Decode,
// the syscall tables) still works, so `go build ./...` and `go test ./...` need no libbpf.
//
// Decode is pure: it turns one raw record into a Record or a *DecodeError whose Kind is a short
// stable string fit for a metric label. Package state turns Records into events for the engine.
package capture
