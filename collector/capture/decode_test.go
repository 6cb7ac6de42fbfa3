package capture

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lannersec/lanner/collector/event"
)

func samples(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/samples/*.bin")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded samples in testdata/samples (%v)", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".bin")] = b
	}
	return out
}

// TestDecodeRecordedSamples decodes records the real kernel wrote (recorded by TestRecordSamples)
// and checks each against what its file name says it is.
func TestDecodeRecordedSamples(t *testing.T) {
	for name, raw := range samples(t) {
		t.Run(name, func(t *testing.T) {
			rec, err := Decode(raw)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			what := name[:strings.LastIndexByte(name, '-')]
			switch what {
			case "exec":
				if rec.Kind != KindExec || rec.Exec == nil || rec.Exec.Comm == "" || len(rec.Exec.Argv) == 0 || rec.Exec.Filename == "" {
					t.Errorf("exec record %+v / %+v", rec, rec.Exec)
				}
				if !strings.HasPrefix(rec.Exec.ExePath, "/") || !strings.HasPrefix(rec.Exec.Cwd, "/") {
					t.Errorf("exec exe path %q cwd %q: want absolute paths from the kernel", rec.Exec.ExePath, rec.Exec.Cwd)
				}
				if rec.Exec.StartTime == 0 || rec.Exec.StartTime > rec.Time {
					t.Errorf("exec start time %d, record time %d", rec.Exec.StartTime, rec.Time)
				}
			case "fork":
				if rec.Kind != KindFork || rec.Fork.ChildTid == 0 || rec.Fork.ChildTid == rec.Tid {
					t.Errorf("fork record %+v / %+v", rec, rec.Fork)
				}
			case "exit":
				if rec.Kind != KindExit || rec.Exit == nil {
					t.Errorf("exit record %+v", rec)
				}
			default:
				if rec.Kind != KindSyscall || event.TypeName(rec.Nr) != what {
					t.Fatalf("record kind %s nr %d (%s), want syscall %s", rec.Kind, rec.Nr, event.TypeName(rec.Nr), what)
				}
				l := LayoutOf(rec.Nr)
				for _, i := range l.StrArgs {
					if _, ok := rec.Str(i); !ok {
						t.Errorf("argument %d string missing", i)
					}
				}
				if l.TupleFD == TupleArg0 && rec.Res >= 0 && rec.Tuple == nil && !rec.HasFDPath {
					t.Errorf("%s: the kernel did not describe fd %d", what, int32(rec.Args[0]))
				}
				if what == "connect" && rec.Res == 0 && rec.Tuple == nil {
					t.Errorf("successful connect without a tuple")
				}
			}
			if rec.Tid == 0 || rec.Pid == 0 || rec.Time == 0 {
				t.Errorf("header tid %d pid %d time %d", rec.Tid, rec.Pid, rec.Time)
			}
		})
	}
}

// header builds a record header for hand-made malformed records.
func header(kind Kind, n int) []byte {
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b[0:], 1)
	binary.LittleEndian.PutUint32(b[24:], 7)
	binary.LittleEndian.PutUint32(b[28:], 7)
	binary.LittleEndian.PutUint32(b[32:], uint32(n))
	binary.LittleEndian.PutUint16(b[36:], uint16(kind))
	return b
}

func TestDecodeErrors(t *testing.T) {
	withItem := func(tag, idx byte, n uint16, data int) []byte {
		b := header(KindSyscall, hdrSize+argsSize+itemHdrSize+data)
		o := hdrSize + argsSize
		b[o], b[o+1] = tag, idx
		binary.LittleEndian.PutUint16(b[o+2:], n)
		return b
	}
	badLen := header(KindExit, hdrSize+exitInfoSize)
	binary.LittleEndian.PutUint32(badLen[32:], 4096)
	tests := []struct {
		name string
		raw  []byte
		want ErrKind
	}{
		{"empty", nil, ErrShort},
		{"short header", make([]byte, hdrSize-1), ErrShort},
		{"length past the end", badLen, ErrLength},
		{"length below the header", func() []byte { b := header(KindExit, 48); binary.LittleEndian.PutUint32(b[32:], 3); return b }(), ErrLength},
		{"unknown kind", header(9, hdrSize), ErrUnknownKind},
		{"syscall without args", header(KindSyscall, hdrSize+8), ErrShort},
		{"exec too short", header(KindExec, hdrSize+10), ErrShort},
		{"fork too short", header(KindFork, hdrSize+10), ErrShort},
		{"exit too short", header(KindExit, hdrSize+4), ErrShort},
		{"item header cut", header(KindSyscall, hdrSize+argsSize+2), ErrItem},
		{"item longer than record", withItem(tagStr, 0, 100, 10), ErrItem},
		{"string for argument 9", withItem(tagStr, 9, 2, 2), ErrItem},
		{"tuple of wrong size", withItem(tagTuple, 0, 3, 3), ErrItem},
		{"exec item in syscall", withItem(tagArgv, 0, 2, 2), ErrItem},
		{"unknown tag", withItem(99, 0, 0, 0), ErrUnknownTag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := Decode(tt.raw)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode = %+v, %v; want a *DecodeError", rec, err)
			}
			if de.Kind != tt.want {
				t.Errorf("kind %q, want %q (%v)", de.Kind, tt.want, err)
			}
		})
	}
}

func TestDecodeItems(t *testing.T) {
	b := header(KindSyscall, hdrSize)
	b = append(b, make([]byte, argsSize)...)
	add := func(tag, idx byte, data []byte) {
		b = append(b, tag, idx, byte(len(data)), byte(len(data)>>8))
		b = append(b, data...)
	}
	add(tagStr, 1, []byte("/etc/shadow\x00"))
	add(tagSockaddr, 1, []byte{2, 0, 0x1f, 0x90, 127, 0, 0, 1})
	tuple := make([]byte, tupleSize)
	binary.LittleEndian.PutUint16(tuple[0:], afInet)
	binary.LittleEndian.PutUint16(tuple[4:], 6)
	binary.LittleEndian.PutUint16(tuple[6:], 40000)
	binary.LittleEndian.PutUint16(tuple[8:], 8080)
	copy(tuple[12:], []byte{10, 0, 0, 1})
	copy(tuple[28:], []byte{10, 0, 0, 2})
	add(tagTuple, 0, tuple)
	binary.LittleEndian.PutUint32(b[32:], uint32(len(b)))
	binary.LittleEndian.PutUint16(b[36:], uint16(KindSyscall))

	rec, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := rec.Str(1); !ok || s != "/etc/shadow" {
		t.Errorf("Str(1) = %q, %v", s, ok)
	}
	if _, ok := rec.Str(0); ok {
		t.Errorf("Str(0) reported present")
	}
	if rec.Tuple == nil || rec.Tuple.Local.String() != "10.0.0.1:40000" || rec.Tuple.Remote.String() != "10.0.0.2:8080" {
		t.Errorf("tuple %+v", rec.Tuple)
	}
	if len(rec.Sockaddr) != 8 {
		t.Errorf("sockaddr %x", rec.Sockaddr)
	}
}

func TestSplitArgv(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\x00", nil},
		{"ls\x00-l\x00", []string{"ls", "-l"}},
		{"sh\x00-c\x00\x00", []string{"sh", "-c", ""}},
		{"cut", []string{"cut"}},
	}
	for _, tt := range tests {
		got := splitArgv([]byte(tt.in))
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("splitArgv(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKernelConfig(t *testing.T) {
	tests := []struct {
		name string
		want [16]byte
	}{
		{"openat", [16]byte{1, 1 << 1, 0, 0, 0, 0, 0, 0}},
		{"connect", [16]byte{1, 0, 2, 2, TupleArg0, 0, 0, 0}},
		{"sendmsg", [16]byte{1, 0, 2, 6, TupleArg0, 0, 0, 0}},
		{"accept4", [16]byte{1, 0, 0, 0, TupleRet, 0, 0, 0}},
		{"openat2", [16]byte{1, 1 << 1, 0, 0, 0, 3, 24, 0}},
		{"execve", [16]byte{1, 1, 0, 0, 0, 0, 0, 1}},
		{"linkat", [16]byte{1, 1<<1 | 1<<3, 0, 0, 0, 0, 0, 0}},
		{"ptrace", [16]byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{"fchdir", [16]byte{1, 0, 0, 0, TupleArg0, 0, 0, 0, scCwd}},
		{"close", [16]byte{1, 0, 0, 0, 0, 0, 0, 0}},
		{"dup2", [16]byte{1, 0, 0, 0, TupleArg0, 0, 0, 0}},
	}
	for _, tt := range tests {
		nr, ok := event.TypeByName(tt.name)
		if !ok {
			t.Fatalf("no syscall %s", tt.name)
		}
		if got := kernelConfig(nr, nil); got != tt.want {
			t.Errorf("kernelConfig(%s) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestInterestingSyscalls(t *testing.T) {
	ptrace, _ := event.TypeByName("ptrace")
	chdir, _ := event.TypeByName("chdir")
	openat, _ := event.TypeByName("openat")
	got := InterestingSyscalls([]uint16{ptrace, event.TypeProcExit}, false)
	has := func(set []uint16, t uint16) bool {
		for _, x := range set {
			if x == t {
				return true
			}
		}
		return false
	}
	if !has(got, ptrace) || !has(got, chdir) || has(got, event.TypeProcExit) {
		t.Errorf("InterestingSyscalls = %v: want ptrace and the state set, not procexit", got)
	}
	// The kernel describes fds, so opens are reported only when a rule asks for them.
	if has(got, openat) {
		t.Errorf("InterestingSyscalls = %v: openat without a rule asking for it", got)
	}
	all := InterestingSyscalls(nil, true)
	if len(all) < 300 {
		t.Errorf("all syscalls: %d", len(all))
	}
}

func FuzzDecode(f *testing.F) {
	for _, raw := range samples(f) {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := Decode(raw)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Kind == "" {
				t.Fatalf("error %v is not a classified *DecodeError", err)
			}
			return
		}
		if rec.Kind < KindSyscall || rec.Kind > KindExit {
			t.Fatalf("decoded unknown kind %d", rec.Kind)
		}
	})
}
