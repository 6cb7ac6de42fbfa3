//go:build linux && lannerbpf

package capture

// #cgo pkg-config: libbpf
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unsafe"

	_ "embed"

	bpf "github.com/aquasecurity/libbpfgo"
)

//go:embed bpf/lanner.bpf.o
var lannerObj []byte

//go:embed bpf/noop.bpf.o
var noopObj []byte

// Probe is the loaded eBPF capture: programs attached, maps configured, ring buffer mapped.
type Probe struct {
	log      *slog.Logger
	mod      *bpf.Module
	links    []*bpf.BPFLink
	ring     *ring
	scCfg    *bpf.BPFMap
	counters *bpf.BPFMap
	prefixes *bpf.BPFMap
	pwords   *bpf.BPFMap
	enabled  map[uint16]bool
	open     *OpenFilter
	inTrie   map[string]bool
	poll     time.Duration
	bootTime int64
}

var programs = []string{"lanner_sys_exit", "lanner_exec", "lanner_fork", "lanner_exit"}

// Open loads the embedded object, configures it for cfg and attaches its programs. Errors say
// what is missing (privileges, BTF, verifier) so the caller can print one clear line.
func Open(cfg Config) (*Probe, error) {
	cfg.defaults()
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return nil, fmt.Errorf("load eBPF: the kernel has no BTF (/sys/kernel/btf/vmlinux: %w); lanner needs CONFIG_DEBUG_INFO_BTF", err)
	}
	setLibbpfLogger(cfg.Logger)
	mod, err := openModule(lannerObj, "lanner")
	if err != nil {
		return nil, err
	}
	if err := cfg.OpenFilter.Validate(); err != nil {
		mod.Close()
		return nil, err
	}
	p := &Probe{log: cfg.Logger, mod: mod, poll: cfg.PollInterval, enabled: map[uint16]bool{}, inTrie: map[string]bool{}}
	fail := func(err error) (*Probe, error) { p.Close(); return nil, err }

	events, err := mod.GetMap("events")
	if err != nil {
		return fail(fmt.Errorf("load eBPF: %w", err))
	}
	size := ringSize(cfg.RingBytesPerCPU, runtime.NumCPU())
	if err := events.SetMaxEntries(uint32(size)); err != nil {
		return fail(fmt.Errorf("load eBPF: size ring buffer to %d bytes: %w", size, err))
	}
	if err := mod.BPFLoadObject(); err != nil {
		return fail(fmt.Errorf("load eBPF object (needs root or CAP_BPF+CAP_PERFMON, and a verifier that accepts it; run with -v for libbpf's log): %w", err))
	}
	if p.scCfg, err = mod.GetMap("sc_cfg"); err != nil {
		return fail(err)
	}
	if p.counters, err = mod.GetMap("counters"); err != nil {
		return fail(err)
	}
	if p.prefixes, err = mod.GetMap("open_prefixes"); err != nil {
		return fail(err)
	}
	if p.pwords, err = mod.GetMap("open_prefix_words"); err != nil {
		return fail(err)
	}
	if err := p.setPrefixes(cfg.OpenFilter); err != nil {
		return fail(err)
	}
	p.open = cfg.OpenFilter
	st, err := mod.GetMap("settings")
	if err != nil {
		return fail(err)
	}
	settings := [2]uint32{uint32(os.Getpid()), uint32(float64(size) * cfg.WakeupFraction)}
	zero := uint32(0)
	if err := st.Update(unsafe.Pointer(&zero), unsafe.Pointer(&settings[0])); err != nil {
		return fail(fmt.Errorf("configure eBPF settings: %w", err))
	}
	if err := p.SetSyscalls(cfg.Syscalls); err != nil {
		return fail(err)
	}
	if p.ring, err = newRing(events.FileDescriptor(), size); err != nil {
		return fail(err)
	}
	if p.bootTime, err = bootTime(); err != nil {
		return fail(err)
	}
	for _, name := range programs {
		prog, err := mod.GetProgram(name)
		if err != nil {
			return fail(fmt.Errorf("load eBPF: %w", err))
		}
		link, err := prog.AttachGeneric()
		if err != nil {
			return fail(fmt.Errorf("attach eBPF program %s (%s): %w", name, prog.SectionName(), err))
		}
		p.links = append(p.links, link)
	}
	p.log.Info("eBPF capture attached", "programs", len(p.links), "ring_bytes", size, "syscalls", len(cfg.Syscalls),
		"open_filter", cfg.OpenFilter != nil)
	return p, nil
}

// setLibbpfLogger sends libbpf's messages to log: warnings (which include the verifier's log when
// a program is refused) at Warn, the rest at Debug. libbpf's print hook is process-wide.
func setLibbpfLogger(log *slog.Logger) {
	bpf.SetLoggerCbs(bpf.Callbacks{Log: func(level int, msg string) {
		msg = strings.TrimRight(msg, "\n")
		if level == bpf.LibbpfWarnLevel {
			log.Warn("libbpf", "msg", msg)
			return
		}
		log.Debug("libbpf", "msg", msg)
	}})
}

// openModule writes obj to a temporary file and opens it: libbpfgo's file loader is the one
// proven on these machines, and SkipMemlockBump because they lack CAP_SYS_RESOURCE (kernels with
// memcg accounting of BPF memory do not need the rlimit anyway).
func openModule(obj []byte, name string) (*bpf.Module, error) {
	f, err := os.CreateTemp("", name+"-*.bpf.o")
	if err != nil {
		return nil, fmt.Errorf("load eBPF: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(obj); err != nil {
		f.Close()
		return nil, fmt.Errorf("load eBPF: write object: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("load eBPF: write object: %w", err)
	}
	mod, err := bpf.NewModuleFromFileArgs(bpf.NewModuleArgs{BPFObjPath: f.Name(), SkipMemlockBump: true})
	if err != nil {
		return nil, fmt.Errorf("load eBPF: open object: %w", err)
	}
	return mod, nil
}

// ringSize is perCPU*cpus rounded up to a power of two, at least one page.
func ringSize(perCPU, cpus int) int {
	want := perCPU * max(cpus, 1)
	size := os.Getpagesize()
	for size < want {
		size <<= 1
	}
	return size
}

// SetSyscalls replaces the set of syscalls the kernel reports. It can be called while running
// (after a rules reload): each entry is one map update, so the switch is not atomic.
func (p *Probe) SetSyscalls(nrs []uint16) error {
	want := map[uint16]bool{}
	for _, nr := range nrs {
		if nr >= NumSyscalls {
			return fmt.Errorf("set syscalls: %d is not a syscall number below %d", nr, NumSyscalls)
		}
		want[nr] = true
	}
	for nr := range want {
		key := uint32(nr)
		val := kernelConfig(nr, p.open)
		if err := p.scCfg.Update(unsafe.Pointer(&key), unsafe.Pointer(&val[0])); err != nil {
			return fmt.Errorf("set syscall %d: %w", nr, err)
		}
	}
	for nr := range p.enabled {
		if !want[nr] {
			key := uint32(nr)
			var off [16]byte
			if err := p.scCfg.Update(unsafe.Pointer(&key), unsafe.Pointer(&off[0])); err != nil {
				return fmt.Errorf("unset syscall %d: %w", nr, err)
			}
		}
	}
	p.enabled = want
	return nil
}

// SetOpenFilter replaces the open filter (nil: report every open), after a rules reload. The
// kernel reports every open while the filter changes, so no open the new rules want is lost.
func (p *Probe) SetOpenFilter(f *OpenFilter) error {
	if err := f.Validate(); err != nil {
		return err
	}
	nrs := make([]uint16, 0, len(p.enabled))
	for nr := range p.enabled {
		nrs = append(nrs, nr)
	}
	p.open = nil
	if err := p.SetSyscalls(nrs); err != nil {
		return err
	}
	if err := p.setPrefixes(f); err != nil {
		return err
	}
	p.open = f
	return p.SetSyscalls(nrs)
}

// setPrefixes makes the kernel's prefix trie and first-word table hold f's prefixes. The caller
// has the open filter off while they change.
func (p *Probe) setPrefixes(f *OpenFilter) error {
	want := map[string]bool{}
	var list []string
	if f != nil {
		for _, pfx := range f.Prefixes {
			want[pfx] = true
			list = append(list, pfx)
		}
	}
	words := prefixWordsValue(list)
	zero := uint32(0)
	if err := p.pwords.Update(unsafe.Pointer(&zero), unsafe.Pointer(&words[0])); err != nil {
		return fmt.Errorf("set open filter prefix words: %w", err)
	}
	one := uint8(1)
	for pfx := range want {
		if p.inTrie[pfx] {
			continue
		}
		k, ok := prefixKey(pfx)
		if !ok {
			continue // longer than a trie key: such paths are always reported
		}
		if err := p.prefixes.Update(unsafe.Pointer(&k[0]), unsafe.Pointer(&one)); err != nil {
			return fmt.Errorf("set open filter prefix %q: %w", pfx, err)
		}
		p.inTrie[pfx] = true
	}
	for pfx := range p.inTrie {
		if want[pfx] {
			continue
		}
		k, _ := prefixKey(pfx)
		if err := p.prefixes.DeleteKey(unsafe.Pointer(&k[0])); err != nil {
			return fmt.Errorf("unset open filter prefix %q: %w", pfx, err)
		}
		delete(p.inTrie, pfx)
	}
	return nil
}

// Run reads records until ctx is done, calling fn with each one. The slice is valid only during
// the call (it points into the ring); fn runs on Run's goroutine.
func (p *Probe) Run(ctx context.Context, fn func([]byte)) error {
	for {
		p.ring.consume(fn)
		select {
		case <-ctx.Done():
			p.ring.consume(fn)
			return nil
		default:
		}
		if err := p.ring.wait(p.poll); err != nil {
			return err
		}
	}
}

// Poll consumes what is in the ring now, without waiting, and returns how many records it read.
func (p *Probe) Poll(fn func([]byte)) int { return p.ring.consume(fn) }

// Stats sums the kernel's per-CPU counters.
func (p *Probe) Stats() (Stats, error) {
	var v [numCounters]uint64
	for i := range v {
		key := uint32(i)
		b, err := p.counters.GetValue(unsafe.Pointer(&key))
		if err != nil {
			return Stats{}, fmt.Errorf("read eBPF counter %d: %w", i, err)
		}
		for off := 0; off+8 <= len(b); off += 8 {
			v[i] += le.Uint64(b[off:])
		}
	}
	return Stats{Events: v[counterEvents], DropsBuffer: v[counterDropBuffer], DropsSize: v[counterDropSize], DropsProc: v[counterDropBufferProc], SkippedCompat: v[counterCompat], Filtered: v[counterFiltered]}, nil
}

// BootTime is the epoch time of boot in ns: Record.Time + BootTime is an epoch time.
func (p *Probe) BootTime() int64 { return p.bootTime }

// Close detaches the programs and frees the maps. Call it after Run has returned: Run reads the
// ring's mapping, which Close unmaps.
func (p *Probe) Close() error {
	var errs []error
	for _, l := range p.links {
		if err := l.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	p.links = nil
	if p.ring != nil {
		p.ring.close()
		p.ring = nil
	}
	if p.mod != nil {
		p.mod.Close()
		p.mod = nil
	}
	return errors.Join(errs...)
}

func bootTime() (int64, error) {
	var ts syscall.Timespec
	const clockBoottime = 7
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockBoottime, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0, fmt.Errorf("clock_gettime(CLOCK_BOOTTIME): %w", e)
	}
	return time.Now().UnixNano() - ts.Nano(), nil
}

type floor struct {
	mod  *bpf.Module
	link *bpf.BPFLink
}

// OpenFloor attaches the no-op syscall program (a tp_btf/sys_enter that only looks up a map):
// the cost any syscall tracepoint capture pays, against which benchmarks measure lanner.
func OpenFloor() (io.Closer, error) {
	mod, err := openModule(noopObj, "lanner-noop")
	if err != nil {
		return nil, err
	}
	if err := mod.BPFLoadObject(); err != nil {
		mod.Close()
		return nil, fmt.Errorf("load no-op eBPF object: %w", err)
	}
	prog, err := mod.GetProgram("lanner_noop")
	if err != nil {
		mod.Close()
		return nil, err
	}
	link, err := prog.AttachGeneric()
	if err != nil {
		mod.Close()
		return nil, fmt.Errorf("attach no-op program: %w", err)
	}
	return &floor{mod: mod, link: link}, nil
}

func (f *floor) Close() error {
	err := f.link.Destroy()
	f.mod.Close()
	return err
}
