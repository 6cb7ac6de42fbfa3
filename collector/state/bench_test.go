package state

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lannersec/lanner/collector/capture"
)

// BenchmarkProcess measures the userspace cost per record of the state tracker on records the
// real kernel wrote (capture's testdata): decode plus state update plus event build.
func BenchmarkProcess(b *testing.B) {
	files, _ := filepath.Glob("../capture/testdata/samples/*.bin")
	var raws [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		raws = append(raws, raw)
	}
	if len(raws) == 0 {
		b.Skip("no recorded samples")
	}
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	var rec capture.Record
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := capture.DecodeInto(&rec, raws[i%len(raws)]); err != nil {
			b.Fatal(err)
		}
		s.Process(&rec)
	}
}

// BenchmarkOpenClose is the hot pair of the open/close loop: an openat and its close on a known
// thread.
func BenchmarkOpenClose(b *testing.B) {
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	me := uint32(os.Getpid())
	open := &capture.Record{Kind: capture.KindSyscall, Tid: me, Pid: me, Nr: sc("openat"), Res: 3,
		Args: [6]uint64{uint64(0xffffffffffffff9c), 0, 0}, StrMask: 2}
	open.Strs[1] = "/etc/hostname"
	cl := &capture.Record{Kind: capture.KindSyscall, Tid: me, Pid: me, Nr: sc("close"), Args: [6]uint64{3}}
	b.ReportAllocs()
	for range b.N {
		s.Process(open)
		s.Process(cl)
	}
}
