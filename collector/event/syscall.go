package event

import (
	"net/netip"
	"strings"
)

// Syscall is the payload of a syscall-source event: the exit of a system call (Falco delivers only
// exit events since libs 0.22, and lanner does the same) or a scheduler event such as procexit.
type Syscall struct {
	// Res is the return value (negative errno on failure).
	Res int64
	// Params are the exit-event parameters in the order of the event table, rendered as Falco
	// renders them for evt.arg.* (flags as "O_RDONLY|O_CLOEXEC", errnos as names).
	Params []Param
	// Thread is the thread that made the call, with its process and ancestry. Nil when unknown.
	Thread *Thread
	// FD is the file descriptor the event is about (the fd returned by open or socket, the fd
	// passed to connect or dup...). Nil when the event has none.
	FD *FD
	// FDNameChanged is set when this event changed FD's name (a UDP sendto to a new peer).
	FDNameChanged bool
}

// Param is one event parameter.
type Param struct {
	Name string
	// Value is the text form used by evt.arg.NAME and evt.args.
	Value string
	// Raw is the numeric value used by evt.rawarg.NAME; HasRaw is false for text parameters.
	Raw    int64
	HasRaw bool
}

// Param returns the parameter called name.
func (s *Syscall) Param(name string) (*Param, bool) {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i], true
		}
	}
	return nil, false
}

// LoginUIDUnset is the kernel's value for "no login uid" (Falco prints it as -1).
const LoginUIDUnset = ^uint32(0)

// Thread is one entry of the thread table. Fields that Falco takes from the process rather than the
// thread (name, exe, args, cwd...) are copied into every thread of the process, as libsinsp does.
//
// The state package owns Thread values and mutates them between events; extractors read them
// while the engine evaluates one event, on the source's goroutine only.
type Thread struct {
	Tid, Pid, PPid int64
	// Vtid and Vpid are the thread and process ids inside the thread's pid namespace (equal to
	// Tid and Pid on the host); 0 when unknown.
	Vtid, Vpid int64
	// Sid is the session id; Vpgid the process group id in the process's pid namespace.
	Sid, Vpgid int64

	// Name is the kernel comm (at most 15 characters).
	Name string
	// Exe is argv[0]; ExePath the resolved path of the executable.
	Exe, ExePath string
	// Args are argv[1:].
	Args []string
	Cwd  string
	Env  []string
	Tty  uint32

	UID, GID, LoginUID uint32
	// User, Group and LoginUser are the names for UID, GID and LoginUID, from the host's or the
	// container's passwd and group files; empty when unknown.
	User, Group, LoginUser string

	CapEffective, CapPermitted, CapInheritable uint64

	// StartTime is when the thread was created (ns since the epoch).
	StartTime int64
	// PidnsInitStart is the start time of the init process of the thread's pid namespace (Falco's
	// container.start_ts).
	PidnsInitStart int64

	ExeFromMemfd, ExeUpperLayer, ExeWritable bool
	// ExeInoCtime and ExeInoMtime are the executable inode's ctime and mtime (ns since the epoch).
	ExeInoCtime, ExeInoMtime int64

	// Container is nil for host processes whose container status is unknown; host processes that
	// are known to be on the host point to a Container with ID "host".
	Container *Container
	// Parent is the parent thread (the process's parent, after re-parenting). Nil for the root of
	// the tree or an unknown parent.
	Parent *Thread

	cmdline string
}

// CmdLine returns Falco's proc.cmdline: the name followed by the arguments, space separated. It is
// computed once and cached; SetArgs resets the cache.
func (t *Thread) CmdLine() string {
	if t.cmdline == "" {
		if len(t.Args) == 0 {
			t.cmdline = t.Name
		} else {
			t.cmdline = t.Name + " " + strings.Join(t.Args, " ")
		}
	}
	return t.cmdline
}

// SetArgs replaces the arguments and the cached command line (after an execve).
func (t *Thread) SetArgs(args []string) {
	t.Args = args
	t.cmdline = ""
}

// FDType is the kind of object a file descriptor refers to.
type FDType uint8

// FD types, with Falco's fd.type names and fd.typechar letters.
const (
	FDUnknown FDType = iota
	FDFile
	FDDirectory
	FDIPv4
	FDIPv6
	FDUnix
	FDPipe
	FDEvent
	FDSignalfd
	FDEventPoll
	FDInotify
	FDTimerfd
	FDNetlink
	FDBPF
	FDUserfaultfd
	FDIOUring
	FDMemfd
	FDPidfd
	FDRawIPv4
	FDRawIPv6
	numFDTypes
)

var fdTypeNames = [...]string{
	FDUnknown: "unknown", FDFile: "file", FDDirectory: "directory", FDIPv4: "ipv4", FDIPv6: "ipv6",
	FDUnix: "unix", FDPipe: "pipe", FDEvent: "event", FDSignalfd: "signalfd", FDEventPoll: "eventpoll",
	FDInotify: "inotify", FDTimerfd: "timerfd", FDNetlink: "netlink", FDBPF: "bpf",
	FDUserfaultfd: "userfaultfd", FDIOUring: "io_uring", FDMemfd: "memfd", FDPidfd: "pidfd",
	FDRawIPv4: "ipv4", FDRawIPv6: "ipv6",
}

var fdTypeChars = [...]string{
	FDUnknown: "?", FDFile: "f", FDDirectory: "d", FDIPv4: "4", FDIPv6: "6", FDUnix: "u", FDPipe: "p",
	FDEvent: "e", FDSignalfd: "s", FDEventPoll: "l", FDInotify: "i", FDTimerfd: "t", FDNetlink: "n",
	FDBPF: "b", FDUserfaultfd: "u", FDIOUring: "r", FDMemfd: "m", FDPidfd: "P", FDRawIPv4: "4",
	FDRawIPv6: "6",
}

// String returns Falco's fd.type name.
func (t FDType) String() string {
	if t < numFDTypes {
		return fdTypeNames[t]
	}
	return "unknown"
}

// Char returns Falco's fd.typechar letter.
func (t FDType) Char() string {
	if t < numFDTypes {
		return fdTypeChars[t]
	}
	return "?"
}

// ParseFDType maps a Falco fd.type name to an FDType.
func ParseFDType(name string) (FDType, bool) {
	for i, n := range fdTypeNames {
		if n == name {
			return FDType(i), true
		}
	}
	return FDUnknown, false
}

// L4 protocols of socket fds (fd.l4proto).
const (
	L4Unknown uint8 = iota
	L4TCP
	L4UDP
	L4ICMP
	L4Raw
)

// FD is one entry of a process's fd table, or the fd an event is about.
type FD struct {
	Num  int64
	Type FDType
	// Name is the full path for files, the connection tuple "cip:cport->sip:sport" for inet
	// sockets, the path for unix sockets; NameRaw is the path exactly as the syscall passed it.
	Name, NameRaw string
	// OpenFlags are the open(2) flags the fd was opened with.
	OpenFlags uint32

	// Socket endpoints. The client is the side that called connect; Server reports whether the
	// local end is the server (the fd came from accept or was bound and listened on).
	L4Proto       uint8
	ClientIP      netip.Addr
	ServerIP      netip.Addr
	ClientPort    uint16
	ServerPort    uint16
	LocalIsServer bool
	Connected     bool
}
