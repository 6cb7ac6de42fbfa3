// Package capture is lanner's live syscall source: an eBPF program (bpf/lanner.bpf.c, CO-RE,
// compiled by clang and embedded in the binary) reports syscall exits, execs, forks and exits into
// a ring buffer, and this package loads it, tells it which syscalls matter, reads the ring in
// batches and decodes the records.
//
// The kernel side is built for cost:
//   - only tp_btf programs (the kernels lanner targets refuse kprobes, fentry and LSM programs):
//     one sys_exit dispatcher plus sched_process_exec, sched_process_fork and sched_process_exit;
//   - the dispatcher's first step is an array lookup of the syscall number (sc_cfg, filled from
//     InterestingSyscalls: the loaded rules' event types plus the few calls the state needs), so
//     a syscall nothing needs costs one lookup;
//   - what to copy per syscall (string arguments, sockaddrs, fd descriptions, openat2's open_how)
//     is data in sc_cfg (Layout), so the program is one generic path;
//   - opens (open, openat, openat2, creat) pass an in-kernel filter computed from the loaded rules
//     (OpenFilter, from engine's Ruleset.OpenScope): only writes, non-canonical paths and paths
//     under a prefix some rule tests become records; reads of ordinary files are counted and
//     dropped after one read of the path;
//   - the kernel describes the fd a call is about (a socket's tuple, or a file's mode and path,
//     walked from its dentry), so userspace never has to follow open, dup and close to know what
//     an fd is: those high-volume calls are reported only when a rule names them;
//   - records are compact and written without a wakeup unless the ring is filling up; the reader
//     consumes them straight from the memory-mapped ring, without a copy or a channel send per
//     record (libbpfgo's reader does both), and every loss is counted in per-CPU counters.
//
// Loading needs libbpf, so the loader is compiled only with the lannerbpf build tag: `make bpf`
// builds the objects (installing clang, bpftool and libbpf-dev >= 1.4 through
// deploy/local/deps.sh), then `go build -tags lannerbpf`. Without the tag Open returns ErrNoBPF
// and the rest (Decode, the syscall tables, DropMonitor) still works, so `go build ./...` and
// `go test ./...` need no libbpf.
//
// Decode is pure: it turns one raw record into a Record or a *DecodeError whose Kind is a short
// stable string fit for a metric label. Package state turns Records into events for the engine:
//
//	probe, err := capture.Open(capture.Config{Syscalls: capture.InterestingSyscalls(ruleTypes, anyRuleMatchesAll)})
//	st, err := state.New(state.Config{BootTime: probe.BootTime()})
//	err = st.Scan()
//	err = probe.Run(ctx, st.Handler(func(e *event.Event) { ruleset.Process(e, onAlert) }))
package capture
