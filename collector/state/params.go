package state

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"

	"github.com/lannersec/lanner/collector/capture"
	"github.com/lannersec/lanner/collector/event"
)

// Parameter rendering: the names and text forms Falco's exit events use (libs driver/event_table.c),
// so evt.arg.NAME, evt.args and outputs read the same as Falco's. Raw carries the number for
// evt.rawarg.NAME; for open flags it is the kernel's open(2) value, which the fields package reads.

type paramKind uint8

const (
	pRes       paramKind = iota // the return value
	pInt                        // signed decimal argument
	pUint                       // unsigned decimal
	pOct                        // octal mode
	pHex                        // hexadecimal (addresses)
	pFD                         // fd argument (AT_FDCWD shown as Falco does)
	pStr                        // user string argument
	pOpenFlags                  // O_* flags
	pDomain                     // AF_* socket family
	pSockType                   // SOCK_* type
	pPtrace                     // PTRACE_* request
	pCloneNS                    // CLONE_NEW* flags (unshare, setns)
	pAtFlags                    // AT_* flags
	pMemfd                      // MFD_* flags
	pSockaddr                   // the captured sockaddr
	pTuple                      // the socket tuple ("a:p->b:q")
	pResFD                      // the return value, named fd
)

type paramSpec struct {
	name string
	kind paramKind
	arg  int // argument index for argument kinds
}

func a(name string, kind paramKind, arg int) paramSpec { return paramSpec{name, kind, arg} }

var (
	res   = paramSpec{"res", pRes, -1}
	resFD = paramSpec{"fd", pResFD, -1}
	tuple = paramSpec{"tuple", pTuple, -1}
	addr  = paramSpec{"addr", pSockaddr, -1}
)

// paramSpecs lists, per syscall name, the exit-event parameters in Falco's order. Syscalls not
// listed get just res.
var paramSpecs = map[string][]paramSpec{
	"open":         {resFD, a("name", pStr, 0), a("flags", pOpenFlags, 1), a("mode", pOct, 2)},
	"openat":       {resFD, a("dirfd", pFD, 0), a("name", pStr, 1), a("flags", pOpenFlags, 2), a("mode", pOct, 3)},
	"openat2":      {resFD, a("dirfd", pFD, 0), a("name", pStr, 1), {"flags", pOpenFlags, -2}, {"mode", pOct, -2}, {"resolve", pUint, -2}},
	"creat":        {resFD, a("name", pStr, 0), a("mode", pOct, 1)},
	"close":        {res, a("fd", pFD, 0)},
	"socket":       {resFD, a("domain", pDomain, 0), a("type", pSockType, 1), a("proto", pInt, 2)},
	"connect":      {res, tuple, a("fd", pFD, 0), addr},
	"accept":       {resFD, tuple},
	"accept4":      {resFD, tuple, a("flags", pInt, 3)},
	"bind":         {res, addr, a("fd", pFD, 0)},
	"listen":       {res, a("fd", pFD, 0), a("backlog", pInt, 1)},
	"sendto":       {res, a("fd", pFD, 0), a("size", pUint, 2), tuple},
	"sendmsg":      {res, a("fd", pFD, 0), tuple},
	"recvfrom":     {res, a("fd", pFD, 0), a("size", pUint, 2), tuple},
	"recvmsg":      {res, a("fd", pFD, 0), tuple},
	"dup":          {res, a("oldfd", pFD, 0)},
	"dup2":         {res, a("oldfd", pFD, 0), a("newfd", pFD, 1)},
	"dup3":         {res, a("oldfd", pFD, 0), a("newfd", pFD, 1), a("flags", pOpenFlags, 2)},
	"symlink":      {res, a("target", pStr, 0), a("linkpath", pStr, 1)},
	"symlinkat":    {res, a("target", pStr, 0), a("linkdirfd", pFD, 1), a("linkpath", pStr, 2)},
	"link":         {res, a("oldpath", pStr, 0), a("newpath", pStr, 1)},
	"linkat":       {res, a("olddir", pFD, 0), a("oldpath", pStr, 1), a("newdir", pFD, 2), a("newpath", pStr, 3), a("flags", pAtFlags, 4)},
	"unlink":       {res, a("path", pStr, 0)},
	"unlinkat":     {res, a("dirfd", pFD, 0), a("name", pStr, 1), a("flags", pAtFlags, 2)},
	"rename":       {res, a("oldpath", pStr, 0), a("newpath", pStr, 1)},
	"renameat":     {res, a("olddirfd", pFD, 0), a("oldpath", pStr, 1), a("newdirfd", pFD, 2), a("newpath", pStr, 3)},
	"renameat2":    {res, a("olddirfd", pFD, 0), a("oldpath", pStr, 1), a("newdirfd", pFD, 2), a("newpath", pStr, 3), a("flags", pUint, 4)},
	"mkdir":        {res, a("path", pStr, 0), a("mode", pOct, 1)},
	"mkdirat":      {res, a("dirfd", pFD, 0), a("path", pStr, 1), a("mode", pOct, 2)},
	"rmdir":        {res, a("path", pStr, 0)},
	"chmod":        {res, a("filename", pStr, 0), a("mode", pOct, 1)},
	"fchmod":       {res, a("fd", pFD, 0), a("mode", pOct, 1)},
	"fchmodat":     {res, a("dirfd", pFD, 0), a("filename", pStr, 1), a("mode", pOct, 2)},
	"chown":        {res, a("path", pStr, 0), a("uid", pUint, 1), a("gid", pUint, 2)},
	"fchownat":     {res, a("dirfd", pFD, 0), a("pathname", pStr, 1), a("uid", pUint, 2), a("gid", pUint, 3), a("flags", pAtFlags, 4)},
	"ptrace":       {res, a("addr", pHex, 2), a("data", pHex, 3), a("request", pPtrace, 0), a("pid", pInt, 1)},
	"init_module":  {res, a("length", pUint, 1), a("uargs", pStr, 2)},
	"finit_module": {res, a("fd", pFD, 0), a("uargs", pStr, 1), a("flags", pUint, 2)},
	"memfd_create": {resFD, a("name", pStr, 0), a("flags", pMemfd, 1)},
	"mount":        {res, a("dev", pStr, 0), a("dir", pStr, 1), a("type", pStr, 2), a("flags", pHex, 3)},
	"umount2":      {res, a("name", pStr, 0), a("flags", pUint, 1)},
	"setuid":       {res, a("uid", pUint, 0)},
	"setgid":       {res, a("gid", pUint, 0)},
	"setreuid":     {res, a("ruid", pUint, 0), a("euid", pUint, 1)},
	"setregid":     {res, a("rgid", pUint, 0), a("egid", pUint, 1)},
	"setresuid":    {res, a("ruid", pUint, 0), a("euid", pUint, 1), a("suid", pUint, 2)},
	"setresgid":    {res, a("rgid", pUint, 0), a("egid", pUint, 1), a("sgid", pUint, 2)},
	"unshare":      {res, a("flags", pCloneNS, 0)},
	"setns":        {res, a("fd", pFD, 0), a("nstype", pCloneNS, 1)},
	"chdir":        {res, a("path", pStr, 0)},
	"fchdir":       {res, a("fd", pFD, 0)},
	"chroot":       {res, a("path", pStr, 0)},
	"kill":         {res, a("pid", pInt, 0), a("sig", pInt, 1)},
	"execve":       {res, a("filename", pStr, 0)},
	"execveat":     {res, a("dirfd", pFD, 0), a("pathname", pStr, 1), a("flags", pAtFlags, 4)},
}

// specsByNr is paramSpecs indexed by syscall number.
var specsByNr = func() [][]paramSpec {
	out := make([][]paramSpec, capture.NumSyscalls)
	for name, specs := range paramSpecs {
		if nr, ok := event.TypeByName(name); ok && int(nr) < len(out) {
			out[nr] = specs
		}
	}
	return out
}()

func specsOf(nr uint16) []paramSpec {
	if int(nr) < len(specsByNr) && specsByNr[nr] != nil {
		return specsByNr[nr]
	}
	return []paramSpec{res}
}

// renderParams appends rec's parameters to ps.
func renderParams(ps []event.Param, rec *capture.Record) []event.Param {
	for _, sp := range specsOf(rec.Nr) {
		ps = append(ps, renderParam(sp, rec))
	}
	return ps
}

func num(name string, v int64, text string) event.Param {
	return event.Param{Name: name, Value: text, Raw: v, HasRaw: true}
}

func renderParam(sp paramSpec, rec *capture.Record) event.Param {
	var v uint64
	if sp.arg >= 0 && sp.arg < 6 {
		v = rec.Args[sp.arg]
	}
	switch sp.kind {
	case pRes, pResFD:
		return num(sp.name, rec.Res, strconv.FormatInt(rec.Res, 10))
	case pInt:
		return num(sp.name, int64(int32(v)), strconv.FormatInt(int64(int32(v)), 10))
	case pUint:
		if sp.arg == -2 { // openat2's struct open_how
			v = openHow(rec, 2)
		}
		return num(sp.name, int64(v), strconv.FormatUint(v, 10))
	case pOct:
		if sp.arg == -2 {
			v = openHow(rec, 1)
		}
		return num(sp.name, int64(v), "0"+strconv.FormatUint(v, 8))
	case pHex:
		return num(sp.name, int64(v), "0x"+strconv.FormatUint(v, 16))
	case pFD:
		fd := int64(int32(v))
		if fd == atFDCWD {
			return num(sp.name, fd, "AT_FDCWD")
		}
		return num(sp.name, fd, strconv.FormatInt(fd, 10))
	case pStr:
		s, _ := rec.Str(sp.arg)
		return event.Param{Name: sp.name, Value: s}
	case pOpenFlags:
		if sp.arg == -2 {
			v = openHow(rec, 0)
		}
		return num(sp.name, int64(v), openFlagsText(v))
	case pDomain:
		return num(sp.name, int64(v), domainText(v))
	case pSockType:
		return num(sp.name, int64(v), sockTypeText(v))
	case pPtrace:
		return num(sp.name, int64(v), ptraceText(v))
	case pCloneNS:
		return num(sp.name, int64(v), flagsText(v, cloneNSFlags))
	case pAtFlags:
		return num(sp.name, int64(v), flagsText(v, atFlags))
	case pMemfd:
		return num(sp.name, int64(v), flagsText(v, memfdFlags))
	case pSockaddr:
		return event.Param{Name: sp.name, Value: sockaddrText(rec.Sockaddr)}
	case pTuple:
		return event.Param{Name: sp.name, Value: tupleText(rec.Tuple)}
	}
	return event.Param{Name: sp.name}
}

// openHow reads field i (flags, mode, resolve) of openat2's struct open_how.
func openHow(rec *capture.Record, i int) uint64 {
	if len(rec.Mem) < (i+1)*8 {
		return 0
	}
	return binary.LittleEndian.Uint64(rec.Mem[i*8:])
}

const atFDCWD = -100

type flagName struct {
	bit  uint64
	name string
}

func flagsText(v uint64, names []flagName) string {
	if v == 0 {
		return "0"
	}
	var b strings.Builder
	for _, f := range names {
		if v&f.bit == f.bit && f.bit != 0 {
			if b.Len() > 0 {
				b.WriteByte('|')
			}
			b.WriteString(f.name)
			v &^= f.bit
		}
	}
	if v != 0 {
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString("0x" + strconv.FormatUint(v, 16))
	}
	return b.String()
}

// Linux x86_64 open(2) flags, in the order Falco prints them.
var openFlagNames = []flagName{
	{0o100, "O_CREAT"}, {0o200, "O_EXCL"}, {0o400, "O_NOCTTY"}, {0o1000, "O_TRUNC"}, {0o2000, "O_APPEND"},
	{0o4000, "O_NONBLOCK"}, {0o10000, "O_DSYNC"}, {0o40000, "O_DIRECT"}, {0o100000, "O_LARGEFILE"},
	{0o20000000 | 0o200000, "O_TMPFILE"}, {0o200000, "O_DIRECTORY"}, {0o400000, "O_NOFOLLOW"},
	{0o1000000, "O_NOATIME"}, {0o2000000, "O_CLOEXEC"}, {0o4010000, "O_SYNC"}, {0o10000000, "O_PATH"},
}

// openFlagsText renders open flags as Falco does: the access mode first, then the other flags.
func openFlagsText(v uint64) string {
	acc := "O_RDONLY"
	switch v & 3 {
	case 1:
		acc = "O_WRONLY"
	case 2:
		acc = "O_RDWR"
	}
	rest := flagsText(v&^3&^0o100000, openFlagNames) // O_LARGEFILE is set by libc on every 64-bit open
	if rest == "0" {
		return acc
	}
	return acc + "|" + rest
}

var domainNames = map[uint64]string{
	0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6", 16: "AF_NETLINK", 17: "AF_PACKET",
	3: "AF_AX25", 4: "AF_IPX", 5: "AF_APPLETALK", 9: "AF_X25", 15: "AF_KEY", 29: "AF_CAN", 31: "AF_BLUETOOTH",
	38: "AF_ALG", 40: "AF_VSOCK", 44: "AF_XDP",
}

func domainText(v uint64) string {
	if n, ok := domainNames[v]; ok {
		return n
	}
	return strconv.FormatUint(v, 10)
}

func sockTypeText(v uint64) string {
	base := map[uint64]string{1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET", 10: "SOCK_PACKET"}[v&0xf]
	if base == "" {
		base = strconv.FormatUint(v&0xf, 10)
	}
	if v&0o4000 != 0 {
		base += "|SOCK_NONBLOCK"
	}
	if v&0o2000000 != 0 {
		base += "|SOCK_CLOEXEC"
	}
	return base
}

var ptraceNames = map[uint64]string{
	0: "PTRACE_TRACEME", 1: "PTRACE_PEEKTEXT", 2: "PTRACE_PEEKDATA", 3: "PTRACE_PEEKUSR", 4: "PTRACE_POKETEXT",
	5: "PTRACE_POKEDATA", 6: "PTRACE_POKEUSR", 7: "PTRACE_CONT", 8: "PTRACE_KILL", 9: "PTRACE_SINGLESTEP",
	12: "PTRACE_GETREGS", 13: "PTRACE_SETREGS", 14: "PTRACE_GETFPREGS", 15: "PTRACE_SETFPREGS",
	16: "PTRACE_ATTACH", 17: "PTRACE_DETACH", 18: "PTRACE_GETFPXREGS", 19: "PTRACE_SETFPXREGS",
	24: "PTRACE_SYSCALL", 0x4200: "PTRACE_SETOPTIONS", 0x4201: "PTRACE_GETEVENTMSG",
	0x4202: "PTRACE_GETSIGINFO", 0x4203: "PTRACE_SETSIGINFO", 0x4204: "PTRACE_GETREGSET",
	0x4205: "PTRACE_SETREGSET", 0x4206: "PTRACE_SEIZE", 0x4207: "PTRACE_INTERRUPT", 0x4208: "PTRACE_LISTEN",
	0x4209: "PTRACE_PEEKSIGINFO",
}

func ptraceText(v uint64) string {
	if n, ok := ptraceNames[v]; ok {
		return n
	}
	return strconv.FormatUint(v, 10)
}

var cloneNSFlags = []flagName{
	{0x00020000, "CLONE_NEWNS"}, {0x02000000, "CLONE_NEWCGROUP"}, {0x04000000, "CLONE_NEWUTS"},
	{0x08000000, "CLONE_NEWIPC"}, {0x10000000, "CLONE_NEWUSER"}, {0x20000000, "CLONE_NEWPID"},
	{0x40000000, "CLONE_NEWNET"}, {0x00000080, "CLONE_NEWTIME"}, {0x00000200, "CLONE_FS"},
	{0x00000400, "CLONE_FILES"}, {0x00000800, "CLONE_SIGHAND"}, {0x00008000, "CLONE_SYSVSEM"},
}

var atFlags = []flagName{
	{0x100, "AT_SYMLINK_NOFOLLOW"}, {0x200, "AT_REMOVEDIR"}, {0x400, "AT_SYMLINK_FOLLOW"},
	{0x800, "AT_NO_AUTOMOUNT"}, {0x1000, "AT_EMPTY_PATH"},
}

// exeFlags are execve's flags parameter, named as Falco names them.
var exeFlags = []flagName{
	{1, "EXE_WRITABLE"}, {2, "EXE_UPPER_LAYER"}, {4, "EXE_FROM_MEMFD"}, {8, "EXE_LOWER_LAYER"},
}

var memfdFlags = []flagName{
	{1, "MFD_CLOEXEC"}, {2, "MFD_ALLOW_SEALING"}, {4, "MFD_HUGETLB"}, {8, "MFD_NOEXEC_SEAL"}, {16, "MFD_EXEC"},
}

// sockaddrText renders a raw sockaddr: "ip:port" for inet, the path for unix sockets.
func sockaddrText(b []byte) string {
	ap, path, fam := parseSockaddr(b)
	switch fam {
	case afInet, afInet6:
		return ap.String()
	case afUnix:
		return path
	}
	return ""
}

const (
	afUnix  = 1
	afInet  = 2
	afInet6 = 10
)

// parseSockaddr decodes sockaddr_in, sockaddr_in6 and sockaddr_un.
func parseSockaddr(b []byte) (ap netip.AddrPort, path string, family uint16) {
	if len(b) < 2 {
		return
	}
	family = binary.LittleEndian.Uint16(b)
	switch family {
	case afInet:
		if len(b) >= 8 {
			ap = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), binary.BigEndian.Uint16(b[2:]))
		}
	case afInet6:
		if len(b) >= 24 {
			ap = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])).Unmap(), binary.BigEndian.Uint16(b[2:]))
		}
	case afUnix:
		p := b[2:]
		if len(p) > 0 && p[0] == 0 {
			// abstract socket: Falco shows it with a leading @
			p = append([]byte{'@'}, p[1:]...)
		}
		if i := strings.IndexByte(string(p), 0); i >= 0 {
			p = p[:i]
		}
		path = string(p)
	}
	return
}

// tupleText renders a socket tuple as Falco does: local->remote for the caller's side.
func tupleText(t *capture.Tuple) string {
	if t == nil || !t.Local.IsValid() {
		return ""
	}
	return t.Local.String() + "->" + t.Remote.String()
}
