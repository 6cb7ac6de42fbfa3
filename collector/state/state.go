package state

import (
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lannersec/lanner/collector/capture"
	"github.com/lannersec/lanner/collector/event"
)

// Config configures a State. The zero value reads the host's /proc and files.
type Config struct {
	// ProcRoot is where /proc is mounted (default "/proc"; "/host/proc" in a container).
	ProcRoot string
	// HostRoot is the host's root for /etc/passwd and /etc/group (default "/").
	HostRoot string
	// CgroupRoot is the cgroup v2 mount point; default: found in /proc/self/mountinfo.
	CgroupRoot string
	// MaxThreads bounds the thread table (default 65536); the least recently active threads are
	// evicted when it is full.
	MaxThreads int
	// MaxFDsPerProcess bounds each process's fd table (default 4096, as Falco).
	MaxFDsPerProcess int
	// BootTime is the epoch time of boot in ns (capture.Probe.BootTime()); record times and
	// kernel start times are relative to it.
	BootTime int64
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Stats counts what the state tracker did and gave up.
type Stats struct {
	Threads         int    // in the table now
	FromProc        uint64 // threads read from /proc because no record created them
	Evicted         uint64 // threads evicted because the table was full
	FDsDropped      uint64 // fds not tracked because a process's table was full
	Reparented      uint64 // threads whose parent was re-read from /proc after it exited
	UnknownThreads  uint64 // records of threads /proc no longer had
	ContainerLookup uint64 // /proc/PID/cgroup reads
}

type thread struct {
	t        *event.Thread
	proc     *process
	lastSeen int64
	cgroupID uint64
}

// process holds what threads of one process share: the fd table.
type process struct {
	fds map[int64]*event.FD
}

// State is the thread, fd and container table fed by capture records.
type State struct {
	cfg       Config
	log       *slog.Logger
	threads   map[int64]*thread
	procs     map[int64]*process
	byCgroup  map[uint64]*event.Container
	byID      map[string]*event.Container
	hostNames *names
	ctrNames  map[string]*names
	host      *event.Container
	// cgroupRoot is the cgroup v2 mount, to check cgroup ids against paths.
	cgroupRoot string
	num        uint64
	stats      Stats
	decodeErrs map[capture.ErrKind]uint64

	ev  event.Event
	sys event.Syscall
}

// New returns an empty State; call Scan to learn the processes that already run.
func New(cfg Config) (*State, error) {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.HostRoot == "" {
		cfg.HostRoot = "/"
	}
	if cfg.MaxThreads <= 0 {
		cfg.MaxThreads = 65536
	}
	if cfg.MaxFDsPerProcess <= 0 {
		cfg.MaxFDsPerProcess = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if _, err := os.Stat(cfg.ProcRoot); err != nil {
		return nil, fmt.Errorf("state: proc root: %w", err)
	}
	if cfg.CgroupRoot == "" {
		cfg.CgroupRoot = cgroup2Mount(cfg.ProcRoot)
	}
	return &State{
		cgroupRoot: cfg.CgroupRoot,
		cfg:        cfg,
		log:        cfg.Logger,
		threads:    map[int64]*thread{},
		procs:      map[int64]*process{},
		byCgroup:   map[uint64]*event.Container{},
		byID:       map[string]*event.Container{},
		hostNames:  newNames(cfg.HostRoot),
		ctrNames:   map[string]*names{},
		host:       &event.Container{ID: event.HostContainerID},
	}, nil
}

// Scan reads every thread under ProcRoot into the table and links parents, so processes that
// started before lanner have their ancestry. It replaces entries for the same tids.
func (s *State) Scan() error {
	pts, err := scanProc(s.cfg.ProcRoot, s.cfg.BootTime)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, pt := range pts {
		th := s.insert(pt.t, now.UnixNano())
		s.setContainer(th, pt.cgroup)
		s.names(th.t, now)
		s.scanFDs(th)
	}
	for _, th := range s.threads {
		s.linkParent(th, 0)
	}
	s.log.Info("process table scanned", "threads", len(s.threads), "processes", len(s.procs))
	return nil
}

// Thread returns the table's thread tid, or nil.
func (s *State) Thread(tid int64) *event.Thread {
	if th := s.threads[tid]; th != nil {
		return th.t
	}
	return nil
}

// FD returns fd of process pid from the table, or nil.
func (s *State) FD(pid, fd int64) *event.FD {
	if p := s.procs[pid]; p != nil {
		return p.fds[fd]
	}
	return nil
}

// Stats returns the counters.
func (s *State) Stats() Stats {
	st := s.stats
	st.Threads = len(s.threads)
	return st
}

// Process applies one record to the tables and returns the event the rule engine should see, or
// nil for records that only update state (forks). The event, and the Syscall it points to, are
// reused by the next call.
func (s *State) Process(rec *capture.Record) *event.Event {
	now := s.cfg.BootTime + int64(rec.Time)
	switch rec.Kind {
	case capture.KindFork:
		s.fork(rec, now)
		return nil
	case capture.KindExit:
		return s.exit(rec, now)
	case capture.KindExec:
		return s.exec(rec, now)
	case capture.KindSyscall:
		return s.syscall(rec, now)
	}
	return nil
}

func (s *State) newEvent(typ uint16, now int64, th *thread, res int64) *event.Event {
	s.num++
	params := s.sys.Params[:0]
	s.sys = event.Syscall{Res: res, Params: params}
	if th != nil {
		s.sys.Thread = th.t
	}
	s.ev = event.Event{Source: event.SourceSyscall, Type: typ, Num: s.num, Time: now, Sys: &s.sys}
	return &s.ev
}

// get returns the thread of a record, reading it from /proc when no record created it (it
// started before the scan, or its fork record was lost), and refreshes its container and parent.
func (s *State) get(tid, pid int64, cgroupID uint64, now int64) *thread {
	th := s.threads[tid]
	if th == nil {
		t := &event.Thread{Tid: tid, Pid: pid, LoginUID: event.LoginUIDUnset}
		cg := ""
		if pt, err := readProcThread(s.cfg.ProcRoot, pid, tid, s.cfg.BootTime); err == nil {
			t, cg = pt.t, pt.cgroup
			s.stats.FromProc++
		} else {
			s.stats.UnknownThreads++
		}
		th = s.insert(t, now)
		if cg != "" {
			s.setContainer(th, cg)
		}
		s.names(th.t, time.Unix(0, now))
		s.linkParent(th, 0)
	}
	th.lastSeen = now
	if cgroupID != 0 && cgroupID != th.cgroupID {
		s.containerByCgroupID(th, cgroupID)
	}
	if p := th.t.Parent; p != nil && s.threads[p.Tid] == nil {
		// The parent exited (or was evicted): the kernel has re-parented this process since.
		s.reparent(th)
	}
	return th
}

// insert adds t to the table, evicting old threads when it is full.
func (s *State) insert(t *event.Thread, now int64) *thread {
	if len(s.threads) >= s.cfg.MaxThreads {
		if _, ok := s.threads[t.Tid]; !ok {
			s.evict()
		}
	}
	p := s.procs[t.Pid]
	if p == nil {
		p = &process{fds: map[int64]*event.FD{}}
		s.procs[t.Pid] = p
	}
	th := &thread{t: t, proc: p, lastSeen: now}
	s.threads[t.Tid] = th
	return th
}

// evict drops the eighth of the table that was active least recently. Children keep their
// Parent pointers, so ancestry through an evicted thread still reads.
func (s *State) evict() {
	seen := make([]int64, 0, len(s.threads))
	for _, th := range s.threads {
		seen = append(seen, th.lastSeen)
	}
	slices.Sort(seen)
	cut := seen[len(seen)/8]
	n := 0
	for tid, th := range s.threads {
		if th.lastSeen <= cut {
			s.remove(tid, th)
			n++
		}
	}
	s.stats.Evicted += uint64(n)
	s.log.Warn("thread table full: evicted the least recently active threads", "evicted", n, "max", s.cfg.MaxThreads)
}

func (s *State) remove(tid int64, th *thread) {
	delete(s.threads, tid)
	if tid == th.t.Pid {
		delete(s.procs, th.t.Pid)
	}
}

// linkParent points th at its parent process's main thread, reading the parent from /proc when
// it is not in the table. depth bounds the walk up an unknown chain.
func (s *State) linkParent(th *thread, depth int) {
	ppid := th.t.PPid
	if ppid <= 0 || ppid == th.t.Pid || depth > 64 {
		th.t.Parent = nil
		return
	}
	if p := s.threads[ppid]; p != nil {
		th.t.Parent = p.t
		return
	}
	pt, err := readProcThread(s.cfg.ProcRoot, ppid, ppid, s.cfg.BootTime)
	if err != nil {
		th.t.Parent = nil
		return
	}
	s.stats.FromProc++
	p := s.insert(pt.t, th.lastSeen)
	s.setContainer(p, pt.cgroup)
	s.names(p.t, time.Unix(0, th.lastSeen))
	s.linkParent(p, depth+1)
	th.t.Parent = p.t
}

// reparent re-reads th's parent pid from /proc after its parent exited.
func (s *State) reparent(th *thread) {
	s.stats.Reparented++
	b, err := os.ReadFile(filepath.Join(s.cfg.ProcRoot, strconv.FormatInt(th.t.Pid, 10), "stat"))
	if err == nil {
		var t event.Thread
		if parseStat(b, &t, s.cfg.BootTime) == nil {
			th.t.PPid = t.PPid
		}
	}
	s.linkParent(th, 0)
}

func (s *State) fork(rec *capture.Record, now int64) {
	parent := s.get(int64(rec.Tid), int64(rec.Pid), rec.CgroupID, now)
	fi := rec.Fork
	child := *parent.t // a fresh copy: name, exe, args, cwd, creds, container, parent
	child.Tid, child.Pid = int64(fi.ChildTid), int64(fi.ChildPid)
	child.Name = fi.Comm
	child.UID, child.GID = fi.UID, fi.GID
	child.StartTime = s.cfg.BootTime + int64(fi.StartTime)
	child.Vtid, child.Vpid = int64(fi.Vtid), int64(fi.Vpid)
	child.SetArgs(parent.t.Args)
	if child.Pid != parent.t.Pid {
		child.PPid = parent.t.Pid
		if leader := s.threads[parent.t.Pid]; leader != nil {
			child.Parent = leader.t
		} else {
			child.Parent = parent.t
		}
	}
	th := s.insert(&child, now)
	th.cgroupID = parent.cgroupID
	if child.Pid != parent.t.Pid && th.proc != parent.proc {
		// fork copies the fd table (CLONE_FILES sharing is not told apart yet).
		for n, fd := range parent.proc.fds {
			c := *fd
			th.proc.fds[n] = &c
		}
	}
}

func (s *State) exit(rec *capture.Record, now int64) *event.Event {
	th := s.threads[int64(rec.Tid)]
	if th == nil {
		th = &thread{t: &event.Thread{Tid: int64(rec.Tid), Pid: int64(rec.Pid), LoginUID: event.LoginUIDUnset}}
	}
	ev := s.newEvent(event.TypeProcExit, now, th, int64(rec.Exit.Code))
	s.sys.Params = append(s.sys.Params,
		num("status", int64(rec.Exit.Code), strconv.Itoa(int(rec.Exit.Code))),
		num("ret", int64(rec.Exit.Code>>8&0xff), strconv.Itoa(int(rec.Exit.Code>>8&0xff))),
		num("sig", int64(rec.Exit.Code&0x7f), strconv.Itoa(int(rec.Exit.Code&0x7f))),
	)
	// The event keeps pointing at the thread; only the table forgets it.
	if cur := s.threads[int64(rec.Tid)]; cur == th {
		delete(s.threads, int64(rec.Tid))
	}
	if rec.Exit.GroupDead {
		delete(s.procs, int64(rec.Pid))
	}
	return ev
}

func (s *State) exec(rec *capture.Record, now int64) *event.Event {
	th := s.get(int64(rec.Tid), int64(rec.Pid), rec.CgroupID, now)
	t, ei := th.t, rec.Exec
	t.Name = ei.Comm
	if len(ei.Argv) > 0 {
		t.Exe = ei.Argv[0]
		t.SetArgs(ei.Argv[1:])
	} else {
		t.Exe = ei.Filename
		t.SetArgs(nil)
	}
	if ei.Cwd != "" {
		t.Cwd = ei.Cwd
	}
	t.ExePath = s.exePath(t, ei)
	t.PPid = int64(ei.PPid)
	t.Sid, t.Vpgid = int64(ei.Sid), int64(ei.Pgid)
	t.Tty = ei.Tty
	t.UID, t.GID, t.LoginUID = ei.EUID, ei.EGID, ei.LoginUID
	t.CapInheritable, t.CapPermitted, t.CapEffective = ei.CapInheritable, ei.CapPermitted, ei.CapEffective
	if t.StartTime == 0 {
		t.StartTime = s.cfg.BootTime + int64(ei.StartTime)
	}
	t.PidnsInitStart = s.cfg.BootTime + int64(ei.PidnsInitStart)
	t.Vtid, t.Vpid = int64(ei.Vtid), int64(ei.Vpid)
	t.ExeFromMemfd = ei.FromMemfd
	t.ExeUpperLayer = ei.Flags&capture.ExeUpperLayer != 0
	t.ExeWritable = ei.Flags&capture.ExeWritable != 0
	t.ExeInoCtime, t.ExeInoMtime = ei.ExeCtime, ei.ExeMtime
	if t.Cwd == "" {
		if cwd, err := os.Readlink(filepath.Join(s.cfg.ProcRoot, strconv.FormatInt(t.Pid, 10), "cwd")); err == nil {
			t.Cwd = cwd
		}
	}
	s.names(t, time.Unix(0, now))
	if p := t.Parent; p == nil || p.Pid != t.PPid {
		s.linkParent(th, 0)
	}
	// exec closes the close-on-exec fds.
	for n, fd := range th.proc.fds {
		if fd.OpenFlags&oCloexec != 0 {
			delete(th.proc.fds, n)
		}
	}

	ev := s.newEvent(rec.Nr, now, th, 0)
	flags := flagsText(uint64(ei.Flags), exeFlags)
	rawFlags := int64(ei.Flags)
	s.sys.Params = append(s.sys.Params,
		num("res", 0, "0"),
		event.Param{Name: "exe", Value: t.Exe},
		event.Param{Name: "args", Value: strings.Join(t.Args, " ")},
		num("tid", t.Tid, strconv.FormatInt(t.Tid, 10)),
		num("pid", t.Pid, strconv.FormatInt(t.Pid, 10)),
		num("ptid", t.PPid, strconv.FormatInt(t.PPid, 10)),
		event.Param{Name: "cwd", Value: t.Cwd},
		event.Param{Name: "comm", Value: t.Name},
		num("tty", int64(t.Tty), strconv.FormatUint(uint64(t.Tty), 10)),
		num("loginuid", int64(int32(t.LoginUID)), strconv.FormatInt(int64(int32(t.LoginUID)), 10)),
		num("flags", rawFlags, flags),
		num("uid", int64(t.UID), strconv.FormatUint(uint64(t.UID), 10)),
		num("gid", int64(t.GID), strconv.FormatUint(uint64(t.GID), 10)),
		event.Param{Name: "trusted_exepath", Value: t.ExePath},
		event.Param{Name: "filename", Value: ei.Filename},
	)
	return ev
}

// exePath is the resolved executable path: the kernel's (from the dentry walk), else
// /proc/PID/exe while the process lives, else the path exec was given, made absolute.
func (s *State) exePath(t *event.Thread, ei *capture.ExecInfo) string {
	if ei.FromMemfd && ei.ExeName != "" {
		return ei.ExeName // Falco shows memfd:NAME
	}
	if ei.ExePath != "" {
		return ei.ExePath
	}
	if p, err := os.Readlink(filepath.Join(s.cfg.ProcRoot, strconv.FormatInt(t.Pid, 10), "exe")); err == nil {
		if ei.FromMemfd {
			return strings.TrimSuffix(strings.TrimPrefix(p, "/"), " (deleted)")
		}
		return p
	}
	if ei.FromMemfd && ei.ExeName != "" {
		return ei.ExeName
	}
	return absPath(t.Cwd, ei.Filename)
}

func absPath(dir, p string) string {
	if p == "" || strings.HasPrefix(p, "/") || dir == "" {
		return path.Clean("/" + strings.TrimPrefix(p, "/"))
	}
	return path.Join(dir, p)
}

// names fills the user and group names of t, from its container's files when it is in one.
func (s *State) names(t *event.Thread, now time.Time) {
	n := s.hostNames
	if c := t.Container; c != nil && !c.IsHost() {
		n = s.ctrNames[c.FullID]
		if n == nil {
			n = newNames("")
			s.ctrNames[c.FullID] = n
		}
		// The container's files through this process, which is alive now (the one that first
		// showed the container may be gone).
		n.root = filepath.Join(s.cfg.ProcRoot, strconv.FormatInt(t.Pid, 10), "root")
	}
	t.User = n.user(t.UID, now)
	t.Group = n.group(t.GID, now)
	if t.LoginUID == event.LoginUIDUnset {
		t.LoginUser = ""
	} else {
		t.LoginUser = n.user(t.LoginUID, now)
	}
}

// setContainer sets th's container from the contents of its /proc/PID/cgroup.
func (s *State) setContainer(th *thread, cgroup string) {
	id, rt, ok := ContainerFromCgroup(cgroup)
	if !ok {
		th.t.Container = s.host
		return
	}
	th.t.Container = s.container(id, rt)
}

func (s *State) container(fullID, runtime string) *event.Container {
	c := s.byID[fullID]
	if c == nil {
		c = &event.Container{ID: fullID[:12], FullID: fullID, Runtime: runtime}
		s.byID[fullID] = c
	}
	return c
}

// containerByCgroupID sets th's container after its cgroup v2 id changed (first record, or the
// process was moved). The id is the inode number of the cgroup's directory, so a path read from
// /proc/PID/cgroup is trusted (and cached by id) only when its directory has that inode: the
// process may have moved again, or exited, since the record was written. A process that is gone
// is found by searching the cgroup2 hierarchy for the id.
func (s *State) containerByCgroupID(th *thread, id uint64) {
	th.cgroupID = id
	if c, ok := s.byCgroup[id]; ok {
		th.t.Container = c
		s.names(th.t, time.Now())
		return
	}
	s.stats.ContainerLookup++
	content, _ := os.ReadFile(filepath.Join(s.cfg.ProcRoot, strconv.FormatInt(th.t.Pid, 10), "cgroup"))
	path, verified := "", false
	if s.cgroupRoot != "" {
		for line := range strings.SplitSeq(string(content), "\n") {
			if p, ok := strings.CutPrefix(line, "0::"); ok && cgroupInode(filepath.Join(s.cgroupRoot, p)) == id {
				path, verified = p, true
			}
		}
		if !verified {
			path, verified = s.findCgroup(id)
		}
	}
	switch {
	case verified && path != "/":
		if cid, rt, ok := ContainerFromPath(path); ok {
			th.t.Container = s.container(cid, rt)
		} else {
			th.t.Container = s.host
		}
		if len(s.byCgroup) > 65536 {
			clear(s.byCgroup)
		}
		s.byCgroup[id] = th.t.Container
	case len(content) > 0:
		// The root v2 cgroup (hybrid hosts keep containers in v1 hierarchies): the whole file.
		s.setContainer(th, string(content))
	case th.t.Container == nil:
		th.t.Container = s.host
	}
	s.names(th.t, time.Now())
}

// findCgroup searches the cgroup2 hierarchy for the directory whose inode is id.
func (s *State) findCgroup(id uint64) (string, bool) {
	found := ""
	_ = filepath.WalkDir(s.cgroupRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			return nil // SkipDir here would skip the rest of the directory
		}
		if cgroupInode(p) == id {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	if found == "" {
		return "", false
	}
	rel, err := filepath.Rel(s.cgroupRoot, found)
	if err != nil {
		return "", false
	}
	return "/" + strings.TrimPrefix(rel, "."), true
}

func cgroupInode(dir string) uint64 {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return 0
	}
	return st.Ino
}

// cgroup2Mount finds where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup on unified hosts,
// /sys/fs/cgroup/unified on hybrid ones), from mountinfo.
func cgroup2Mount(procRoot string) string {
	b, err := os.ReadFile(filepath.Join(procRoot, "self", "mountinfo"))
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		// ... mount-point ... - fstype source options
		pre, post, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if f := strings.Fields(pre); len(f) > 4 {
			return f[4]
		}
	}
	return ""
}

// scanFDs reads the files a process has open at scan time (sockets are learned from later
// syscalls: /proc shows only their inode).
func (s *State) scanFDs(th *thread) {
	if th.t.Tid != th.t.Pid {
		return
	}
	dir := filepath.Join(s.cfg.ProcRoot, strconv.FormatInt(th.t.Pid, 10), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		fd := &event.FD{Num: n, Name: target, NameRaw: target}
		switch {
		case strings.HasPrefix(target, "/"):
			fd.Type = event.FDFile
		case strings.HasPrefix(target, "pipe:"):
			fd.Type = event.FDPipe
		case strings.HasPrefix(target, "socket:"):
			continue
		case strings.HasPrefix(target, "anon_inode:"):
			fd.Type = anonType(target)
		default:
			continue
		}
		s.addFD(th.proc, fd)
	}
}

func anonType(target string) event.FDType {
	switch strings.TrimPrefix(target, "anon_inode:") {
	case "[eventfd]":
		return event.FDEvent
	case "[eventpoll]":
		return event.FDEventPoll
	case "[signalfd]":
		return event.FDSignalfd
	case "inotify":
		return event.FDInotify
	case "[timerfd]":
		return event.FDTimerfd
	case "bpf-map", "bpf-prog", "bpf_link":
		return event.FDBPF
	case "[userfaultfd]":
		return event.FDUserfaultfd
	case "[io_uring]":
		return event.FDIOUring
	case "[pidfd]":
		return event.FDPidfd
	}
	return event.FDUnknown
}

func (s *State) addFD(p *process, fd *event.FD) {
	if _, ok := p.fds[fd.Num]; !ok && len(p.fds) >= s.cfg.MaxFDsPerProcess {
		s.stats.FDsDropped++
		return
	}
	p.fds[fd.Num] = fd
}

func timeOf(ns int64) time.Time { return time.Unix(0, ns) }
