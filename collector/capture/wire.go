package capture

// The record layout written by bpf/lanner.bpf.c. Everything is little-endian (x86_64 only for now).
// Change both sides together; FuzzDecode and the recorded samples in testdata/ guard the decoder.

// Kind is the kind of a record.
type Kind uint16

// Record kinds (hdr.kind).
const (
	KindSyscall Kind = 1 // a syscall exit
	KindExec    Kind = 2 // a successful execve/execveat (sched_process_exec)
	KindFork    Kind = 3 // a new thread or process (sched_process_fork)
	KindExit    Kind = 4 // a thread exit (sched_process_exit)
)

func (k Kind) String() string {
	switch k {
	case KindSyscall:
		return "syscall"
	case KindExec:
		return "exec"
	case KindFork:
		return "fork"
	case KindExit:
		return "exit"
	}
	return "unknown"
}

const (
	hdrSize      = 40 // ts, cgroup, res (u64), tid, pid, len (u32), kind, nr (u16)
	argsSize     = 48 // six u64 syscall arguments
	itemHdrSize  = 4  // tag u8, idx u8, len u16
	tupleSize    = 44 // struct tuple
	execInfoSize = 128
	forkInfoSize = 48
	exitInfoSize = 8

	// maxRecord is the largest record the kernel side writes (its scratch offset mask).
	maxRecord = 16383
)

// Item tags.
const (
	tagStr      = 1
	tagSockaddr = 2
	tagTuple    = 3
	tagMem      = 4
	tagFilename = 5
	tagArgv     = 6
	tagExeName  = 7
	tagExePath  = 8
	tagCwd      = 9
	tagFDPath   = 10
)

// Exec flags, with Falco's bit values (evt.arg.flags of execve).
const (
	ExeWritable   = 1
	ExeUpperLayer = 2
	ExeFromMemfd  = 4
	ExeLowerLayer = 8
)

// Kernel counters (indexes of the per-CPU counters map).
const (
	counterEvents         = 0
	counterDropBuffer     = 1
	counterDropSize       = 2
	counterDropBufferProc = 3
	counterCompat         = 4
	counterFiltered       = 5
	numCounters           = 8
)

// NumSyscalls is the size of the kernel's syscall filter table.
const NumSyscalls = 512
