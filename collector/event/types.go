package event

// Syscall-source event types. A syscall event's Type is its x86_64 syscall number; events that
// are not system calls (process exit, signal delivery...) take the numbers from FirstNonSyscallType
// on. Rules name types with evt.type (the syscall name), and the engine indexes rules by Type.
const (
	// FirstNonSyscallType is the first Type that is not a syscall number.
	FirstNonSyscallType uint16 = 1000
	TypeProcExit        uint16 = FirstNonSyscallType + iota - 1
	TypeSignalDeliver
	TypeSwitch
	TypePageFault
	TypeContainer
	TypeNotification
	TypeInfra
	TypeAsyncEvent
	lastType
)

var nonSyscallNames = [...]string{"procexit", "signaldeliver", "switch", "page_fault", "container", "notification", "infra", "asyncevent"}

// NumTypes is one more than the largest syscall-source Type; tables indexed by Type use it.
const NumTypes = int(lastType)

// Legacy and 32-bit syscall names Falco accepts in evt.type that have no x86_64 number of their
// own; they map to their 64-bit equivalent.
var typeAliases = map[string]string{
	"umount":   "umount2",
	"mmap2":    "mmap",
	"fcntl64":  "fcntl",
	"setuid32": "setuid", "setgid32": "setgid", "setresuid32": "setresuid", "setresgid32": "setresgid",
	"setreuid32": "setreuid", "setregid32": "setregid", "getuid32": "getuid", "getgid32": "getgid",
	"geteuid32": "geteuid", "getegid32": "getegid", "getresuid32": "getresuid", "getresgid32": "getresgid",
	"socketcall": "socket", "signalfd4": "signalfd4", "recv": "recvfrom", "send": "sendto",
}

var typeByName = func() map[string]uint16 {
	m := make(map[string]uint16, len(syscallNames)+len(nonSyscallNames)+len(typeAliases))
	for nr, name := range syscallNames {
		if name != "" {
			m[name] = uint16(nr)
		}
	}
	for i, name := range nonSyscallNames {
		m[name] = FirstNonSyscallType + uint16(i)
	}
	for alias, name := range typeAliases {
		if t, ok := m[name]; ok {
			if _, dup := m[alias]; !dup {
				m[alias] = t
			}
		}
	}
	return m
}()

// TypeByName returns the syscall-source Type for an evt.type value (a syscall name such as
// "openat", or an event name such as "procexit").
func TypeByName(name string) (uint16, bool) {
	t, ok := typeByName[name]
	return t, ok
}

// TypeName returns the evt.type name of a syscall-source Type, or "" for an unknown one.
func TypeName(t uint16) string {
	if int(t) < len(syscallNames) {
		return syscallNames[t]
	}
	if t >= FirstNonSyscallType && int(t-FirstNonSyscallType) < len(nonSyscallNames) {
		return nonSyscallNames[t-FirstNonSyscallType]
	}
	return ""
}
