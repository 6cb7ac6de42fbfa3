// SPDX-License-Identifier: GPL-2.0
//
// The capture floor: a tp_btf/sys_enter program that only looks the syscall up in a filter map and
// returns. Attaching any syscall tracepoint sends every syscall through the kernel's slow path, so
// benchmarks measure lanner's cost above this program, not above a kernel with nothing attached.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, __u8);
} noop_filter SEC(".maps");

SEC("tp_btf/sys_enter")
int BPF_PROG(lanner_noop, struct pt_regs *regs, long id)
{
	__u32 key = id;
	__u8 *on = bpf_map_lookup_elem(&noop_filter, &key);
	if (on && *on)
		return 1;
	return 0;
}
