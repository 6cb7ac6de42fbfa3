package fields

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lannersec/lanner/collector/event"
)

// Builders for the syscall tables: each makes a Field whose extractor is one typed function.
// Fields without an argument share one Extractor template; Resolve copies nothing but Name and
// Arg into it, so Build returns a fresh value each time.

type (
	strFn  = func(e *event.Event) (string, bool)
	numFn  = func(e *event.Event) (int64, bool)
	boolFn = func(e *event.Event) (bool, bool)
	ipFn   = func(e *event.Event) (netip.Addr, bool)
)

func noArg(f func() *Extractor) func(string, bool) (*Extractor, error) {
	return func(string, bool) (*Extractor, error) { return f(), nil }
}

func strField(name string, flags Flags, desc string, fn strFn) *Field {
	return &Field{Name: name, Type: TypeCharBuf, Flags: flags, Desc: desc,
		Build: noArg(func() *Extractor { return &Extractor{Str: fn} })}
}

func numField(name string, typ Type, flags Flags, desc string, fn numFn) *Field {
	return &Field{Name: name, Type: typ, Flags: flags, Desc: desc,
		Build: noArg(func() *Extractor { return &Extractor{Num: fn} })}
}

func boolField(name string, flags Flags, desc string, fn boolFn) *Field {
	return &Field{Name: name, Type: TypeBool, Flags: flags, Desc: desc,
		Build: noArg(func() *Extractor { return &Extractor{Bool: fn} })}
}

func ipField(name string, typ Type, flags Flags, desc string, fn ipFn) *Field {
	return &Field{Name: name, Type: typ, Flags: flags, Desc: desc,
		Build: noArg(func() *Extractor { return &Extractor{IP: fn} })}
}

// thread returns the thread of a syscall event, or nil.
func thread(e *event.Event) *event.Thread {
	if e == nil || e.Sys == nil {
		return nil
	}
	return e.Sys.Thread
}

// maxAncestry bounds walks up the parent chain, so a loop in a corrupt thread table ends.
const maxAncestry = 1024

// ancestor returns the n-th ancestor of t (0 = t itself, 1 = parent...), or nil.
func ancestor(t *event.Thread, n int) *event.Thread {
	for i := 0; t != nil && i < n; i++ {
		t = t.Parent
		if i >= maxAncestry {
			return nil
		}
	}
	return t
}

// parseIndex parses an ancestor or list index argument: a non-negative decimal number.
func parseIndex(arg string) (int, error) {
	if arg == "" {
		return 0, errors.New("empty index")
	}
	n, err := strconv.Atoi(arg)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("index %q is not a non-negative number", arg)
	}
	return n, nil
}

// validKey accepts the keys of evt.arg, proc.env, k8s.pod.label...: anything but an empty
// string or one with control characters or brackets.
func validKey(arg string) error {
	if arg == "" {
		return errors.New("empty key")
	}
	for i := 0; i < len(arg); i++ {
		if c := arg[i]; c < 0x20 || c == '[' || c == ']' || c == 0x7f {
			return fmt.Errorf("key %q has a character that is not allowed", arg)
		}
	}
	return nil
}

// hasFlagToken reports whether a flags text such as "O_WRONLY|O_CREAT|O_TRUNC" holds tok as
// one of its |-separated names, without allocating.
func hasFlagToken(s, tok string) bool {
	for len(s) > 0 {
		i := strings.IndexByte(s, '|')
		var part string
		if i < 0 {
			part, s = s, ""
		} else {
			part, s = s[:i], s[i+1:]
		}
		if strings.TrimSpace(part) == tok {
			return true
		}
	}
	return false
}

// capNames are the Linux capability names by bit number, as Falco prints capability sets.
var capNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// CapsString renders a capability mask the way Falco prints thread.cap_*: the names of the set
// bits in bit order, space separated; bits beyond the known capabilities are left out.
func CapsString(mask uint64) string {
	var b strings.Builder
	for i, n := range capNames {
		if mask&(1<<uint(i)) != 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(n)
		}
	}
	return b.String()
}

// ParseCaps is the inverse of CapsString, for replay input: it accepts names with or without the
// CAP_ prefix, in any case, separated by spaces, commas or |.
func ParseCaps(s string) (uint64, error) {
	var mask uint64
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '|' }) {
		name := strings.ToUpper(tok)
		if !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		found := false
		for i, n := range capNames {
			if n == name {
				mask |= 1 << uint(i)
				found = true
				break
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown capability %q", tok)
		}
	}
	return mask, nil
}

// capsCache keeps the last rendered mask of one extractor: threads of a workload mostly share
// their capability sets, so rendering allocates once per distinct set, not per event.
type capsCache struct {
	mask uint64
	text string
	set  bool
}

func (c *capsCache) get(mask uint64) string {
	if !c.set || c.mask != mask {
		c.mask, c.text, c.set = mask, CapsString(mask), true
	}
	return c.text
}

// errnoNames are the Linux errno names by number, as Falco prints a failed evt.res.
var errnoNames = [...]string{
	1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO", 7: "E2BIG", 8: "ENOEXEC",
	9: "EBADF", 10: "ECHILD", 11: "EAGAIN", 12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 15: "ENOTBLK",
	16: "EBUSY", 17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR", 22: "EINVAL",
	23: "ENFILE", 24: "EMFILE", 25: "ENOTTY", 26: "ETXTBSY", 27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE",
	30: "EROFS", 31: "EMLINK", 32: "EPIPE", 33: "EDOM", 34: "ERANGE", 35: "EDEADLK",
	36: "ENAMETOOLONG", 37: "ENOLCK", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 42: "ENOMSG",
	43: "EIDRM", 44: "ECHRNG", 45: "EL2NSYNC", 46: "EL3HLT", 47: "EL3RST", 48: "ELNRNG",
	49: "EUNATCH", 50: "ENOCSI", 51: "EL2HLT", 52: "EBADE", 53: "EBADR", 54: "EXFULL", 55: "ENOANO",
	56: "EBADRQC", 57: "EBADSLT", 59: "EBFONT", 60: "ENOSTR", 61: "ENODATA", 62: "ETIME", 63: "ENOSR",
	64: "ENONET", 65: "ENOPKG", 66: "EREMOTE", 67: "ENOLINK", 68: "EADV", 69: "ESRMNT", 70: "ECOMM",
	71: "EPROTO", 72: "EMULTIHOP", 73: "EDOTDOT", 74: "EBADMSG", 75: "EOVERFLOW", 76: "ENOTUNIQ",
	77: "EBADFD", 78: "EREMCHG", 79: "ELIBACC", 80: "ELIBBAD", 81: "ELIBSCN", 82: "ELIBMAX",
	83: "ELIBEXEC", 84: "EILSEQ", 85: "ERESTART", 86: "ESTRPIPE", 87: "EUSERS", 88: "ENOTSOCK",
	89: "EDESTADDRREQ", 90: "EMSGSIZE", 91: "EPROTOTYPE", 92: "ENOPROTOOPT", 93: "EPROTONOSUPPORT",
	94: "ESOCKTNOSUPPORT", 95: "EOPNOTSUPP", 96: "EPFNOSUPPORT", 97: "EAFNOSUPPORT", 98: "EADDRINUSE",
	99: "EADDRNOTAVAIL", 100: "ENETDOWN", 101: "ENETUNREACH", 102: "ENETRESET", 103: "ECONNABORTED",
	104: "ECONNRESET", 105: "ENOBUFS", 106: "EISCONN", 107: "ENOTCONN", 108: "ESHUTDOWN",
	109: "ETOOMANYREFS", 110: "ETIMEDOUT", 111: "ECONNREFUSED", 112: "EHOSTDOWN", 113: "EHOSTUNREACH",
	114: "EALREADY", 115: "EINPROGRESS", 116: "ESTALE", 117: "EUCLEAN", 118: "ENOTNAM",
	119: "ENAVAIL", 120: "EISNAM", 121: "EREMOTEIO", 122: "EDQUOT", 123: "ENOMEDIUM",
	124: "EMEDIUMTYPE", 125: "ECANCELED", 126: "ENOKEY", 127: "EKEYEXPIRED", 128: "EKEYREVOKED",
	129: "EKEYREJECTED", 130: "EOWNERDEAD", 131: "ENOTRECOVERABLE", 132: "ERFKILL", 133: "EHWPOISON",
	512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND", 515: "ENOIOCTLCMD",
	516: "ERESTART_RESTARTBLOCK", 517: "EPROBE_DEFER", 518: "EOPENSTALE", 519: "ENOPARAM",
	521: "EBADHANDLE", 522: "ENOTSYNC", 523: "EBADCOOKIE", 524: "ENOTSUPP", 525: "ETOOSMALL",
	526: "ESERVERFAULT", 527: "EBADTYPE", 528: "EJUKEBOX", 529: "EIOCBQUEUED", 530: "ERECALLCONFLICT",
}

// ErrnoName returns the name of a Linux errno (2 -> "ENOENT"), or "" for an unknown number.
func ErrnoName(n int64) string {
	if n > 0 && n < int64(len(errnoNames)) {
		return errnoNames[n]
	}
	return ""
}

// ErrnoByName returns the number of a Linux errno name, for replay input.
func ErrnoByName(name string) (int64, bool) {
	for i, n := range errnoNames {
		if n != "" && n == name {
			return int64(i), true
		}
	}
	return 0, false
}
