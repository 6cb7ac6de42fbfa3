package state

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lannersec/lanner/collector/capture"
	"github.com/lannersec/lanner/collector/event"
)

const (
	oCloexec   = 0o2000000
	oDirectory = 0o200000
	oTmpfile   = 0o20000000

	sockStream = 1
	sockDgram  = 2
	sockRaw    = 3

	afNetlink = 16
	afPacket  = 17
)

// Syscall numbers the fd table follows (x86_64).
var (
	nrOpen, nrOpenat, nrOpenat2, nrCreat, nrClose       = sc("open"), sc("openat"), sc("openat2"), sc("creat"), sc("close")
	nrDup, nrDup2, nrDup3, nrFcntl                      = sc("dup"), sc("dup2"), sc("dup3"), sc("fcntl")
	nrSocket, nrConnect, nrAccept, nrAccept4, nrBind    = sc("socket"), sc("connect"), sc("accept"), sc("accept4"), sc("bind")
	nrListen, nrSendto, nrSendmsg, nrRecvfrom           = sc("listen"), sc("sendto"), sc("sendmsg"), sc("recvfrom")
	nrChdir, nrFchdir, nrMemfd                          = sc("chdir"), sc("fchdir"), sc("memfd_create")
	nrSetuid, nrSetgid, nrSetresuid, nrSetresgid        = sc("setuid"), sc("setgid"), sc("setresuid"), sc("setresgid")
	nrSetreuid, nrSetregid, nrExecve, nrExecveat, nrSid = sc("setreuid"), sc("setregid"), sc("execve"), sc("execveat"), sc("setsid")
)

func sc(name string) uint16 {
	nr, ok := event.TypeByName(name)
	if !ok {
		panic("state: unknown syscall " + name) // a typo in this file; caught by any test
	}
	return nr
}

// fdArg0 marks the syscalls whose first argument is an fd the event is about: the kernel
// describes it (capture.Layout.TupleFD), so the table entry is refreshed from the event.
var fdArg0 = func() [capture.NumSyscalls]bool {
	var m [capture.NumSyscalls]bool
	for nr := range uint16(capture.NumSyscalls) {
		m[nr] = capture.LayoutOf(nr).TupleFD == capture.TupleArg0
	}
	return m
}()

func (s *State) syscall(rec *capture.Record, now int64) *event.Event {
	th := s.get(int64(rec.Tid), int64(rec.Pid), rec.CgroupID, now)
	ev := s.newEvent(rec.Nr, now, th, rec.Res)
	if rec.Nr == nrExecve || rec.Nr == nrExecveat {
		// A failed exec (successful ones come as exec records): Falco's execve exit carries
		// the caller's process fields and the file it tried.
		s.sys.Params = renderParams(s.sys.Params, rec)
		return ev
	}
	s.sys.Params = renderParams(s.sys.Params, rec)
	s.updateFDs(th, rec)
	s.updateThread(th, rec)
	return ev
}

// updateFDs applies rec to th's fd table and sets the event's FD.
func (s *State) updateFDs(th *thread, rec *capture.Record) {
	p := th.proc
	arg0 := int64(int32(rec.Args[0]))
	if int(rec.Nr) < len(fdArg0) && fdArg0[rec.Nr] {
		s.sys.FD = s.refreshFD(p, arg0, rec)
	} else if rec.Nr == nrClose {
		s.sys.FD = p.fds[arg0] // gone at the call's exit: only the table knows it
	}
	ok := rec.Res >= 0
	switch rec.Nr {
	case nrOpen, nrOpenat, nrOpenat2, nrCreat:
		var name string
		var flags uint64
		dirfd := int64(atFDCWD)
		switch rec.Nr {
		case nrOpen:
			name, _ = rec.Str(0)
			flags = rec.Args[1]
		case nrCreat:
			name, _ = rec.Str(0)
			flags = 0o1101 // O_CREAT|O_WRONLY|O_TRUNC
		case nrOpenat:
			name, _ = rec.Str(1)
			dirfd, flags = arg0, rec.Args[2]
		case nrOpenat2:
			name, _ = rec.Str(1)
			dirfd, flags = arg0, openHow(rec, 0)
		}
		fd := &event.FD{Num: rec.Res, Type: event.FDFile, NameRaw: name, Name: s.resolve(th, dirfd, name), OpenFlags: uint32(flags)}
		if flags&oDirectory != 0 && flags&oTmpfile != oTmpfile {
			fd.Type = event.FDDirectory
		}
		if !ok {
			fd.Num = -1 // Falco's fd.num for a failed open
			s.sys.FD = fd
			return
		}
		s.addFD(p, fd)
		s.sys.FD = fd
	case nrMemfd:
		if ok {
			name, _ := rec.Str(0)
			fd := &event.FD{Num: rec.Res, Type: event.FDMemfd, Name: "memfd:" + name, NameRaw: name, OpenFlags: uint32(rec.Args[1] & 1 * oCloexec)}
			s.addFD(p, fd)
			s.sys.FD = fd
		}
	case nrClose:
		if ok {
			delete(p.fds, arg0)
		}
	case nrDup, nrDup2, nrDup3:
		if ok && rec.Res != arg0 {
			if old := p.fds[arg0]; old != nil {
				c := *old
				c.Num = rec.Res
				c.OpenFlags &^= oCloexec
				if rec.Nr == nrDup3 && rec.Args[2]&oCloexec != 0 {
					c.OpenFlags |= oCloexec
				}
				s.addFD(p, &c)
				s.sys.FD = &c
			} else {
				delete(p.fds, rec.Res)
			}
		}
	case nrFcntl:
		// F_DUPFD and F_DUPFD_CLOEXEC
		if ok && (rec.Args[1] == 0 || rec.Args[1] == 1030) {
			if old := p.fds[arg0]; old != nil {
				c := *old
				c.Num = rec.Res
				s.addFD(p, &c)
			}
		}
	case nrSocket:
		if ok {
			fd := &event.FD{Num: rec.Res}
			switch rec.Args[0] {
			case afInet:
				fd.Type = event.FDIPv4
			case afInet6:
				fd.Type = event.FDIPv6
			case afUnix:
				fd.Type = event.FDUnix
			case afNetlink:
				fd.Type = event.FDNetlink
			}
			switch rec.Args[1] & 0xf {
			case sockStream:
				fd.L4Proto = event.L4TCP
			case sockDgram:
				fd.L4Proto = event.L4UDP
			case sockRaw:
				fd.L4Proto = event.L4Raw
				if fd.Type == event.FDIPv4 && rec.Args[2] == 1 || fd.Type == event.FDIPv6 && rec.Args[2] == 58 {
					fd.L4Proto = event.L4ICMP
				}
			}
			if rec.Args[1]&oCloexec != 0 {
				fd.OpenFlags = oCloexec
			}
			s.addFD(p, fd)
			s.sys.FD = fd
		}
	case nrConnect, nrSendto, nrSendmsg:
		fd := s.socketFD(p, arg0, rec.Tuple)
		if fd == nil {
			return
		}
		if rec.Nr == nrConnect && !ok && rec.Res != -115 { // EINPROGRESS still connects
			s.sys.FD = fd
			return
		}
		before := fd.Name
		s.setPeer(fd, rec, false)
		if rec.Nr == nrConnect {
			fd.Connected = ok || rec.Res == -115
		}
		// A datagram sent to a new peer renames the fd (Falco's fd.name_changed, which the
		// stable rules' outbound macro reads for unconnected UDP).
		s.sys.FDNameChanged = rec.Nr != nrConnect && before != fd.Name
		s.sys.FD = fd
	case nrAccept, nrAccept4:
		if ok {
			fd := &event.FD{Num: rec.Res}
			if rec.Tuple != nil {
				fd.Type = familyType(rec.Tuple.Family)
			} else if lst := p.fds[arg0]; lst != nil {
				fd.Type = lst.Type
			}
			fd.L4Proto = event.L4TCP
			s.setPeer(fd, rec, true)
			fd.Connected = true
			if rec.Nr == nrAccept4 && rec.Args[3]&oCloexec != 0 {
				fd.OpenFlags = oCloexec
			}
			s.addFD(p, fd)
			s.sys.FD = fd
		}
	case nrBind:
		if ok {
			fd := s.socketFD(p, arg0, rec.Tuple)
			if fd == nil {
				return
			}
			fd.LocalIsServer = true
			if ap, path, fam := parseSockaddr(rec.Sockaddr); fam == afUnix {
				fd.Name = path
			} else if ap.IsValid() {
				fd.ServerIP, fd.ServerPort = ap.Addr(), ap.Port()
				if rec.Tuple != nil && rec.Tuple.Local.Port() != 0 {
					fd.ServerPort = rec.Tuple.Local.Port()
				}
			}
			s.sys.FD = fd
		}
	case nrListen:
		if fd := p.fds[arg0]; fd != nil && ok {
			fd.LocalIsServer = true
		}
	}
}

// refreshFD returns the table entry of fd n as the kernel described it in rec (a socket tuple, or
// a file's mode and path), creating or correcting it; without a description it is the table's.
// Sockets are left to the callers that know the call's direction (connect, accept...).
func (s *State) refreshFD(p *process, n int64, rec *capture.Record) *event.FD {
	fd := p.fds[n]
	switch {
	case rec.Tuple != nil:
		typ := familyType(rec.Tuple.Family)
		if fd == nil || fd.Type != typ {
			fd = &event.FD{Num: n, Type: typ}
			switch rec.Tuple.Proto {
			case 6:
				fd.L4Proto = event.L4TCP
			case 17:
				fd.L4Proto = event.L4UDP
			}
			if typ == event.FDIPv4 || typ == event.FDIPv6 {
				s.setPeer(fd, rec, false)
				fd.Connected = rec.Tuple.Remote.Port() != 0
			}
			s.addFD(p, fd)
		}
	case rec.HasFDPath:
		typ, name := fdFromMode(rec.FDMode, rec.FDPath)
		if fd == nil || fd.Type != typ || (name != "" && fd.Name != name) {
			old := fd
			fd = &event.FD{Num: n, Type: typ, Name: name, NameRaw: name}
			if old != nil && old.Type == typ && name == "" {
				fd.Name, fd.NameRaw = old.Name, old.NameRaw
			}
			if old != nil {
				fd.OpenFlags = old.OpenFlags
			}
			s.addFD(p, fd)
		}
	}
	return fd
}

// fdFromMode types a non-socket fd from its inode mode and kernel path. Pipes and anonymous
// inodes have no useful path.
func fdFromMode(mode uint32, path string) (event.FDType, string) {
	switch mode & 0o170000 {
	case 0o100000:
		if strings.HasPrefix(path, "/memfd:") {
			return event.FDMemfd, strings.TrimPrefix(path, "/")
		}
		return event.FDFile, path
	case 0o040000:
		return event.FDDirectory, path
	case 0o010000:
		return event.FDPipe, ""
	case 0o020000, 0o060000:
		return event.FDFile, path // devices are files to Falco
	case 0:
		return event.FDUnknown, ""
	}
	return event.FDUnknown, path
}

// socketFD returns the table entry of socket fd n, creating it from the kernel tuple when the
// socket was opened before lanner started.
func (s *State) socketFD(p *process, n int64, t *capture.Tuple) *event.FD {
	if fd := p.fds[n]; fd != nil {
		return fd
	}
	if t == nil {
		return nil
	}
	fd := &event.FD{Num: n, Type: familyType(t.Family)}
	switch t.Proto {
	case 6:
		fd.L4Proto = event.L4TCP
	case 17:
		fd.L4Proto = event.L4UDP
	}
	s.addFD(p, fd)
	return fd
}

func familyType(f uint16) event.FDType {
	switch f {
	case afInet:
		return event.FDIPv4
	case afInet6:
		return event.FDIPv6
	case afUnix:
		return event.FDUnix
	case afNetlink:
		return event.FDNetlink
	}
	return event.FDUnknown
}

// setPeer fills the endpoints and the name of a socket fd from the kernel tuple (local, remote),
// falling back to the sockaddr the call passed. inbound: the local end is the server (accept).
func (s *State) setPeer(fd *event.FD, rec *capture.Record, inbound bool) {
	var local, remote netip.AddrPort
	if rec.Tuple != nil {
		local, remote = rec.Tuple.Local, rec.Tuple.Remote
		if rec.Tuple.Family == afUnix {
			if _, path, _ := parseSockaddr(rec.Sockaddr); path != "" {
				fd.Name = path
			}
			return
		}
	}
	if ap, path, fam := parseSockaddr(rec.Sockaddr); fam == afUnix {
		fd.Name = path
		return
	} else if ap.IsValid() && (!remote.IsValid() || remote.Port() == 0) {
		remote = ap
	}
	if !remote.IsValid() {
		return
	}
	if inbound {
		fd.ClientIP, fd.ClientPort, fd.ServerIP, fd.ServerPort = remote.Addr().Unmap(), remote.Port(), local.Addr().Unmap(), local.Port()
		fd.LocalIsServer = true
	} else {
		fd.ClientIP, fd.ClientPort, fd.ServerIP, fd.ServerPort = local.Addr().Unmap(), local.Port(), remote.Addr().Unmap(), remote.Port()
	}
	fd.Name = netip.AddrPortFrom(fd.ClientIP, fd.ClientPort).String() + "->" + netip.AddrPortFrom(fd.ServerIP, fd.ServerPort).String()
}

// resolve makes a path passed with dirfd absolute, as Falco's fd.name is.
func (s *State) resolve(th *thread, dirfd int64, name string) string {
	if name == "" {
		return ""
	}
	if name[0] == '/' {
		return absPath("/", name)
	}
	dir := th.t.Cwd
	if dirfd != atFDCWD {
		if d := th.proc.fds[dirfd]; d != nil {
			dir = d.Name
		} else if p, err := os.Readlink(filepath.Join(s.cfg.ProcRoot, strconv.FormatInt(th.t.Pid, 10), "fd", strconv.FormatInt(dirfd, 10))); err == nil {
			dir = p
		}
	}
	return absPath(dir, name)
}

// updateThread applies the thread-state syscalls: cwd and credentials.
func (s *State) updateThread(th *thread, rec *capture.Record) {
	if rec.Res < 0 {
		return
	}
	t := th.t
	switch rec.Nr {
	case nrChdir, nrFchdir:
		// The kernel reports the directory after the call; the argument is the fallback.
		if rec.Cwd != "" {
			t.Cwd = rec.Cwd
		} else if p, ok := rec.Str(0); ok && rec.Nr == nrChdir {
			t.Cwd = s.resolve(th, atFDCWD, p)
		} else if d := th.proc.fds[int64(int32(rec.Args[0]))]; d != nil && rec.Nr == nrFchdir {
			t.Cwd = d.Name
		}
	case nrSetuid, nrSetreuid, nrSetresuid, nrSetgid, nrSetregid, nrSetresgid:
		// Credentials after the call, as the kernel computed them.
		if b, err := os.ReadFile(filepath.Join(s.cfg.ProcRoot, strconv.FormatInt(t.Pid, 10), "task", strconv.FormatInt(t.Tid, 10), "status")); err == nil {
			parseStatus(b, t)
		} else if rec.Nr == nrSetuid {
			t.UID = uint32(rec.Args[0])
		} else if rec.Nr == nrSetgid {
			t.GID = uint32(rec.Args[0])
		}
		s.names(t, timeOf(s.ev.Time))
	case nrSid:
		t.Sid = t.Pid
	}
}
