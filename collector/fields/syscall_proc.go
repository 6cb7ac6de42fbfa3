package fields

import (
	"strconv"
	"strings"

	"github.com/lannersec/lanner/collector/event"
)

// threadStr makes a string getter from a getter on the event's thread.
func threadStr(get func(t *event.Thread) string) strFn {
	return func(e *event.Event) (string, bool) {
		t := thread(e)
		if t == nil {
			return "", false
		}
		return get(t), true
	}
}

func threadNum(get func(t *event.Thread) (int64, bool)) numFn {
	return func(e *event.Event) (int64, bool) {
		t := thread(e)
		if t == nil {
			return 0, false
		}
		return get(t)
	}
}

func threadBool(get func(t *event.Thread) bool) boolFn {
	return func(e *event.Event) (bool, bool) {
		t := thread(e)
		if t == nil {
			return false, false
		}
		return get(t), true
	}
}

func parentStr(get func(t *event.Thread) string) strFn {
	return func(e *event.Event) (string, bool) {
		t := thread(e)
		if t == nil || t.Parent == nil {
			return "", false
		}
		return get(t.Parent), true
	}
}

// procArgs is proc.args: the arguments after argv[0], space separated. It is the tail of the
// cached command line, so reading it does not allocate.
func procArgs(t *event.Thread) string {
	if len(t.Args) == 0 {
		return ""
	}
	cl := t.CmdLine()
	if len(cl) > len(t.Name) {
		return cl[len(t.Name)+1:]
	}
	return strings.Join(t.Args, " ")
}

func threadCmdLine(t *event.Thread) string { return t.CmdLine() }
func threadName(t *event.Thread) string    { return t.Name }
func threadExe(t *event.Thread) string     { return t.Exe }
func threadExePath(t *event.Thread) string { return t.ExePath }

// ancestorField builds proc.aname, proc.aexe, proc.aexepath and proc.acmdline. With an index it
// reads one ancestor (0 = the process itself); without one it stands for every ancestor above
// the process, and a check holds when it holds for one of them (Falco's compare_full_aname).
func ancestorField(name, what string, get func(t *event.Thread) string) *Field {
	return &Field{
		Name: name, Type: TypeCharBuf, Flags: ArgAllowed | ArgIndex | NoRHS | NoTransformer,
		Desc: "The " + what + " of an ancestor: [1] the parent, [2] the grandparent..., [0] the process itself. " +
			"Without an index the field matches when any ancestor matches.",
		ArgDesc: "ancestor level",
		Build: func(arg string, hasArg bool) (*Extractor, error) {
			if hasArg {
				n, err := parseIndex(arg)
				if err != nil {
					return nil, err
				}
				return &Extractor{Str: func(e *event.Event) (string, bool) {
					a := ancestor(thread(e), n)
					if a == nil {
						return "", false
					}
					return get(a), true
				}}, nil
			}
			strs := func(e *event.Event, dst []string) ([]string, bool) {
				t := thread(e)
				if t == nil {
					return dst, false
				}
				a := t.Parent
				for i := 0; a != nil && i < maxAncestry; i++ {
					dst = append(dst, get(a))
					a = a.Parent
				}
				return dst, true
			}
			text := func(e *event.Event) (string, bool) {
				l, ok := strs(e, nil)
				if !ok {
					return "", false
				}
				return strings.Join(l, " "), true
			}
			return &Extractor{List: true, AnyOf: true, Strs: strs, Text: text,
				JSON: func(e *event.Event) (any, bool) { return text(e) }}, nil
		},
	}
}

func apidField() *Field {
	return &Field{
		Name: "proc.apid", Type: TypeInt64, Flags: ArgAllowed | ArgIndex | NoRHS | NoTransformer,
		Desc: "The pid of an ancestor: [1] the parent, [2] the grandparent..., [0] the process itself. " +
			"Without an index the field matches when any ancestor matches.",
		ArgDesc: "ancestor level",
		Build: func(arg string, hasArg bool) (*Extractor, error) {
			if hasArg {
				n, err := parseIndex(arg)
				if err != nil {
					return nil, err
				}
				return &Extractor{Num: func(e *event.Event) (int64, bool) {
					a := ancestor(thread(e), n)
					if a == nil {
						return 0, false
					}
					return a.Pid, true
				}}, nil
			}
			nums := func(e *event.Event, dst []int64) ([]int64, bool) {
				t := thread(e)
				if t == nil {
					return dst, false
				}
				a := t.Parent
				for i := 0; a != nil && i < maxAncestry; i++ {
					dst = append(dst, a.Pid)
					a = a.Parent
				}
				return dst, true
			}
			text := func(e *event.Event) (string, bool) {
				l, ok := nums(e, nil)
				if !ok {
					return "", false
				}
				var b strings.Builder
				for i, p := range l {
					if i > 0 {
						b.WriteByte(' ')
					}
					b.WriteString(strconv.FormatInt(p, 10))
				}
				return b.String(), true
			}
			return &Extractor{List: true, AnyOf: true, Nums: nums, Text: text,
				JSON: func(e *event.Event) (any, bool) { return text(e) }}, nil
		},
	}
}

// leader finds the session or process-group leader of t: the highest ancestor (t included) whose
// id equals t's, as Falco does when the leader is not looked up by pid.
func leader(t *event.Thread, id func(*event.Thread) int64) *event.Thread {
	want := id(t)
	l := t
	a := t.Parent
	for i := 0; a != nil && i < maxAncestry; i++ {
		if id(a) != want {
			break
		}
		l = a
		a = a.Parent
	}
	return l
}

func sidOf(t *event.Thread) int64   { return t.Sid }
func vpgidOf(t *event.Thread) int64 { return t.Vpgid }

func leaderStr(id func(*event.Thread) int64, get func(*event.Thread) string) strFn {
	return threadStr(func(t *event.Thread) string { return get(leader(t, id)) })
}

// envValue returns the value of NAME in an environment list.
func envValue(env []string, name string) (string, bool) {
	for _, kv := range env {
		if len(kv) > len(name) && kv[len(name)] == '=' && kv[:len(name)] == name {
			return kv[len(name)+1:], true
		}
	}
	return "", false
}

func envField() *Field {
	return &Field{
		Name: "proc.env", Type: TypeCharBuf, Flags: ArgAllowed | ArgKey,
		Desc:    "The environment of the process as 'NAME=value NAME1=value1', or with an argument the value of one variable (proc.env[HOME]).",
		ArgDesc: "variable name",
		Build: func(arg string, hasArg bool) (*Extractor, error) {
			if !hasArg {
				return &Extractor{Str: threadStr(func(t *event.Thread) string { return strings.Join(t.Env, " ") })}, nil
			}
			if err := validKey(arg); err != nil {
				return nil, err
			}
			return &Extractor{Str: func(e *event.Event) (string, bool) {
				t := thread(e)
				if t == nil {
					return "", false
				}
				// Falco returns an empty string for a variable that is not set.
				v, _ := envValue(t.Env, arg)
				return v, true
			}}, nil
		},
	}
}

func argsField() *Field {
	return &Field{
		Name: "proc.args", Type: TypeCharBuf, Flags: ArgAllowed | ArgIndex,
		Desc: "The arguments of the process's command line after argv[0], space separated; " +
			"with an index one argument (proc.args[0] is the first).",
		ArgDesc: "argument position",
		Build: func(arg string, hasArg bool) (*Extractor, error) {
			if !hasArg {
				return &Extractor{Str: threadStr(procArgs)}, nil
			}
			n, err := parseIndex(arg)
			if err != nil {
				return nil, err
			}
			return &Extractor{Str: func(e *event.Event) (string, bool) {
				t := thread(e)
				if t == nil || n >= len(t.Args) {
					return "", false
				}
				return t.Args[n], true
			}}, nil
		},
	}
}

func capsField(name, desc string, get func(t *event.Thread) uint64) *Field {
	return &Field{Name: name, Type: TypeCharBuf, Desc: desc, Build: noArg(func() *Extractor {
		cache := &capsCache{}
		return &Extractor{Str: func(e *event.Event) (string, bool) {
			t := thread(e)
			if t == nil {
				return "", false
			}
			return cache.get(get(t)), true
		}}
	})}
}

func procFields(*config) []*Field {
	return []*Field{
		strField("proc.exe", 0, "The first command-line argument (argv[0]), usually the executable name or path.", threadStr(threadExe)),
		strField("proc.pexe", 0, "The proc.exe of the parent process.", parentStr(threadExe)),
		ancestorField("proc.aexe", "proc.exe", threadExe),
		strField("proc.exepath", 0, "The full path of the process's executable, symlinks resolved.", threadStr(threadExePath)),
		strField("proc.pexepath", 0, "The proc.exepath of the parent process.", parentStr(threadExePath)),
		ancestorField("proc.aexepath", "proc.exepath", threadExePath),
		strField("proc.name", 0, "The process name (the kernel's comm, at most 15 characters).", threadStr(threadName)),
		strField("proc.pname", 0, "The proc.name of the parent process.", parentStr(threadName)),
		ancestorField("proc.aname", "proc.name", threadName),
		argsField(),
		strField("proc.cmdline", 0, "The process name followed by its arguments (proc.name + proc.args).", threadStr(threadCmdLine)),
		strField("proc.pcmdline", 0, "The proc.cmdline of the parent process.", parentStr(threadCmdLine)),
		ancestorField("proc.acmdline", "proc.cmdline", threadCmdLine),
		numField("proc.cmdnargs", TypeUint64, 0, "The number of arguments in proc.args.",
			threadNum(func(t *event.Thread) (int64, bool) { return int64(len(t.Args)), true })),
		numField("proc.cmdlenargs", TypeUint64, 0, "The total length of the arguments, not counting separators.",
			threadNum(func(t *event.Thread) (int64, bool) {
				n := 0
				for _, a := range t.Args {
					n += len(a)
				}
				return int64(n), true
			})),
		strField("proc.exeline", 0, "The command line with argv[0] first (proc.exe + proc.args).",
			threadStr(func(t *event.Thread) string {
				if len(t.Args) == 0 {
					return t.Exe + " "
				}
				return t.Exe + " " + procArgs(t)
			})),
		envField(),
		strField("proc.cwd", 0, "The current working directory of the process.", threadStr(func(t *event.Thread) string { return t.Cwd })),
		numField("proc.loginshellid", TypeInt64, 0, "The pid of the oldest shell (name ending in 'sh') among the process and its ancestors.",
			threadNum(func(t *event.Thread) (int64, bool) {
				var pid int64
				found := false
				for a, i := t, 0; a != nil && i < maxAncestry; a, i = a.Parent, i+1 {
					if strings.HasSuffix(a.Name, "sh") {
						pid, found = a.Pid, true
					}
				}
				return pid, found
			})),
		numField("proc.tty", TypeUint32, 0, "The controlling terminal of the process; 0 for none.",
			threadNum(func(t *event.Thread) (int64, bool) { return int64(t.Tty), true })),
		numField("proc.pid", TypeInt64, 0, "The id of the process.", threadNum(func(t *event.Thread) (int64, bool) { return t.Pid, true })),
		numField("proc.ppid", TypeInt64, 0, "The pid of the parent process.", threadNum(func(t *event.Thread) (int64, bool) {
			if t.Parent != nil {
				return t.Parent.Pid, true
			}
			return t.PPid, t.PPid > 0
		})),
		apidField(),
		numField("proc.vpid", TypeInt64, 0, "The id of the process in its pid namespace.",
			threadNum(func(t *event.Thread) (int64, bool) { return t.Vpid, t.Vpid > 0 })),
		numField("proc.pvpid", TypeInt64, 0, "The id of the parent process in its pid namespace.",
			threadNum(func(t *event.Thread) (int64, bool) {
				if t.Parent == nil || t.Parent.Vpid <= 0 {
					return 0, false
				}
				return t.Parent.Vpid, true
			})),
		numField("proc.sid", TypeInt64, 0, "The session id of the process.", threadNum(func(t *event.Thread) (int64, bool) { return t.Sid, true })),
		strField("proc.sname", 0, "The name of the process's session leader: the eldest ancestor with the same session id.",
			leaderStr(sidOf, threadName)),
		strField("proc.sid.exe", 0, "The proc.exe of the process's session leader.", leaderStr(sidOf, threadExe)),
		strField("proc.sid.exepath", 0, "The proc.exepath of the process's session leader.", leaderStr(sidOf, threadExePath)),
		numField("proc.vpgid", TypeInt64, 0, "The process group id of the process, in its pid namespace.",
			threadNum(func(t *event.Thread) (int64, bool) { return t.Vpgid, true })),
		strField("proc.vpgid.name", 0, "The name of the process group leader: the eldest ancestor with the same process group.",
			leaderStr(vpgidOf, threadName)),
		strField("proc.vpgid.exe", 0, "The proc.exe of the process group leader.", leaderStr(vpgidOf, threadExe)),
		strField("proc.vpgid.exepath", 0, "The proc.exepath of the process group leader.", leaderStr(vpgidOf, threadExePath)),
		numField("proc.duration", TypeRelTime, 0, "Nanoseconds since the process started.",
			func(e *event.Event) (int64, bool) {
				t := thread(e)
				if t == nil || t.StartTime == 0 {
					return 0, false
				}
				return e.Time - t.StartTime, true
			}),
		numField("proc.ppid.duration", TypeRelTime, 0, "Nanoseconds since the parent process started.",
			func(e *event.Event) (int64, bool) {
				t := thread(e)
				if t == nil || t.Parent == nil || t.Parent.StartTime == 0 {
					return 0, false
				}
				return e.Time - t.Parent.StartTime, true
			}),
		numField("proc.pid.ts", TypeRelTime, 0, "Start time of the process in nanoseconds since the epoch.",
			threadNum(func(t *event.Thread) (int64, bool) { return t.StartTime, t.StartTime != 0 })),
		numField("proc.ppid.ts", TypeRelTime, 0, "Start time of the parent process in nanoseconds since the epoch.",
			threadNum(func(t *event.Thread) (int64, bool) {
				if t.Parent == nil || t.Parent.StartTime == 0 {
					return 0, false
				}
				return t.Parent.StartTime, true
			})),
		boolField("proc.is_exe_writable", 0, "True if the process's executable is writable by the user that started it.",
			threadBool(func(t *event.Thread) bool { return t.ExeWritable })),
		boolField("proc.is_exe_upper_layer", 0, "True if the process's executable is in the upper layer of an overlayfs (added after the image was built).",
			threadBool(func(t *event.Thread) bool { return t.ExeUpperLayer })),
		boolField("proc.is_exe_from_memfd", 0, "True if the process was executed from a memfd_create file descriptor (fileless execution).",
			threadBool(func(t *event.Thread) bool { return t.ExeFromMemfd })),
		boolField("proc.is_sid_leader", 0, "True if the process leads its session (proc.sid = proc.vpid).",
			func(e *event.Event) (bool, bool) {
				t := thread(e)
				if t == nil || t.Vpid <= 0 {
					return false, false
				}
				return t.Sid == t.Vpid, true
			}),
		boolField("proc.is_vpgid_leader", 0, "True if the process leads its process group (proc.vpgid = proc.vpid).",
			func(e *event.Event) (bool, bool) {
				t := thread(e)
				if t == nil || t.Vpid <= 0 {
					return false, false
				}
				return t.Vpgid == t.Vpid, true
			}),
		numField("proc.exe_ino.ctime", TypeAbsTime, 0, "Last status change time (ctime) of the executable file, in nanoseconds since the epoch.",
			threadNum(func(t *event.Thread) (int64, bool) { return t.ExeInoCtime, t.ExeInoCtime != 0 })),
		numField("proc.exe_ino.mtime", TypeAbsTime, 0, "Last modification time (mtime) of the executable file, in nanoseconds since the epoch.",
			threadNum(func(t *event.Thread) (int64, bool) { return t.ExeInoMtime, t.ExeInoMtime != 0 })),
		numField("proc.exe_ino.ctime_duration_proc_start", TypeAbsTime, 0, "Nanoseconds between the executable's ctime and the start of the process.",
			threadNum(func(t *event.Thread) (int64, bool) {
				if t.ExeInoCtime == 0 || t.StartTime <= t.ExeInoCtime {
					return 0, false
				}
				return t.StartTime - t.ExeInoCtime, true
			})),
		numField("proc.exe_ino.ctime_duration_pidns_start", TypeAbsTime, 0, "Nanoseconds between the start of the pid namespace and the executable's ctime, when the namespace is older.",
			threadNum(func(t *event.Thread) (int64, bool) {
				if t.ExeInoCtime == 0 || t.PidnsInitStart == 0 || t.ExeInoCtime <= t.PidnsInitStart {
					return 0, false
				}
				return t.ExeInoCtime - t.PidnsInitStart, true
			})),
		numField("proc.pidns_init_start_ts", TypeUint64, 0, "Start time of the init process of the process's pid namespace, in nanoseconds since the epoch.",
			threadNum(func(t *event.Thread) (int64, bool) { return t.PidnsInitStart, t.PidnsInitStart != 0 })),
		capsField("thread.cap_permitted", "The permitted capability set of the thread (CAP_CHOWN CAP_KILL ...).",
			func(t *event.Thread) uint64 { return t.CapPermitted }),
		capsField("thread.cap_inheritable", "The inheritable capability set of the thread.",
			func(t *event.Thread) uint64 { return t.CapInheritable }),
		capsField("thread.cap_effective", "The effective capability set of the thread.",
			func(t *event.Thread) uint64 { return t.CapEffective }),
		numField("thread.tid", TypeInt64, 0, "The id of the thread.", threadNum(func(t *event.Thread) (int64, bool) { return t.Tid, true })),
		boolField("thread.ismain", 0, "True if the thread is the main thread of its process.",
			threadBool(func(t *event.Thread) bool { return t.Tid == t.Pid })),
		numField("thread.vtid", TypeInt64, 0, "The id of the thread in its pid namespace.",
			threadNum(func(t *event.Thread) (int64, bool) { return t.Vtid, t.Vtid > 0 })),
	}
}
