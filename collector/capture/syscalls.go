package capture

import (
	"slices"

	"github.com/lannersec/lanner/collector/event"
)

// Layout tells the kernel side what to copy for one syscall besides its six raw arguments. It is
// data, pushed into the sc_cfg map, so adding a syscall needs no new BPF code.
type Layout struct {
	// StrArgs lists the arguments that are user-space strings (paths, names).
	StrArgs []int
	// SockaddrArg is the argument that points to a sockaddr, and SockaddrLenArg the one holding
	// its length; -1 when the call has none. For sendmsg the kernel follows msghdr.msg_name.
	SockaddrArg, SockaddrLenArg int
	// TupleFD says which fd the kernel describes (TupleNone, TupleArg0 or TupleRet): a socket's
	// tuple, or a file's mode and path. With it userspace knows what an fd is without having
	// followed every open, dup and close.
	TupleFD uint8
	// Cwd asks for the working directory after the call (chdir, fchdir).
	Cwd bool
	// MemArg and MemLen: copy MemLen bytes of user memory from argument MemArg (-1: none).
	MemArg, MemLen int
	// SkipSuccess drops successful calls in the kernel (execve: sched_process_exec reports them).
	SkipSuccess bool
}

// Which fd a Layout has the kernel describe.
const (
	TupleNone uint8 = 0
	TupleArg0 uint8 = 1
	TupleRet  uint8 = 2
)

const scCwd = 1 // SC_CWD

func plain() Layout { return Layout{SockaddrArg: -1, SockaddrLenArg: -1, MemArg: -1} }

func strs(i ...int) Layout { l := plain(); l.StrArgs = i; return l }

func sock(sa, salen int, tuple uint8) Layout {
	l := plain()
	l.SockaddrArg, l.SockaddrLenArg, l.TupleFD = sa, salen, tuple
	return l
}

// layouts maps x86_64 syscall numbers to what the kernel copies. A syscall that is not listed is
// captured with its raw arguments only.
var layouts = withFDSyscalls(map[string]Layout{
	"open": strs(0), "openat": strs(1), "creat": strs(0),
	"openat2": func() Layout { l := strs(1); l.MemArg, l.MemLen = 2, 24; return l }(),
	"execve":  func() Layout { l := strs(0); l.SkipSuccess = true; return l }(),
	"execveat": func() Layout {
		l := strs(1)
		l.SkipSuccess = true
		return l
	}(),
	"connect": sock(1, 2, TupleArg0), "bind": sock(1, 2, TupleArg0),
	"sendto": sock(4, 5, TupleArg0), "sendmsg": sock(1, -1, TupleArg0),
	"accept": sock(-1, -1, TupleRet), "accept4": sock(-1, -1, TupleRet),
	"recvfrom": sock(-1, -1, TupleArg0), "recvmsg": sock(-1, -1, TupleArg0),
	"listen":  sock(-1, -1, TupleArg0),
	"symlink": strs(0, 1), "symlinkat": strs(0, 2),
	"link": strs(0, 1), "linkat": strs(1, 3),
	"unlink": strs(0), "unlinkat": strs(1),
	"rename": strs(0, 1), "renameat": strs(1, 3), "renameat2": strs(1, 3),
	"mkdir": strs(0), "mkdirat": strs(1), "rmdir": strs(0),
	"chmod": strs(0), "fchmodat": strs(1), "fchmodat2": strs(1),
	"chown": strs(0), "lchown": strs(0), "fchownat": strs(1),
	"chdir":  func() Layout { l := strs(0); l.Cwd = true; return l }(),
	"fchdir": func() Layout { l := sock(-1, -1, TupleArg0); l.Cwd = true; return l }(),
	"chroot": strs(0),
	"mount":  strs(0, 1, 2), "umount2": strs(0),
	"init_module": strs(2), "finit_module": strs(1),
	"memfd_create": strs(0),
	"truncate":     strs(0),
	"mknod":        strs(0), "mknodat": strs(1),
	"quotactl": strs(1),
})

// fdSyscalls take an fd as their first argument: the kernel describes it.
// close is not among them: at its exit the fd is gone (its event describes the fd from the table).
var fdSyscalls = []string{
	"dup", "dup2", "dup3", "fcntl", "read", "write", "readv", "writev", "pread64", "pwrite64",
	"preadv", "pwritev", "preadv2", "pwritev2", "fchmod", "fchown", "ioctl", "fstat", "ftruncate", "flock",
	"fsync", "fdatasync", "sendfile", "getdents", "getdents64", "lseek", "shutdown", "getsockopt",
	"setsockopt", "mmap", "splice", "tee", "copy_file_range",
}

// withFDSyscalls adds the fd-describing layout for fdSyscalls that m does not list.
func withFDSyscalls(m map[string]Layout) map[string]Layout {
	for _, n := range fdSyscalls {
		if _, ok := m[n]; !ok {
			m[n] = sock(-1, -1, TupleArg0)
		}
	}
	return m
}

// LayoutOf returns the capture layout of syscall nr.
func LayoutOf(nr uint16) Layout {
	if l, ok := layouts[event.TypeName(nr)]; ok {
		return l
	}
	return plain()
}

// stateSyscalls are the syscalls the state tracker needs whatever the rules say: what changes a
// thread's directory, credentials or session. Forks, execs and exits come from the scheduler
// tracepoints, and the kernel describes every fd an event is about, so, unlike Falco's repair
// set, no open, close or dup has to be followed for the fd table to be right: those high-volume
// calls are reported only when a rule asks for them.
var stateSyscalls = []string{
	"chdir", "fchdir",
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "capset",
	"setsid", "setpgid",
}

// StateSyscalls returns the syscall numbers the state tracker always needs.
func StateSyscalls() []uint16 {
	out := make([]uint16, 0, len(stateSyscalls))
	for _, n := range stateSyscalls {
		if t, ok := event.TypeByName(n); ok {
			out = append(out, t)
		}
	}
	return out
}

// InterestingSyscalls is the set the kernel should report: the state set plus the types the loaded
// rules can match (engine event types; non-syscall types such as procexit are ignored here, the
// scheduler tracepoints always run). all means a rule matches every type: then every syscall
// is reported, which is what Falco does too.
func InterestingSyscalls(ruleTypes []uint16, all bool) []uint16 {
	set := map[uint16]bool{}
	for _, t := range StateSyscalls() {
		set[t] = true
	}
	if all {
		for t := range uint16(NumSyscalls) {
			if event.TypeName(t) != "" {
				set[t] = true
			}
		}
	}
	for _, t := range ruleTypes {
		if t < NumSyscalls {
			set[t] = true
		}
	}
	out := make([]uint16, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// DefaultSyscalls is the set for the upstream stable rules when the caller has not computed one:
// the state set plus what those rules name in evt.type.
func DefaultSyscalls() []uint16 {
	var rt []uint16
	for _, n := range []string{
		"open", "openat", "openat2", "execve", "execveat", "symlink", "symlinkat", "link", "linkat",
		"init_module", "finit_module", "dup", "dup2", "dup3", "connect", "socket", "ptrace",
		"sendto", "sendmsg", "memfd_create", "unlink", "unlinkat", "rename", "renameat", "renameat2",
		"mkdir", "mkdirat", "rmdir", "mount", "umount2", "chmod", "fchmod", "fchmodat",
	} {
		if t, ok := event.TypeByName(n); ok {
			rt = append(rt, t)
		}
	}
	return InterestingSyscalls(rt, false)
}

// kernelConfig is the sc_cfg map value (struct sc_cfg in lanner.bpf.c) of syscall nr, with the
// open filter f (nil: none).
func kernelConfig(nr uint16, f *OpenFilter) [16]byte {
	l := LayoutOf(nr)
	var c [16]byte
	c[0] = 1
	for _, i := range l.StrArgs {
		c[1] |= 1 << i
	}
	if l.SockaddrArg >= 0 {
		c[2] = uint8(l.SockaddrArg + 1)
		c[3] = 6 // "no length argument" unless one is given
		if l.SockaddrLenArg >= 0 {
			c[3] = uint8(l.SockaddrLenArg)
		}
	}
	c[4] = l.TupleFD
	if l.MemArg >= 0 {
		c[5] = uint8(l.MemArg + 1)
		c[6] = uint8(l.MemLen)
	}
	if l.SkipSuccess {
		c[7] = 1
	}
	if l.Cwd {
		c[8] |= scCwd
	}
	c[9], c[10], c[11] = openFilterConfig(nr, f)
	return c
}
