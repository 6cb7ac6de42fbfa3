#!/usr/bin/env bash
# build.sh: compile lanner's eBPF programs (collector/capture/bpf/*.bpf.c) into the objects the
# capture package embeds when built with the lannerbpf tag. Installs the toolchain through
# deploy/local/deps.sh when it is missing (clang, llvm, bpftool, libelf, zlib, pkg-config from
# Debian; libbpf-dev >= 1.4 from bookworm-backports, which libbpfgo v0.8.0-libbpf-1.5 needs).
#
#   collector/capture/bpf/build.sh           build the objects
#   VMLINUX_BTF=/path/to/btf build.sh        take the kernel types from another BTF file
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
say() { printf 'lanner bpf: %s\n' "$*" >&2; }

"$root/deploy/local/deps.sh" apt clang llvm bpftool libelf-dev zlib1g-dev pkg-config
"$root/deploy/local/deps.sh" backports libbpf-dev

ver=$(pkg-config --modversion libbpf 2>/dev/null || echo 0)
case "$ver" in
  0|0.*|1.[0-3]|1.[0-3].*) say "libbpf $ver is too old: libbpfgo needs >= 1.4 (bookworm-backports' libbpf-dev)"; exit 1 ;;
esac

BPFTOOL=${BPFTOOL:-$(command -v bpftool || echo /usr/sbin/bpftool)}
CLANG=${CLANG:-clang}
btf=${VMLINUX_BTF:-/sys/kernel/btf/vmlinux}
if [ ! -r "$btf" ]; then
  say "no kernel BTF at $btf: the kernel needs CONFIG_DEBUG_INFO_BTF (or set VMLINUX_BTF)"
  exit 1
fi
# vmlinux.h is generated, never committed: CO-RE relocations make the object portable anyway.
if [ ! -s "$here/vmlinux.h" ] || [ "$btf" -nt "$here/vmlinux.h" ]; then
  say "dumping vmlinux.h from $btf"
  "$BPFTOOL" btf dump file "$btf" format c > "$here/vmlinux.h.tmp"
  mv "$here/vmlinux.h.tmp" "$here/vmlinux.h"
fi

for src in "$here"/*.bpf.c; do
  obj=${src%.c}.o
  if [ "$obj" -nt "$src" ] && [ "$obj" -nt "$here/vmlinux.h" ]; then continue; fi
  say "compiling $(basename "$src")"
  "$CLANG" -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -Wno-unused-function \
    -I"$here" -idirafter /usr/include/x86_64-linux-gnu -c "$src" -o "$obj.tmp"
  # Drop DWARF (BTF stays): the object is embedded in the binary.
  llvm-strip -g "$obj.tmp" 2>/dev/null || true
  mv "$obj.tmp" "$obj"
done
