# lib.sh: shared helpers of the local stack scripts (es.sh, forward.sh, stack.sh). Sourced, not run.
#
# Everything the stack downloads, builds or writes lives under one cache folder, so a fresh machine
# and a warm one differ only by that folder:
#   LANNER_CACHE   default ~/.cache/lanner (XDG_CACHE_HOME/lanner when XDG_CACHE_HOME is set)
#     m2/          Maven's local repository used by these scripts (distribution zip, plugins, libraries)
#     es/          Elasticsearch: dist/ (unpacked), node-<version>/ (config, data, logs, tmp, pid file)
#     forward/     Forward server: build/ (jar + libs), records.jsonl, server.log, pid file

# shellcheck shell=bash

LOCAL_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -n "${LANNER_CACHE:-}" ]; then
  :
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
  LANNER_CACHE="$XDG_CACHE_HOME/lanner"
else
  LANNER_CACHE="${HOME:-/root}/.cache/lanner"
fi
export LANNER_CACHE
LANNER_M2="${LANNER_M2:-$LANNER_CACHE/m2}"

say() { printf '%s: %s\n' "${LOG_PREFIX:-lanner}" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ensure_tools installs (through deps.sh, Debian packages) what the stack scripts need and lacks:
# a JDK 17 (the Forward server is compiled here; Elasticsearch 8 runs on 17), Maven, unzip, curl,
# flock, and setfacl for the one case described in grant_traverse.
ensure_tools() {
  local pkgs=()
  [ -n "$(find_java17)" ] || pkgs+=(openjdk-17-jre-headless openjdk-17-jdk-headless)
  if [ -n "$(find_java17)" ] && [ ! -x "$(find_java17)/bin/javac" ]; then pkgs+=(openjdk-17-jdk-headless); fi
  command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
  command -v unzip >/dev/null 2>&1 || pkgs+=(unzip)
  command -v curl >/dev/null 2>&1 || pkgs+=(curl ca-certificates)
  command -v flock >/dev/null 2>&1 || pkgs+=(util-linux)
  [ ${#pkgs[@]} -eq 0 ] && return 0
  "$LOCAL_DIR/deps.sh" apt "${pkgs[@]}" || die "missing tools (${pkgs[*]}): install them, or run as root so deps.sh can"
}

# java_major prints the feature version of the java binary $1 (17, 21, 25...).
java_major() {
  "$1" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}'
}

# find_java17 prints a JAVA_HOME whose java is 17 or newer: LANNER_JAVA_HOME, then JAVA_HOME, then
# Debian's OpenJDK 17, then whatever java is on PATH. Elasticsearch 8.x supports 17 to 24; this
# prefers 17 because that is the Java the Forward server is built for and the one CI has.
find_java17() {
  local c
  for c in "${LANNER_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64 \
    "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")"; do
    [ -n "$c" ] && [ -x "$c/bin/java" ] || continue
    local v
    v=$(java_major "$c/bin/java")
    [ -n "$v" ] && [ "${v%%.*}" -ge 17 ] 2>/dev/null || continue
    echo "$c"
    return 0
  done
  return 0
}

# mvn_run runs Maven in batch mode against the cache's own local repository. Its output goes to
# stderr without the colour escapes Maven 3.8 prints even in batch mode.
mvn_run() {
  (
    set -o pipefail
    JAVA_HOME="$(find_java17)" mvn -B -q -Dstyle.color=never -Dmaven.repo.local="$LANNER_M2" "$@" 2>&1 |
      sed -e 's/\x1b\[[0-9;]*m//g' -e '/^$/d' >&2
  )
}

# pid_alive: the pid file $1 names a live process whose command line contains $2.
pid_alive() {
  local f=$1 want=$2 pid
  [ -s "$f" ] || return 1
  pid=$(tr -dc '0-9' <"$f")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$want"
}

# stop_pid sends SIGTERM to the process in pid file $1 (checked against $2 as in pid_alive), waits
# up to $3 seconds for it to exit, then sends SIGKILL. Prints how it ended.
stop_pid() {
  local f=$1 want=$2 wait_s=$3 what=$4 pid i
  if ! pid_alive "$f" "$want"; then
    say "$what is not running (no live process in $f)"
    rm -f "$f"
    return 0
  fi
  pid=$(tr -dc '0-9' <"$f")
  say "stopping $what (pid $pid, SIGTERM, up to ${wait_s}s)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < wait_s * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || { say "$what stopped"; rm -f "$f"; return 0; }
    sleep 0.2
  done
  say "$what did not stop within ${wait_s}s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$f"
}

# port_open: something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# log_tail prints the last lines of each existing file given, framed, to stderr.
log_tail() {
  local f
  for f in "$@"; do
    [ -s "$f" ] || continue
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
  printf -- '-----\n' >&2
}

# rss_of prints the resident memory of the process in pid file $1, in MiB.
rss_of() {
  local pid
  pid=$(tr -dc '0-9' <"$1" 2>/dev/null)
  [ -n "$pid" ] && awk '/^VmRSS/ {printf "%d MiB", $2/1024}' "/proc/$pid/status" 2>/dev/null
}
