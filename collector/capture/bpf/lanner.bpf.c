// SPDX-License-Identifier: GPL-2.0
//
// lanner's kernel side: syscall exits, exec, fork and exit, written as compact records into one
// ring buffer. The wire format is mirrored by collector/capture/decode.go; change both together.
//
// Design (see collector/capture/doc.go for the why):
//   - only tp_btf programs (kprobes, fentry and LSM are not available on the target kernels);
//   - one exit-side dispatcher for syscalls: userspace fills sc_cfg[nr] for the syscalls the loaded
//     rules and the state tracker need, everything else returns after one array lookup;
//   - the per-syscall layout (which args are user strings, sockaddrs, which fd to resolve to a socket
//     tuple) is data in sc_cfg, so the program stays one generic path;
//   - successful execs come from sched_process_exec (the new image's view), fork and exit from the
//     sched tracepoints, so the process tree does not depend on clone's many variants;
//   - records are built in a per-CPU scratch buffer and copied with bpf_ringbuf_output without a
//     wakeup, unless the ring holds more than wakeup_bytes: userspace consumes in batches.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define SCRATCH_SIZE 32768      /* per-CPU array values are limited to 32 KiB */
#define OFF_MAX 16383           /* offsets are masked with this before every variable write */
#define STR_MAX 4096            /* one string (path, argv) */
#define SOCKADDR_MAX 128
#define NR_MAX 512

/* record kinds (hdr.kind) */
#define K_SYSCALL 1
#define K_EXEC 2
#define K_FORK 3
#define K_EXIT 4

/* item tags */
#define T_STR 1       /* NUL-terminated user string from args[idx] */
#define T_SOCKADDR 2  /* raw sockaddr bytes from user memory (args[idx], or msg_name for sendmsg) */
#define T_TUPLE 3     /* struct tuple read from the kernel socket of an fd */
#define T_MEM 4       /* fixed-size user memory from args[idx] (openat2's struct open_how) */
#define T_FILENAME 5  /* exec: bprm->filename */
#define T_ARGV 6      /* exec: argv bytes, NUL separated */
#define T_EXENAME 7   /* exec: dentry name of the executable file */
#define T_EXEPATH 8   /* exec: absolute path of the executable (dentry walk) */
#define T_CWD 9       /* absolute path of the working directory (exec; chdir with SC_CWD) */
#define T_FDPATH 10   /* u32 inode mode, then the path of a non-socket fd */

#define PATH_DEPTH 32  /* path components walked; deeper paths are cut at the top */
#define NAME_MAX_ 256

/* exec flags (exec_info.flags), Falco's bit values */
#define EXE_WRITABLE 1
#define EXE_UPPER_LAYER 2
#define EXE_FROM_MEMFD 4
#define EXE_LOWER_LAYER 8

#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define CAP_DAC_OVERRIDE 1

/* counters (per-CPU array index) */
#define C_EVENTS 0
#define C_DROP_BUFFER 1
#define C_DROP_SIZE 2
#define C_DROP_BUFFER_PROC 3 /* exec/fork/exit lost: the thread table is now wrong */
#define C_COMPAT 4 /* 32-bit (ia32) syscalls skipped: their numbers are not x86_64's */
#define C_FILTERED 5 /* opens no loaded rule can match, dropped by open_wanted */
#define C_MAX 8

#define TS_COMPAT 0x0002

#define SYS_EXECVE 59
#define SYS_EXECVEAT 322
#define SYS_SENDMSG 46

/* Hide a value's range from the compiler so it keeps the masks the verifier needs to see. */
#define BARRIER_VAR(x) asm volatile("" : "+r"(x))

struct hdr {
	__u64 ts;      /* CLOCK_BOOTTIME ns */
	__u64 cgroup;  /* cgroup v2 id of the current task */
	__s64 res;
	__u32 tid;
	__u32 pid;
	__u32 len;     /* whole record, header included */
	__u16 kind;
	__u16 nr;      /* syscall number (execve or execveat for K_EXEC) */
};

struct item {
	__u8 tag;
	__u8 idx;
	__u16 len;
};

struct tuple {
	__u16 family;
	__u16 type;
	__u16 proto;
	__u16 sport; /* local port, host order */
	__u16 dport; /* remote port, host order */
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct exec_info {
	__u32 ppid;
	__u32 uid, gid, euid, egid, loginuid;
	__u32 tty;
	__u32 sid;
	__u32 pgid;
	__u32 flags;
	__u64 cap_inheritable, cap_permitted, cap_effective;
	__u64 start_time;       /* boottime ns */
	__u64 pidns_init_start; /* boottime ns */
	__u64 exe_ino;
	__u64 exe_ctime, exe_mtime; /* epoch ns */
	char comm[16];
	__u32 vtid, vpid; /* ids in the task's own pid namespace */
};

struct fork_info {
	__u32 child_tid;
	__u32 child_pid;
	__u64 start_time;
	__u32 uid, gid;
	char comm[16];
	__u32 vtid, vpid;
};

struct exit_info {
	__s32 code;
	__u32 group_dead;
};

/* sc_cfg[nr]: what to capture for syscall nr; on == 0 means not interesting. */
struct sc_cfg {
	__u8 on;
	__u8 str_mask;   /* bit i: args[i] is a user string */
	__u8 sa_idx;     /* args[sa_idx-1] is a sockaddr, length in args[sa_len_idx] */
	__u8 sa_len_idx;
	__u8 tuple;      /* what fd args[0] (1) or the returned fd (2) is: socket tuple, else path */
	__u8 mem_idx;    /* args[mem_idx-1] points to mem_len bytes to copy */
	__u8 mem_len;
	__u8 skip_ok;    /* drop successful calls (execve: sched_process_exec reports those) */
	__u8 flags;      /* SC_CWD: report the working directory after the call */
	__u8 ofilt;      /* OF_*: open-family prefilter (0: report every call) */
	__u8 oflags;     /* where the open flags are: 1+arg index, OFL_HOW or OFL_CREAT */
	__u8 opath;      /* 1+arg index of the path */
	__u8 pad[4];
};

#define SC_CWD 1

/* open prefilter (sc_cfg.ofilt): the kernel reports an open only if a loaded rule may match it */
#define OF_ON 1     /* filter this syscall */
#define OF_WRITES 2 /* report opens asking for write access */
#define OF_PATHS 4  /* report non-canonical paths and paths under open_prefixes */
#define OFL_HOW 7   /* openat2: flags are the first u64 of the open_how at args[2] */
#define OFL_CREAT 8 /* creat: always O_WRONLY */

#define PFX_MAX 256 /* LPM trie keys hold at most 256 bytes of data */

struct settings {
	__u32 self_pid;     /* lanner's own tgid: never reported, to avoid feedback */
	__u32 wakeup_bytes; /* force a wakeup when the ring holds more than this */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_MAX);
	__type(key, __u32);
	__type(value, struct sc_cfg);
} sc_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct settings);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(value_size, SCRATCH_SIZE);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* An LPM trie key: the path bytes, NUL included, prefixlen = 8 x their count. */
struct pfx_key {
	__u32 prefixlen;
	__u8 data[PFX_MAX];
};

/* Path prefixes some loaded rule tests (an exact name ends with its NUL). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__type(key, struct pfx_key);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} open_prefixes SEC(".maps");

/*
 * The first eight bytes of every prefix, and masks for the shorter ones: a path whose first word
 * matches none cannot be under any prefix, and most paths stop at this test, which costs a few
 * instructions instead of the trie lookup's helper call. n > PFX_WORDS: not filled, use the trie.
 */
#define PFX_WORDS 16
struct pfx_words {
	__u32 n;
	__u32 pad;
	__u64 word[PFX_WORDS];
	__u64 mask[PFX_WORDS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pfx_words);
} open_prefix_words SEC(".maps");

/* The path of the open being filtered, already in the trie's key layout. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pfx_key);
} pfx_scratch SEC(".maps");

/* Userspace sets max_entries (per-CPU size x CPUs) before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);
	if (c)
		*c += 1;
}

static __always_inline struct settings *get_settings(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&settings, &zero);
}

static __always_inline char *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

static __always_inline void fill_hdr(char *buf, __u16 kind, __u16 nr, __s64 res)
{
	struct hdr *h = (struct hdr *)buf;
	__u64 pt = bpf_get_current_pid_tgid();
	h->ts = bpf_ktime_get_boot_ns();
	h->cgroup = bpf_get_current_cgroup_id();
	h->res = res;
	h->tid = (__u32)pt;
	h->pid = pt >> 32;
	h->kind = kind;
	h->nr = nr;
	h->len = 0;
}

/* put_item writes an item header at *off and reserves room for len bytes of data. */
static __always_inline void put_item(char *buf, __u32 off, __u8 tag, __u8 idx, __u16 len)
{
	BARRIER_VAR(off);
	struct item *it = (struct item *)&buf[off & OFF_MAX];
	it->tag = tag;
	it->idx = idx;
	it->len = len;
}

static __always_inline __u32 put_user_str(char *buf, __u32 off, __u8 tag, __u8 idx, const void *p)
{
	if (off > OFF_MAX - sizeof(struct item))
		return off;
	BARRIER_VAR(off);
	long n = bpf_probe_read_user_str(&buf[(off + sizeof(struct item)) & OFF_MAX], STR_MAX, p);
	if (n < 0)
		n = 0;
	put_item(buf, off, tag, idx, (__u16)n);
	return off + sizeof(struct item) + (__u32)n;
}

static __always_inline __u32 put_kernel_str(char *buf, __u32 off, __u8 tag, const void *p)
{
	if (off > OFF_MAX - sizeof(struct item))
		return off;
	BARRIER_VAR(off);
	long n = bpf_probe_read_kernel_str(&buf[(off + sizeof(struct item)) & OFF_MAX], STR_MAX, p);
	if (n < 0)
		n = 0;
	put_item(buf, off, tag, 0, (__u16)n);
	return off + sizeof(struct item) + (__u32)n;
}

static __always_inline __u32 put_user_mem(char *buf, __u32 off, __u8 tag, __u8 idx, const void *p,
					  __u64 len, __u32 max)
{
	if (off > OFF_MAX - sizeof(struct item))
		return off;
	if (len > max)
		len = max;
	BARRIER_VAR(off);
	__u32 n = len & (STR_MAX - 1);
	if (bpf_probe_read_user(&buf[(off + sizeof(struct item)) & OFF_MAX], n, p) < 0)
		n = 0;
	put_item(buf, off, tag, idx, (__u16)n);
	return off + sizeof(struct item) + n;
}

static __always_inline __u32 put_path(char *buf, __u32 off, __u8 tag, struct path *p);

/* file_of_fd returns the file behind fd of the current task, or NULL. */
static __always_inline struct file *file_of_fd(long fd)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	if (!fdt || fd < 0)
		return NULL;
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	if ((unsigned long)fd >= max)
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) < 0)
		return NULL;
	return f;
}

#define S_IFMT_ 00170000
#define S_IFSOCK_ 0140000

/* put_tuple writes the addresses of socket s. */
static __always_inline __u32 put_tuple(char *buf, __u32 off, struct socket *s)
{
	if (off > OFF_MAX - sizeof(struct item) - sizeof(struct tuple))
		return off;
	BARRIER_VAR(off);
	if (!s)
		return off;
	struct sock *sk = BPF_CORE_READ(s, sk);
	if (!sk)
		return off;
	struct tuple *tp = (struct tuple *)&buf[(off + sizeof(struct item)) & OFF_MAX];
	__builtin_memset(tp, 0, sizeof(*tp));
	tp->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	tp->type = BPF_CORE_READ(s, type);
	tp->proto = BPF_CORE_READ(sk, sk_protocol);
	tp->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	tp->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (tp->family == 2) { /* AF_INET */
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 b = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(tp->saddr, &a, 4);
		__builtin_memcpy(tp->daddr, &b, 4);
	} else if (tp->family == 10) { /* AF_INET6 */
		BPF_CORE_READ_INTO(&tp->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&tp->daddr, sk, __sk_common.skc_v6_daddr);
	}
	put_item(buf, off, T_TUPLE, 0, sizeof(struct tuple));
	return off + sizeof(struct item) + sizeof(struct tuple);
}

/*
 * put_fdinfo describes fd in the kernel's own terms at the time of the call, so userspace needs
 * no close/dup bookkeeping to know what an fd is: a socket's tuple, or a file's mode and path.
 */
static __always_inline __u32 put_fdinfo(char *buf, __u32 off, long fd)
{
	struct file *f = file_of_fd(fd);
	if (!f)
		return off;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT_) == S_IFSOCK_)
		return put_tuple(buf, off, (struct socket *)BPF_CORE_READ(f, private_data));
	if (off > OFF_MAX - 2 * sizeof(struct item) - 2)
		return off;
	/* Layout [item][u32 mode][path]: put_path writes its own item header where the mode goes,
	 * then the mode overwrites it and one header covers both. */
	__u32 start = off + sizeof(struct item);
	__u32 end = put_path(buf, start, T_FDPATH, (struct path *)&f->f_path);
	if (end == start)
		return off; /* put_path wrote nothing */
	__u32 m = mode;
	BARRIER_VAR(start);
	__builtin_memcpy(&buf[start & OFF_MAX], &m, sizeof(m));
	BARRIER_VAR(off);
	put_item(buf, off, T_FDPATH, 0, (__u16)(end - start));
	return end;
}

static __always_inline void submit(char *buf, __u32 len, struct settings *st, int proc)
{
	if (len > OFF_MAX) {
		count(C_DROP_SIZE);
		return;
	}
	BARRIER_VAR(len);
	((struct hdr *)buf)->len = len;
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (st && bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= st->wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, buf, len & OFF_MAX, flags) < 0) {
		count(C_DROP_BUFFER);
		if (proc)
			count(C_DROP_BUFFER_PROC);
		return;
	}
	count(C_EVENTS);
}

/* pick returns args[i]; a switch because the verifier rejects variable-offset stack reads. */
static __always_inline __u64 pick(__u64 *args, __u32 i)
{
	switch (i) {
	case 0: return args[0];
	case 1: return args[1];
	case 2: return args[2];
	case 3: return args[3];
	case 4: return args[4];
	case 5: return args[5];
	}
	return 0;
}

static __always_inline int is_self(struct settings *st)
{
	return st && (bpf_get_current_pid_tgid() >> 32) == st->self_pid;
}

#define ONES_ 0x0101010101010101ULL
#define LOWS_ 0x7f7f7f7f7f7f7f7fULL
#define HIGHS_ 0x8080808080808080ULL

/* eqbytes sets the high bit of each byte of x that equals the byte of pat (all bytes alike). */
static __always_inline __u64 eqbytes(__u64 x, __u64 pat)
{
	__u64 v = x ^ pat;
	return ~(((v & LOWS_) + LOWS_) | v) & HIGHS_;
}

/*
 * path_odd tells whether the len-byte path in p is one whose fd.name differs from it: relative,
 * with "//", "/." or "..", or a trailing slash. Prefix tests are only exact on the others.
 * Eight bytes at a time: a tight loop of word operations instead of one branch per byte.
 */
static __always_inline int path_odd(const __u8 *p, __u32 len)
{
	if (len == 0 || p[0] != '/')
		return 1;
	if (len > 1 && p[(len - 1) & (PFX_MAX - 1)] == '/')
		return 1;
	__u64 pd = 0, ps = 0;
	for (__u32 i = 0; i < PFX_MAX / 8; i++) {
		__u32 o = i * 8;
		if (o >= len)
			break;
		__u64 w = *(const __u64 *)&p[o];
		__u64 d = eqbytes(w, '.' * ONES_), s = eqbytes(w, '/' * ONES_);
		if (len - o < 8) {
			__u64 keep = (1ULL << ((len - o) * 8)) - 1;
			d &= keep;
			s &= keep;
		}
		/* the flags of the previous byte, carried across words */
		__u64 ds = (d << 8) | (pd >> 56), ss = (s << 8) | (ps >> 56);
		if ((d & ds) | (s & ss) | (d & ss))
			return 1;
		pd = d;
		ps = s;
	}
	return 0;
}

/*
 * open_wanted decides an open-family call in the kernel from what the loaded rules can match
 * (filter.OpenScope): write access, a non-canonical path, or a path under open_prefixes. Reads of
 * ordinary files, most of all opens on a node, stop here, before any record is built.
 */
static __always_inline int open_wanted(struct sc_cfg *c, struct pt_regs *regs)
{
	__u8 of = c->ofilt;
	__u64 fl;
	switch (c->oflags) {
	case 2: fl = regs->si; break;
	case 3: fl = regs->dx; break;
	case OFL_CREAT: fl = 1; break;
	case OFL_HOW:
		/* unreadable (the helper then zeroes fl): count it as a write */
		if (bpf_probe_read_user(&fl, sizeof(fl), (const void *)regs->dx) < 0)
			fl = 3;
		break;
	default: return 1;
	}
	if ((of & OF_WRITES) && (fl & 3))
		return 1;
	if (!(of & OF_PATHS))
		return 0;
	__u32 zero = 0;
	struct pfx_key *k = bpf_map_lookup_elem(&pfx_scratch, &zero);
	if (!k)
		return 1;
	const void *up = (const void *)(c->opath == 1 ? regs->di : regs->si);
	long n = bpf_probe_read_user_str(k->data, PFX_MAX, up);
	/* unreadable, empty or too long for the trie: let userspace decide */
	if (n <= 1 || n >= PFX_MAX)
		return 1;
	if (path_odd(k->data, n - 1))
		return 1;
	struct pfx_words *pw = bpf_map_lookup_elem(&open_prefix_words, &zero);
	if (!pw)
		return 1;
	__u32 cnt = pw->n;
	if (cnt <= PFX_WORDS) {
		/* bytes past the NUL are stale, but a prefix longer than the path differs from it at
		 * the path's NUL, and a shorter one is masked before it */
		__u64 first = *(const __u64 *)k->data;
		int hit = 0;
		for (__u32 i = 0; i < PFX_WORDS; i++) {
			if (i >= cnt)
				break;
			if ((first & pw->mask[i]) == pw->word[i]) {
				hit = 1;
				break;
			}
		}
		if (!hit)
			return 0;
	}
	k->prefixlen = n * 8;
	return bpf_map_lookup_elem(&open_prefixes, k) != NULL;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(lanner_sys_exit, struct pt_regs *regs, long ret)
{
	/* regs is a trusted BTF pointer in tp_btf programs: plain loads, no probe-read helper calls
	 * (vmlinux.h's preserve_access_index keeps them CO-RE relocatable). */
	long id = regs->orig_ax;
	if (id < 0 || id >= NR_MAX)
		return 0;
	__u32 key = id;
	struct sc_cfg *c = bpf_map_lookup_elem(&sc_cfg, &key);
	if (!c || !c->on)
		return 0;
	if (c->skip_ok && ret >= 0)
		return 0;
	/* First, as the filter drops most opens and costs less than the helper calls below. On an
	 * ia32 call it reads the wrong registers: it then drops or passes an event the compat test
	 * drops anyway, counted as filtered instead of skipped. */
	if ((c->ofilt & OF_ON) && !open_wanted(c, regs)) {
		count(C_FILTERED);
		return 0;
	}
	/* An ia32 syscall's number means something else in the x86_64 table: never misreport it. */
	if (bpf_get_current_task_btf()->thread_info.status & TS_COMPAT) {
		count(C_COMPAT);
		return 0;
	}
	struct settings *st = get_settings();
	if (is_self(st))
		return 0;
	char *buf = get_scratch();
	if (!buf)
		return 0;

	fill_hdr(buf, K_SYSCALL, (__u16)id, ret);
	__u64 args[6];
	args[0] = regs->di;
	args[1] = regs->si;
	args[2] = regs->dx;
	args[3] = regs->r10;
	args[4] = regs->r8;
	args[5] = regs->r9;
	__builtin_memcpy(&buf[sizeof(struct hdr)], args, sizeof(args));
	__u32 off = sizeof(struct hdr) + sizeof(args);

	__u8 mask = c->str_mask;
#pragma unroll
	for (int i = 0; i < 6; i++) {
		if (mask & (1 << i))
			off = put_user_str(buf, off, T_STR, i, (const void *)args[i]);
	}
	__u8 sa = c->sa_idx;
	if (sa >= 1 && sa <= 6) {
		__u8 li = c->sa_len_idx;
		__u64 salen = pick(args, li);
		const void *p = (const void *)pick(args, sa - 1);
		if (id == SYS_SENDMSG && p) {
			struct user_msghdr mh = {};
			if (bpf_probe_read_user(&mh, sizeof(mh), p) == 0) {
				p = mh.msg_name;
				salen = mh.msg_namelen;
			} else {
				p = NULL;
			}
		}
		if (p && salen)
			off = put_user_mem(buf, off, T_SOCKADDR, sa - 1, p, salen, SOCKADDR_MAX);
	}
	__u8 mi = c->mem_idx;
	if (mi >= 1 && mi <= 6 && pick(args, mi - 1))
		off = put_user_mem(buf, off, T_MEM, mi - 1, (const void *)pick(args, mi - 1), c->mem_len,
				   SOCKADDR_MAX);
	if (c->tuple == 1)
		off = put_fdinfo(buf, off, (long)args[0]);
	else if (c->tuple == 2 && ret >= 0)
		off = put_fdinfo(buf, off, ret);
	if (c->flags & SC_CWD)
		off = put_path(buf, off, T_CWD, &bpf_get_current_task_btf()->fs->pwd);

	submit(buf, off, st, 0);
	return 0;
}

/*
 * put_path writes the absolute path of p, like d_path (which tracing programs may not call):
 * walk dentries up to the mount root, cross to the parent mount at its mountpoint, stop at the
 * namespace's root mount. Component pointers are collected first, then written root first.
 * Both loops run under bpf_loop so the verifier checks each body once, not per unrolled path.
 */
struct path_walk {
	struct dentry *d;
	struct vfsmount *vm;
	struct mount *mnt;
	__u32 o;
	__u32 n;
	const unsigned char *names[PATH_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_walk);
} path_walks SEC(".maps");

/* bpf_loop wants a stack context; the walk state itself is in a per-CPU map (it is large). */
struct walk_ref {
	struct path_walk *w;
};

static long walk_up(__u32 i, void *ctx)
{
	struct path_walk *w = ((struct walk_ref *)ctx)->w;
	/* locals: BPF_CORE_READ on w->field would make CO-RE relocations against our own struct */
	struct dentry *d = w->d;
	struct vfsmount *vm = w->vm;
	struct mount *mnt = w->mnt;
	__u32 n = w->n;
	if (n >= PATH_DEPTH)
		return 1;
	struct dentry *root = BPF_CORE_READ(vm, mnt_root);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == parent && d != root) {
		/* a pseudo dentry (memfd, pipe...): its own name is all there is */
		w->names[n & (PATH_DEPTH - 1)] = BPF_CORE_READ(d, d_name.name);
		w->n = n + 1;
		return 1;
	}
	if (d == root) {
		struct mount *pm = BPF_CORE_READ(mnt, mnt_parent);
		if (pm == mnt || !pm)
			return 1;
		w->d = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = pm;
		w->vm = (void *)pm + bpf_core_field_offset(struct mount, mnt);
		return 0;
	}
	w->names[n & (PATH_DEPTH - 1)] = BPF_CORE_READ(d, d_name.name);
	w->n = n + 1;
	w->d = parent;
	return 0;
}

static long write_down(__u32 i, void *ctx)
{
	struct path_walk *w = ((struct walk_ref *)ctx)->w;
	char *buf = get_scratch();
	if (!buf || i >= w->n)
		return 1;
	__u32 o = w->o;
	if (o > OFF_MAX - NAME_MAX_ - 1)
		return 1;
	BARRIER_VAR(o);
	buf[o & OFF_MAX] = '/';
	long r = bpf_probe_read_kernel_str(&buf[(o + 1) & OFF_MAX], NAME_MAX_,
					   w->names[(w->n - 1 - i) & (PATH_DEPTH - 1)]);
	if (r <= 1)
		r = 1; /* empty name: keep the slash */
	w->o = o + r; /* r counts the NUL, which the next slash overwrites */
	return 0;
}

static __always_inline __u32 put_path(char *buf, __u32 off, __u8 tag, struct path *p)
{
	__u32 zero = 0;
	struct path_walk *w = bpf_map_lookup_elem(&path_walks, &zero);
	if (!w || off > OFF_MAX - sizeof(struct item) - 2)
		return off;
	struct vfsmount *vm = BPF_CORE_READ(p, mnt);
	w->d = BPF_CORE_READ(p, dentry);
	w->vm = vm;
	w->mnt = (void *)vm - bpf_core_field_offset(struct mount, mnt);
	w->n = 0;
	struct walk_ref ref = {.w = w};
	bpf_loop(PATH_DEPTH * 2, walk_up, &ref, 0);
	__u32 start = off + sizeof(struct item);
	w->o = start;
	BARRIER_VAR(start);
	if (w->n == 0) {
		buf[start & OFF_MAX] = '/';
		w->o = start + 1;
	} else {
		bpf_loop(PATH_DEPTH, write_down, &ref, 0);
	}
	__u32 len = w->o - start;
	put_item(buf, off, tag, 0, (__u16)len);
	return start + (len & OFF_MAX);
}

static __always_inline __u64 inode_ctime(struct inode *in)
{
	if (bpf_core_field_exists(in->i_ctime_sec))
		return (__u64)BPF_CORE_READ(in, i_ctime_sec) * 1000000000ULL + BPF_CORE_READ(in, i_ctime_nsec);
	return 0;
}

static __always_inline __u64 inode_mtime(struct inode *in)
{
	if (bpf_core_field_exists(in->i_mtime_sec))
		return (__u64)BPF_CORE_READ(in, i_mtime_sec) * 1000000000ULL + BPF_CORE_READ(in, i_mtime_nsec);
	return 0;
}

/* exe_layer_flags tells, for an executable on overlayfs (a container image), whether the file is
 * in the upper (written since the container started) or a lower (image) layer. */
static __always_inline __u32 exe_layer_flags(struct inode *in)
{
	if (BPF_CORE_READ(in, i_sb, s_magic) != OVERLAYFS_SUPER_MAGIC)
		return 0;
	struct ovl_inode *oi = (void *)in - bpf_core_field_offset(struct ovl_inode, vfs_inode);
	if (BPF_CORE_READ(oi, __upperdentry))
		return EXE_UPPER_LAYER;
	return EXE_LOWER_LAYER;
}

/* exe_writable approximates "the process's user may write its executable": owner, group or
 * other write bit for its credentials, or CAP_DAC_OVERRIDE. */
static __always_inline __u32 exe_writable(struct inode *in, struct exec_info *ei)
{
	umode_t mode = BPF_CORE_READ(in, i_mode);
	__u32 uid = BPF_CORE_READ(in, i_uid.val);
	__u32 gid = BPF_CORE_READ(in, i_gid.val);
	if ((uid == ei->euid && (mode & 0200)) || (gid == ei->egid && (mode & 0020)) || (mode & 0002) ||
	    (ei->cap_effective & (1ULL << CAP_DAC_OVERRIDE)))
		return EXE_WRITABLE;
	return 0;
}

static __always_inline __u32 tty_dev(struct task_struct *p)
{
	struct tty_struct *tty = BPF_CORE_READ(p, signal, tty);
	if (!tty)
		return 0;
	__u32 major = BPF_CORE_READ(tty, driver, major);
	__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	/* the kernel's new_encode_dev, which is what /proc/PID/stat tty_nr shows */
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffU) << 12);
}

/* vnr is t's id as its own pid namespace sees it (the innermost level). */
static __always_inline __u32 vnr(struct task_struct *t)
{
	struct pid *p = BPF_CORE_READ(t, thread_pid);
	if (!p)
		return 0;
	unsigned int level = BPF_CORE_READ(p, level);
	return BPF_CORE_READ(p, numbers[level & 31].nr);
}

static __always_inline __u32 pid_nr_of(struct pid *pid)
{
	if (!pid)
		return 0;
	return BPF_CORE_READ(pid, numbers[0].nr);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(lanner_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct settings *st = get_settings();
	if (is_self(st))
		return 0;
	char *buf = get_scratch();
	if (!buf)
		return 0;
	__u16 nr = SYS_EXECVE;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(p);
	if (regs && BPF_CORE_READ(regs, orig_ax) == SYS_EXECVEAT)
		nr = SYS_EXECVEAT;
	fill_hdr(buf, K_EXEC, nr, 0);

	struct exec_info *ei = (struct exec_info *)&buf[sizeof(struct hdr)];
	__builtin_memset(ei, 0, sizeof(*ei));
	ei->ppid = BPF_CORE_READ(p, real_parent, tgid);
	const struct cred *cr = BPF_CORE_READ(p, cred);
	ei->uid = BPF_CORE_READ(cr, uid.val);
	ei->gid = BPF_CORE_READ(cr, gid.val);
	ei->euid = BPF_CORE_READ(cr, euid.val);
	ei->egid = BPF_CORE_READ(cr, egid.val);
	ei->cap_inheritable = BPF_CORE_READ(cr, cap_inheritable.val);
	ei->cap_permitted = BPF_CORE_READ(cr, cap_permitted.val);
	ei->cap_effective = BPF_CORE_READ(cr, cap_effective.val);
	if (bpf_core_field_exists(p->loginuid))
		ei->loginuid = BPF_CORE_READ(p, loginuid.val);
	else
		ei->loginuid = 0xffffffff;
	ei->tty = tty_dev(p);
	ei->sid = pid_nr_of(BPF_CORE_READ(p, signal, pids[PIDTYPE_SID]));
	ei->pgid = pid_nr_of(BPF_CORE_READ(p, signal, pids[PIDTYPE_PGID]));
	ei->start_time = BPF_CORE_READ(p, start_boottime);
	struct pid *tp = BPF_CORE_READ(p, thread_pid);
	unsigned int level = BPF_CORE_READ(tp, level);
	struct pid_namespace *ns = BPF_CORE_READ(tp, numbers[level & 31].ns);
	ei->pidns_init_start = BPF_CORE_READ(ns, child_reaper, start_boottime);
	BPF_CORE_READ_STR_INTO(&ei->comm, p, comm);
	ei->vtid = vnr(p);
	ei->vpid = vnr(BPF_CORE_READ(p, group_leader));

	struct file *f = BPF_CORE_READ(bprm, file);
	struct inode *in = BPF_CORE_READ(f, f_inode);
	ei->exe_ino = BPF_CORE_READ(in, i_ino);
	ei->exe_ctime = inode_ctime(in);
	ei->exe_mtime = inode_mtime(in);

	__u32 off = sizeof(struct hdr) + sizeof(struct exec_info);
	off = put_kernel_str(buf, off, T_FILENAME, BPF_CORE_READ(bprm, filename));

	off = put_path(buf, off, T_EXEPATH, (struct path *)&f->f_path);
	off = put_path(buf, off, T_CWD, &BPF_CORE_READ(p, fs)->pwd);

	/* The executable's own name: "memfd:NAME" (and no links) for fileless execution. */
	__u32 name_off = off + sizeof(struct item);
	off = put_kernel_str(buf, off, T_EXENAME, BPF_CORE_READ(f, f_path.dentry, d_name.name));
	if (BPF_CORE_READ(in, __i_nlink) == 0 && name_off < OFF_MAX - 8) {
		char pfx[6];
		__builtin_memcpy(pfx, &buf[name_off & OFF_MAX], 6);
		if (pfx[0] == 'm' && pfx[1] == 'e' && pfx[2] == 'm' && pfx[3] == 'f' && pfx[4] == 'd' &&
		    pfx[5] == ':')
			ei = (struct exec_info *)&buf[sizeof(struct hdr)], ei->flags |= EXE_FROM_MEMFD;
	}

	ei = (struct exec_info *)&buf[sizeof(struct hdr)];
	ei->flags |= exe_layer_flags(in) | exe_writable(in, ei);

	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	unsigned long as = BPF_CORE_READ(mm, arg_start);
	unsigned long ae = BPF_CORE_READ(mm, arg_end);
	if (ae > as)
		off = put_user_mem(buf, off, T_ARGV, 0, (const void *)as, ae - as, STR_MAX - 1);

	submit(buf, off, st, 1);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(lanner_fork, struct task_struct *parent, struct task_struct *child)
{
	struct settings *st = get_settings();
	char *buf = get_scratch();
	if (!buf)
		return 0;
	fill_hdr(buf, K_FORK, 0, 0);
	struct fork_info *fi = (struct fork_info *)&buf[sizeof(struct hdr)];
	fi->child_tid = BPF_CORE_READ(child, pid);
	fi->child_pid = BPF_CORE_READ(child, tgid);
	fi->start_time = BPF_CORE_READ(child, start_boottime);
	const struct cred *cr = BPF_CORE_READ(child, cred);
	fi->uid = BPF_CORE_READ(cr, euid.val);
	fi->gid = BPF_CORE_READ(cr, egid.val);
	BPF_CORE_READ_STR_INTO(&fi->comm, child, comm);
	fi->vtid = vnr(child);
	fi->vpid = vnr(BPF_CORE_READ(child, group_leader));
	submit(buf, sizeof(struct hdr) + sizeof(struct fork_info), st, 1);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(lanner_exit, struct task_struct *p, bool group_dead)
{
	struct settings *st = get_settings();
	char *buf = get_scratch();
	if (!buf)
		return 0;
	fill_hdr(buf, K_EXIT, 0, 0);
	struct exit_info *xi = (struct exit_info *)&buf[sizeof(struct hdr)];
	xi->code = BPF_CORE_READ(p, exit_code);
	xi->group_dead = group_dead;
	submit(buf, sizeof(struct hdr) + sizeof(struct exit_info), st, 1);
	return 0;
}
