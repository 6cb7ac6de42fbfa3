package fields

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/lannersec/lanner/collector/event"
)

// fdOf returns the fd the event is about, or nil. An FD with a negative number stands for an fd
// the call failed to create (open returning -ENOENT): it still names the path, as Falco reads
// fd.name, fd.directory and fd.typechar from the event's own parameters then, but it has no
// fd-table entry, so fd.type, fd.filename and the socket fields are missing.
func fdOf(e *event.Event) *event.FD {
	if e == nil || e.Sys == nil {
		return nil
	}
	return e.Sys.FD
}

// fdEntry returns the event's fd if it is an entry of the fd table.
func fdEntry(e *event.Event) *event.FD {
	fd := fdOf(e)
	if fd == nil || fd.Num < 0 {
		return nil
	}
	return fd
}

func isInet(t event.FDType) bool {
	return t == event.FDIPv4 || t == event.FDIPv6 || t == event.FDRawIPv4 || t == event.FDRawIPv6
}

// inet returns the event's fd if it is an IP socket with at least one known end.
func inet(e *event.Event) *event.FD {
	fd := fdEntry(e)
	if fd == nil || !isInet(fd.Type) || (!fd.ClientIP.IsValid() && !fd.ServerIP.IsValid()) {
		return nil
	}
	return fd
}

// conn returns the event's fd if it is an IP socket with both ends known, so local and remote
// are defined.
func conn(e *event.Event) *event.FD {
	fd := inet(e)
	if fd == nil || !fd.ClientIP.IsValid() || !fd.ServerIP.IsValid() {
		return nil
	}
	return fd
}

// fdDirectory is Falco's fd.directory of a path: everything before the last '/', "/" for a path
// directly under the root or without a '/', and the path unchanged when it ends in '/'.
func fdDirectory(name string) string {
	pos := strings.LastIndexByte(name, '/')
	if pos <= 0 {
		return "/"
	}
	if pos < len(name)-1 {
		return name[:pos]
	}
	return name
}

// fdFilename is Falco's fd.filename of a path: everything after the last '/', the path unchanged
// when it ends in '/', and "/" for a name without a '/'.
func fdFilename(name string) string {
	pos := strings.LastIndexByte(name, '/')
	if pos < 0 {
		return "/"
	}
	if pos < len(name)-1 {
		return name[pos+1:]
	}
	return name
}

// dedupSlashes collapses repeated '/' the way Falco cleans fd.nameraw; it allocates only when
// there is something to collapse.
func dedupSlashes(s string) string {
	if !strings.Contains(s, "//") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '/' && i > 0 && s[i-1] == '/' {
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var l4Names = [...]string{event.L4TCP: "tcp", event.L4UDP: "udp", event.L4ICMP: "icmp", event.L4Raw: "raw"}

func fdIP(get func(fd *event.FD) netip.Addr, needBoth bool) ipFn {
	return func(e *event.Event) (netip.Addr, bool) {
		var fd *event.FD
		if needBoth {
			fd = conn(e)
		} else {
			fd = inet(e)
		}
		if fd == nil {
			return netip.Addr{}, false
		}
		a := get(fd)
		return a, a.IsValid()
	}
}

func fdPort(get func(fd *event.FD) (uint16, bool), needBoth bool) numFn {
	return func(e *event.Event) (int64, bool) {
		var fd *event.FD
		if needBoth {
			fd = conn(e)
		} else {
			fd = inet(e)
		}
		if fd == nil {
			return 0, false
		}
		p, ok := get(fd)
		return int64(p), ok
	}
}

func clientIP(fd *event.FD) netip.Addr { return fd.ClientIP }
func serverIP(fd *event.FD) netip.Addr { return fd.ServerIP }
func localIP(fd *event.FD) netip.Addr {
	if fd.LocalIsServer {
		return fd.ServerIP
	}
	return fd.ClientIP
}
func remoteIP(fd *event.FD) netip.Addr {
	if fd.LocalIsServer {
		return fd.ClientIP
	}
	return fd.ServerIP
}
func clientPort(fd *event.FD) (uint16, bool) { return fd.ClientPort, fd.ClientIP.IsValid() }
func serverPort(fd *event.FD) (uint16, bool) { return fd.ServerPort, fd.ServerIP.IsValid() }
func localPort(fd *event.FD) (uint16, bool) {
	if fd.LocalIsServer {
		return fd.ServerPort, true
	}
	return fd.ClientPort, true
}
func remotePort(fd *event.FD) (uint16, bool) {
	if fd.LocalIsServer {
		return fd.ClientPort, true
	}
	return fd.ServerPort, true
}

// anyEndIP builds fd.ip and fd.net: both ends of the connection, a check holding when it holds
// for either end, and != only when it holds for both (Falco's compare_ip and compare_net).
func anyEndIP(name string, typ Type, desc string) *Field {
	return &Field{Name: name, Type: typ, Flags: FilterOnly | NoRHS | NoTransformer, Desc: desc,
		Build: noArg(func() *Extractor {
			return &Extractor{List: true, AnyOf: true, NotEqualAll: true,
				IPs: func(e *event.Event, dst []netip.Addr) ([]netip.Addr, bool) {
					fd := inet(e)
					if fd == nil {
						return dst, false
					}
					if fd.ClientIP.IsValid() {
						dst = append(dst, fd.ClientIP)
					}
					if fd.ServerIP.IsValid() {
						dst = append(dst, fd.ServerIP)
					}
					return dst, true
				}}
		})}
}

func anyEndPort(name, desc string) *Field {
	return &Field{Name: name, Type: TypePort, Flags: FilterOnly | NoRHS | NoTransformer, Desc: desc,
		Build: noArg(func() *Extractor {
			return &Extractor{List: true, AnyOf: true, NotEqualAll: true,
				Nums: func(e *event.Event, dst []int64) ([]int64, bool) {
					fd := inet(e)
					if fd == nil {
						return dst, false
					}
					if fd.ClientIP.IsValid() {
						dst = append(dst, int64(fd.ClientPort))
					}
					if fd.ServerIP.IsValid() {
						dst = append(dst, int64(fd.ServerPort))
					}
					return dst, true
				}}
		})}
}

func protoField(name, desc string, get func(fd *event.FD) (uint16, bool), needBoth bool) *Field {
	port := fdPort(get, needBoth)
	return strField(name, 0, desc, func(e *event.Event) (string, bool) {
		p, ok := port(e)
		if !ok {
			return "", false
		}
		// Falco resolves service names only with hostname and port resolution enabled, which
		// it is not by default: the port number as text.
		return strconv.FormatInt(p, 10), true
	})
}

func ipNameField(c *config, name, desc string, ip ipFn) *Field {
	return strField(name, NoRHS|NoTransformer, desc, func(e *event.Event) (string, bool) {
		if c.hosts == nil {
			return "", false
		}
		a, ok := ip(e)
		if !ok {
			return "", false
		}
		return c.hosts.NameOf(a)
	})
}

func fdFields(c *config) []*Field {
	return []*Field{
		numField("fd.num", TypeInt64, 0, "The number of the file descriptor the event is about; -1 when the call failed to create one.",
			func(e *event.Event) (int64, bool) {
				fd := fdOf(e)
				if fd == nil {
					return 0, false
				}
				return fd.Num, true
			}),
		strField("fd.type", 0, "Type of the fd: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, eventpoll, inotify, timerfd, netlink, bpf, userfaultfd, io_uring, memfd or pidfd.",
			func(e *event.Event) (string, bool) {
				fd := fdEntry(e)
				if fd == nil {
					return "", false
				}
				return fd.Type.String(), true
			}),
		strField("fd.typechar", 0, "Type of the fd as one letter: f file, d directory, 4 IPv4 socket, 6 IPv6 socket, u unix socket, p pipe, e eventfd, s signalfd, l eventpoll, i inotify, t timerfd, n netlink, b bpf, r io_uring, m memfd, P pidfd.",
			func(e *event.Event) (string, bool) {
				fd := fdOf(e)
				if fd == nil {
					return "", false
				}
				return fd.Type.Char(), true
			}),
		strField("fd.name", 0, "Full name of the fd: the absolute path of a file, the connection tuple (cip:cport->sip:sport) of a socket.",
			func(e *event.Event) (string, bool) {
				fd := fdOf(e)
				if fd == nil {
					return "", false
				}
				return fd.Name, true
			}),
		strField("fd.directory", 0, "For a file, the directory that contains it; for a directory, its path.",
			func(e *event.Event) (string, bool) {
				fd := fdOf(e)
				switch {
				case fd == nil:
					return "", false
				case fd.Num < 0 || fd.Type == event.FDFile:
					return fdDirectory(fd.Name), true
				case fd.Type == event.FDDirectory:
					return fd.Name, true
				}
				return "", false
			}),
		strField("fd.filename", 0, "For a file, its name without the directory.",
			func(e *event.Event) (string, bool) {
				fd := fdEntry(e)
				if fd == nil || fd.Type != event.FDFile {
					return "", false
				}
				return fdFilename(fd.Name), true
			}),
		anyEndIP("fd.ip", TypeIPAddr, "Matches either IP address of the fd (client or server)."),
		ipField("fd.cip", TypeIPAddr, 0, "Client IP address.", fdIP(clientIP, false)),
		ipField("fd.sip", TypeIPAddr, 0, "Server IP address.", fdIP(serverIP, false)),
		ipField("fd.lip", TypeIPAddr, 0, "Local IP address.", fdIP(localIP, true)),
		ipField("fd.rip", TypeIPAddr, 0, "Remote IP address.", fdIP(remoteIP, true)),
		anyEndPort("fd.port", "Matches either port of the fd (client or server)."),
		numField("fd.cport", TypePort, 0, "For TCP/UDP fds, the client port.", fdPort(clientPort, false)),
		numField("fd.sport", TypePort, 0, "For TCP/UDP fds, the server port.", fdPort(serverPort, false)),
		numField("fd.lport", TypePort, 0, "For TCP/UDP fds, the local port.", fdPort(localPort, true)),
		numField("fd.rport", TypePort, 0, "For TCP/UDP fds, the remote port.", fdPort(remotePort, true)),
		strField("fd.l4proto", 0, "The IP protocol of a socket: tcp, udp, icmp or raw (<NA> for other fds).",
			func(e *event.Event) (string, bool) {
				fd := fdEntry(e)
				if fd == nil {
					return "", false
				}
				if int(fd.L4Proto) < len(l4Names) && l4Names[fd.L4Proto] != "" {
					return l4Names[fd.L4Proto], true
				}
				// Falco returns the text <NA> here, not a missing value.
				return "<NA>", true
			}),
		strField("fd.sockfamily", 0, "The socket family: ip or unix.",
			func(e *event.Event) (string, bool) {
				fd := fdEntry(e)
				switch {
				case fd == nil:
					return "", false
				case isInet(fd.Type):
					return "ip", true
				case fd.Type == event.FDUnix:
					return "unix", true
				}
				return "", false
			}),
		boolField("fd.is_server", 0, "True if the process owning the fd is the server end of the connection.",
			func(e *event.Event) (bool, bool) {
				fd := fdEntry(e)
				if fd == nil {
					return false, false
				}
				return isInet(fd.Type) && fd.LocalIsServer, true
			}),
		strField("fd.uid", 0, "A unique id for the fd: the thread id followed by the fd number.",
			func(e *event.Event) (string, bool) {
				t := thread(e)
				fd := fdOf(e)
				if t == nil || fd == nil {
					return "", false
				}
				return strconv.FormatInt(t.Tid, 10) + strconv.FormatInt(fd.Num, 10), true
			}),
		strField("fd.containername", 0, "The container id and the fd name, joined by ':'.",
			func(e *event.Event) (string, bool) {
				t := thread(e)
				fd := fdOf(e)
				if t == nil || fd == nil || t.Container == nil {
					return "", false
				}
				return t.Container.ID + ":" + fd.Name, true
			}),
		strField("fd.containerdirectory", 0, "The container id and fd.directory, joined by ':'.",
			func(e *event.Event) (string, bool) {
				t := thread(e)
				fd := fdOf(e)
				if t == nil || fd == nil || t.Container == nil || (fd.Num >= 0 && fd.Type != event.FDFile && fd.Type != event.FDDirectory) {
					return "", false
				}
				d := fd.Name
				if fd.Type != event.FDDirectory {
					d = fdDirectory(d)
				}
				return t.Container.ID + ":" + d, true
			}),
		anyEndPort("fd.proto", "Matches either port of the fd (client or server); like fd.port."),
		protoField("fd.cproto", "For TCP/UDP fds, the client port as text.", clientPort, false),
		protoField("fd.sproto", "For TCP/UDP fds, the server port as text.", serverPort, false),
		protoField("fd.lproto", "For TCP/UDP fds, the local port as text.", localPort, true),
		protoField("fd.rproto", "For TCP/UDP fds, the remote port as text.", remotePort, true),
		anyEndIP("fd.net", TypeIPNet, "Matches when either IP address of the fd (client or server) is in the network."),
		ipField("fd.cnet", TypeIPNet, FilterOnly|NoRHS|NoTransformer, "Matches when the client IP address is in the network.", fdIP(clientIP, false)),
		ipField("fd.snet", TypeIPNet, FilterOnly|NoRHS|NoTransformer, "Matches when the server IP address is in the network.", fdIP(serverIP, false)),
		ipField("fd.lnet", TypeIPNet, FilterOnly|NoRHS|NoTransformer, "Matches when the local IP address is in the network.", fdIP(localIP, true)),
		ipField("fd.rnet", TypeIPNet, FilterOnly|NoRHS|NoTransformer, "Matches when the remote IP address is in the network.", fdIP(remoteIP, true)),
		boolField("fd.connected", 0, "For TCP/UDP fds, true if the socket is connected.",
			func(e *event.Event) (bool, bool) {
				fd := fdEntry(e)
				if fd == nil {
					return false, false
				}
				return fd.Connected, true
			}),
		boolField("fd.name_changed", 0, "True when the event changed the name of its fd (a UDP send to a new peer changes the tuple).",
			func(e *event.Event) (bool, bool) {
				if fdEntry(e) == nil {
					return false, false
				}
				return e.Sys.FDNameChanged, true
			}),
		ipNameField(c, "fd.cip.name", "Domain name of the client IP address, among the names lanner resolves.", fdIP(clientIP, false)),
		ipNameField(c, "fd.sip.name", "Domain name of the server IP address, among the names lanner resolves.", fdIP(serverIP, false)),
		ipNameField(c, "fd.lip.name", "Domain name of the local IP address, among the names lanner resolves.", fdIP(localIP, true)),
		ipNameField(c, "fd.rip.name", "Domain name of the remote IP address, among the names lanner resolves.", fdIP(remoteIP, true)),
		{Name: "fd.nameraw", Type: TypeCharBuf, Desc: "The path exactly as the system call passed it, without resolving it against the working directory.",
			Build: noArg(func() *Extractor {
				// The last cleaned path is kept, so a repeated path with "//" allocates once.
				var lastIn, lastOut string
				return &Extractor{Str: func(e *event.Event) (string, bool) {
					fd := fdOf(e)
					if fd == nil {
						return "", false
					}
					if fd.NameRaw != lastIn {
						lastIn, lastOut = fd.NameRaw, dedupSlashes(fd.NameRaw)
					}
					return lastOut, true
				}}
			})},
	}
}
