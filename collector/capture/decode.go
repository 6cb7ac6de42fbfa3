package capture

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Record is one decoded kernel record. Which parts are set depends on Kind: Args, Strs, Sockaddr,
// Mem and Tuple for syscalls; Exec for execs; Fork for forks; Exit for exits.
type Record struct {
	Kind Kind
	// Time is CLOCK_BOOTTIME in nanoseconds; BootTime in the Probe converts it to the epoch.
	Time uint64
	// CgroupID is the cgroup v2 id of the task (the inode number of its cgroup directory).
	CgroupID uint64
	// Res is the syscall return value (negative errno on failure).
	Res int64
	// Tid and Pid are the thread id and the process (thread group) id, in the host pid namespace.
	Tid, Pid uint32
	// Nr is the x86_64 syscall number (execve or execveat for KindExec).
	Nr uint16

	// Args are the raw syscall arguments.
	Args [6]uint64
	// Strs[i] is args[i] read as a user string, when StrMask has bit i.
	Strs    [6]string
	StrMask uint8
	// Sockaddr is the raw socket address the call passed (connect, bind, sendto, sendmsg).
	Sockaddr []byte
	// Mem is fixed-size user memory the call pointed to (openat2's struct open_how).
	Mem []byte
	// Tuple is the socket behind the call's fd, read from the kernel; nil when none.
	Tuple *Tuple
	// FDPath and FDMode describe the call's fd when it is not a socket: its path (walked in the
	// kernel; pseudo files such as pipes and memfds give their own name) and its inode mode.
	// HasFDPath tells whether the kernel sent them.
	FDPath    string
	FDMode    uint32
	HasFDPath bool
	// Cwd is the working directory after the call, for calls that change it (chdir, fchdir).
	Cwd string

	Exec *ExecInfo
	Fork *ForkInfo
	Exit *ExitInfo
}

// Str returns args[i] as a string and whether the kernel captured it.
func (r *Record) Str(i int) (string, bool) {
	if i < 0 || i >= 6 || r.StrMask&(1<<i) == 0 {
		return "", false
	}
	return r.Strs[i], true
}

// Tuple is a socket's addresses as the kernel holds them: Local is this end.
type Tuple struct {
	Family, Type, Proto uint16
	Local, Remote       netip.AddrPort
}

// ExecInfo is what sched_process_exec reports about the new program.
type ExecInfo struct {
	PPid                           uint32
	UID, GID, EUID, EGID, LoginUID uint32
	Tty                            uint32
	Sid, Pgid                      uint32
	// Flags are the Exe* bits (Falco's execve flags); FromMemfd repeats ExeFromMemfd.
	Flags                                      uint32
	FromMemfd                                  bool
	CapInheritable, CapPermitted, CapEffective uint64
	// StartTime and PidnsInitStart are CLOCK_BOOTTIME ns.
	StartTime, PidnsInitStart uint64
	ExeIno                    uint64
	// ExeCtime and ExeMtime are epoch ns.
	ExeCtime, ExeMtime int64
	Comm               string
	// Vtid and Vpid are the thread and process ids in the task's own pid namespace.
	Vtid, Vpid uint32
	// Filename is the path exec was given (bprm->filename); ExeName the executable's file name.
	Filename, ExeName string
	// ExePath and Cwd are the absolute paths of the executable and the working directory, walked
	// in the kernel within the process's mount namespace (at most 32 components).
	ExePath, Cwd string
	// Argv is argv, including argv[0].
	Argv []string
}

// ForkInfo describes a new thread; the record's Tid/Pid are the parent's.
type ForkInfo struct {
	ChildTid, ChildPid uint32
	StartTime          uint64
	UID, GID           uint32
	Comm               string
	Vtid, Vpid         uint32
}

// ExitInfo describes a thread exit; GroupDead is set when it was the last thread of its process.
type ExitInfo struct {
	Code      int32
	GroupDead bool
}

// ErrKind classifies decode failures; values are stable strings usable as metric labels.
type ErrKind string

// Decode error kinds.
const (
	ErrShort       ErrKind = "short_record"
	ErrLength      ErrKind = "bad_length"
	ErrUnknownKind ErrKind = "unknown_kind"
	ErrItem        ErrKind = "bad_item"
	ErrUnknownTag  ErrKind = "unknown_tag"
)

// DecodeError is returned by Decode; Off is the byte offset where decoding failed.
type DecodeError struct {
	Kind ErrKind
	Off  int
	Msg  string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode kernel record: %s at byte %d: %s", e.Kind, e.Off, e.Msg)
}

func derr(k ErrKind, off int, format string, a ...any) *DecodeError {
	return &DecodeError{Kind: k, Off: off, Msg: fmt.Sprintf(format, a...)}
}

var le = binary.LittleEndian

// Decode decodes one record as bpf/lanner.bpf.c writes it. raw may be reused by the caller after
// Decode returns: every string and byte slice in the Record is a copy.
func Decode(raw []byte) (*Record, error) {
	r := &Record{}
	if err := DecodeInto(r, raw); err != nil {
		return nil, err
	}
	return r, nil
}

// DecodeInto is Decode into a caller-owned Record, which it resets first.
func DecodeInto(r *Record, raw []byte) error {
	*r = Record{}
	if len(raw) < hdrSize {
		return derr(ErrShort, 0, "%d bytes, header needs %d", len(raw), hdrSize)
	}
	r.Time = le.Uint64(raw[0:])
	r.CgroupID = le.Uint64(raw[8:])
	r.Res = int64(le.Uint64(raw[16:]))
	r.Tid = le.Uint32(raw[24:])
	r.Pid = le.Uint32(raw[28:])
	n := int(le.Uint32(raw[32:]))
	r.Kind = Kind(le.Uint16(raw[36:]))
	r.Nr = le.Uint16(raw[38:])
	if n < hdrSize || n > len(raw) {
		return derr(ErrLength, 32, "record length %d, have %d bytes", n, len(raw))
	}
	raw = raw[:n]
	body := raw[hdrSize:]
	switch r.Kind {
	case KindSyscall:
		if len(body) < argsSize {
			return derr(ErrShort, hdrSize, "syscall record needs %d argument bytes, has %d", argsSize, len(body))
		}
		for i := range r.Args {
			r.Args[i] = le.Uint64(body[i*8:])
		}
		return r.items(raw, hdrSize+argsSize)
	case KindExec:
		if len(body) < execInfoSize {
			return derr(ErrShort, hdrSize, "exec record needs %d bytes, has %d", execInfoSize, len(body))
		}
		r.Exec = decodeExec(body)
		return r.items(raw, hdrSize+execInfoSize)
	case KindFork:
		if len(body) < forkInfoSize {
			return derr(ErrShort, hdrSize, "fork record needs %d bytes, has %d", forkInfoSize, len(body))
		}
		r.Fork = &ForkInfo{
			ChildTid:  le.Uint32(body[0:]),
			ChildPid:  le.Uint32(body[4:]),
			StartTime: le.Uint64(body[8:]),
			UID:       le.Uint32(body[16:]),
			GID:       le.Uint32(body[20:]),
			Comm:      cstr(body[24:40]),
			Vtid:      le.Uint32(body[40:]),
			Vpid:      le.Uint32(body[44:]),
		}
		return nil
	case KindExit:
		if len(body) < exitInfoSize {
			return derr(ErrShort, hdrSize, "exit record needs %d bytes, has %d", exitInfoSize, len(body))
		}
		r.Exit = &ExitInfo{Code: int32(le.Uint32(body[0:])), GroupDead: le.Uint32(body[4:]) != 0}
		return nil
	}
	return derr(ErrUnknownKind, 36, "record kind %d", uint16(r.Kind))
}

func decodeExec(b []byte) *ExecInfo {
	flags := le.Uint32(b[36:])
	return &ExecInfo{
		PPid:           le.Uint32(b[0:]),
		UID:            le.Uint32(b[4:]),
		GID:            le.Uint32(b[8:]),
		EUID:           le.Uint32(b[12:]),
		EGID:           le.Uint32(b[16:]),
		LoginUID:       le.Uint32(b[20:]),
		Tty:            le.Uint32(b[24:]),
		Sid:            le.Uint32(b[28:]),
		Pgid:           le.Uint32(b[32:]),
		Flags:          flags,
		FromMemfd:      flags&ExeFromMemfd != 0,
		CapInheritable: le.Uint64(b[40:]),
		CapPermitted:   le.Uint64(b[48:]),
		CapEffective:   le.Uint64(b[56:]),
		StartTime:      le.Uint64(b[64:]),
		PidnsInitStart: le.Uint64(b[72:]),
		ExeIno:         le.Uint64(b[80:]),
		ExeCtime:       int64(le.Uint64(b[88:])),
		ExeMtime:       int64(le.Uint64(b[96:])),
		Comm:           cstr(b[104:120]),
		Vtid:           le.Uint32(b[120:]),
		Vpid:           le.Uint32(b[124:]),
	}
}

// items decodes the tagged items that follow the fixed part of a record.
func (r *Record) items(raw []byte, off int) error {
	for off < len(raw) {
		if len(raw)-off < itemHdrSize {
			return derr(ErrItem, off, "%d bytes left, item header needs %d", len(raw)-off, itemHdrSize)
		}
		tag, idx, n := raw[off], raw[off+1], int(le.Uint16(raw[off+2:]))
		start := off + itemHdrSize
		if n > len(raw)-start {
			return derr(ErrItem, off, "item of %d bytes, %d left", n, len(raw)-start)
		}
		data := raw[start : start+n]
		switch tag {
		case tagStr:
			if r.Kind != KindSyscall || idx >= 6 {
				return derr(ErrItem, off, "string item for argument %d of a %s record", idx, r.Kind)
			}
			r.Strs[idx] = cstr(data)
			r.StrMask |= 1 << idx
		case tagSockaddr:
			r.Sockaddr = append([]byte(nil), data...)
		case tagMem:
			r.Mem = append([]byte(nil), data...)
		case tagTuple:
			if n != tupleSize {
				return derr(ErrItem, off, "tuple of %d bytes, want %d", n, tupleSize)
			}
			r.Tuple = decodeTuple(data)
		case tagFDPath:
			if n < 4 {
				return derr(ErrItem, off, "fd path item of %d bytes, needs the 4-byte mode", n)
			}
			r.FDMode = le.Uint32(data)
			r.FDPath = cstr(data[4:])
			r.HasFDPath = true
		case tagCwd:
			if r.Exec != nil {
				r.Exec.Cwd = cstr(data)
			} else {
				r.Cwd = cstr(data)
			}
		case tagFilename, tagExeName, tagArgv, tagExePath:
			if r.Exec == nil {
				return derr(ErrItem, off, "exec item in a %s record", r.Kind)
			}
			switch tag {
			case tagFilename:
				r.Exec.Filename = cstr(data)
			case tagExeName:
				r.Exec.ExeName = cstr(data)
			case tagExePath:
				r.Exec.ExePath = cstr(data)
			default:
				r.Exec.Argv = splitArgv(data)
			}
		default:
			return derr(ErrUnknownTag, off, "item tag %d", tag)
		}
		off = start + n
	}
	return nil
}

func decodeTuple(b []byte) *Tuple {
	t := &Tuple{Family: le.Uint16(b[0:]), Type: le.Uint16(b[2:]), Proto: le.Uint16(b[4:])}
	sport, dport := le.Uint16(b[6:]), le.Uint16(b[8:])
	switch t.Family {
	case afInet:
		t.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), sport)
		t.Remote = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[28:32])), dport)
	case afInet6:
		t.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[12:28])), sport)
		t.Remote = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[28:44])), dport)
	}
	return t
}

// cstr returns b up to its first NUL, as a new string.
func cstr(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// splitArgv splits the kernel's NUL-terminated argv strings. A truncated last argument is kept.
func splitArgv(b []byte) []string {
	// Every argument ends with a NUL; only a truncated last one does not.
	if len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return nil
	}
	var out []string
	start := 0
	for i, c := range b {
		if c == 0 {
			out = append(out, string(b[start:i]))
			start = i + 1
		}
	}
	return append(out, string(b[start:]))
}

const (
	afUnix  = 1
	afInet  = 2
	afInet6 = 10
)
