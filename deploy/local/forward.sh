#!/usr/bin/env bash
# forward.sh: an independent Fluentd Forward protocol server (forward-server/, Java + msgpack-core
# from Maven Central) that stores every record it accepts as one JSON line, for lanner's tests.
#
#   deploy/local/forward.sh build    build the server into the cache (only when its sources changed)
#   deploy/local/forward.sh start    build if needed, start in the background, wait until ready (idempotent)
#   deploy/local/forward.sh stop     SIGTERM, wait, SIGKILL after 20 seconds
#   deploy/local/forward.sh status   running or not, addresses, version, mode, counters (exit 3 when down)
#   deploy/local/forward.sh wait     wait until both ports answer
#   deploy/local/forward.sh env      print LANNER_FORWARD_* lines for `eval` in test scripts
#
# At run time the ack behavior is switched on the control port (see README.md):
#   curl -s -XPOST 'http://127.0.0.1:24225/mode?ack=withhold'      never ack, store nothing
#   curl -s -XPOST 'http://127.0.0.1:24225/mode?ack=ack&delay_ms=500'  ack after 500 ms
#
# Environment (all optional):
#   LANNER_CACHE                   cache folder (default ~/.cache/lanner)
#   LANNER_FORWARD_PORT            Forward port on 127.0.0.1 (default 24224)
#   LANNER_FORWARD_CONTROL_PORT    HTTP control port on 127.0.0.1 (default 24225)
#   LANNER_FORWARD_OUT             records file (default $LANNER_CACHE/forward/records.jsonl)
#   LANNER_FORWARD_ACK             initial ack mode: ack, withhold, store-noack, close (default ack)
#   LANNER_FORWARD_DELAY_MS        initial ack delay in ms (default 0)
#   LANNER_FORWARD_HEAP            JVM heap (default 256m)
#   LANNER_FORWARD_WAIT            seconds to wait for readiness (default 60)
#   LANNER_JAVA_HOME               Java 17+ (default: JAVA_HOME or Debian's OpenJDK 17)
set -euo pipefail
LOG_PREFIX="lanner forward"
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

FW_PORT="${LANNER_FORWARD_PORT:-24224}"
FW_CONTROL_PORT="${LANNER_FORWARD_CONTROL_PORT:-24225}"
FW_ROOT="$LANNER_CACHE/forward"
FW_OUT="${LANNER_FORWARD_OUT:-$FW_ROOT/records.jsonl}"
FW_ACK="${LANNER_FORWARD_ACK:-ack}"
FW_DELAY="${LANNER_FORWARD_DELAY_MS:-0}"
FW_HEAP="${LANNER_FORWARD_HEAP:-256m}"
FW_WAIT="${LANNER_FORWARD_WAIT:-60}"
SRC="$LOCAL_DIR/forward-server"
BUILD="$FW_ROOT/build"
JAR="$BUILD/lanner-forward-server-0.1.0.jar"
STAMP="$BUILD/.source-hash"
PIDFILE="$FW_ROOT/forward-server.pid"
SERVER_LOG="$FW_ROOT/server.log"
FW_MARK="lanner-forward-server"
CONTROL_URL="http://127.0.0.1:$FW_CONTROL_PORT"

source_hash() {
  (cd "$SRC" && find pom.xml src -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -d' ' -f1
}

build() {
  local h
  h=$(source_hash)
  if [ -s "$JAR" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$h" ]; then
    return 0
  fi
  ensure_tools
  local java
  java=$(find_java17)
  [ -x "$java/bin/javac" ] || die "no JDK 17+ (javac) found: install openjdk-17-jdk-headless or set LANNER_JAVA_HOME"
  say "building the Forward server (forward-server/, msgpack-core from Maven Central) into $BUILD"
  mkdir -p "$FW_ROOT"
  rm -rf "$BUILD"
  mvn_run -f "$SRC/pom.xml" -Dlanner.build.dir="$BUILD" -DskipTests package ||
    die "building $SRC failed"
  [ -s "$JAR" ] || die "the build made no $JAR"
  echo "$h" >"$STAMP"
}

ready() {
  port_open "$FW_PORT" && curl -s -m 3 "$CONTROL_URL/healthz" 2>/dev/null | grep -q ok
}

version() {
  curl -s -m 3 "$CONTROL_URL/status" 2>/dev/null | sed -n 's/.*"version":"\([^"]*\)".*/\1/p'
}

start() {
  mkdir -p "$FW_ROOT"
  exec 9>"$FW_ROOT/.lock"
  flock -w 600 9 || die "another forward.sh holds $FW_ROOT/.lock"
  if pid_alive "$PIDFILE" "$FW_MARK" && ready; then
    say "already running: 127.0.0.1:$FW_PORT (control $CONTROL_URL, version $(version), pid $(cat "$PIDFILE"))"
    return 0
  fi
  if ! pid_alive "$PIDFILE" "$FW_MARK"; then
    port_open "$FW_PORT" && die "port $FW_PORT is taken by another program: set LANNER_FORWARD_PORT"
    port_open "$FW_CONTROL_PORT" && die "port $FW_CONTROL_PORT is taken by another program: set LANNER_FORWARD_CONTROL_PORT"
  fi
  build
  local java
  java=$(find_java17)
  if ! pid_alive "$PIDFILE" "$FW_MARK"; then
    say "starting the Forward server on 127.0.0.1:$FW_PORT (control $CONTROL_URL, records $FW_OUT, log $SERVER_LOG)"
    # -Dlanner-forward-server marks the command line: stop and status check it before signalling.
    setsid "$java/bin/java" -D"$FW_MARK" -Xms64m -Xmx"$FW_HEAP" -XX:+UseSerialGC -jar "$JAR" \
      --host 127.0.0.1 --port "$FW_PORT" --control-port "$FW_CONTROL_PORT" --out "$FW_OUT" \
      --ack "$FW_ACK" --delay-ms "$FW_DELAY" >>"$SERVER_LOG" 2>&1 </dev/null 9>&- &
    echo $! >"$PIDFILE"
  fi
  wait_ready
}

wait_ready() {
  local start=$SECONDS
  while ((SECONDS - start < FW_WAIT)); do
    if ready; then
      say "ready after $((SECONDS - start))s: forward 127.0.0.1:$FW_PORT, control $CONTROL_URL (version $(version), pid $(cat "$PIDFILE"), RSS $(rss_of "$PIDFILE"))"
      return 0
    fi
    if ! pid_alive "$PIDFILE" "$FW_MARK"; then
      log_tail "$SERVER_LOG"
      die "the Forward server exited during start (log: $SERVER_LOG)"
    fi
    sleep 0.2
  done
  log_tail "$SERVER_LOG"
  die "the Forward server was not ready within ${FW_WAIT}s (log: $SERVER_LOG)"
}

stop() {
  mkdir -p "$FW_ROOT"
  exec 9>"$FW_ROOT/.lock"
  flock -w 600 9 || die "another forward.sh holds $FW_ROOT/.lock"
  stop_pid "$PIDFILE" "$FW_MARK" 20 "the Forward server"
}

status() {
  if pid_alive "$PIDFILE" "$FW_MARK"; then
    local st
    st=$(curl -s -m 3 "$CONTROL_URL/status" 2>/dev/null || true)
    echo "forward-server: running, forward 127.0.0.1:$FW_PORT, control $CONTROL_URL, version $(version), pid $(cat "$PIDFILE"), RSS $(rss_of "$PIDFILE")"
    echo "  status  ${st:-not answering}"
    echo "  records $FW_OUT"
    echo "  log     $SERVER_LOG"
    [ -n "$st" ] || return 3
    return 0
  fi
  echo "forward-server: not running (would listen on 127.0.0.1:$FW_PORT, control $CONTROL_URL; log $SERVER_LOG)"
  return 3
}

cmd=${1:-}
case "$cmd" in
  build) build && say "built $JAR" ;;
  start | up) start ;;
  stop | down) stop ;;
  status) status ;;
  wait) wait_ready ;;
  env)
    echo "export LANNER_FORWARD_ADDR=127.0.0.1:$FW_PORT"
    echo "export LANNER_FORWARD_CONTROL_URL=$CONTROL_URL"
    printf 'export LANNER_FORWARD_OUT=%q\n' "$FW_OUT"
    printf 'export LANNER_FORWARD_JAR=%q\n' "$JAR"
    printf 'export LANNER_JAVA=%q\n' "$(find_java17)/bin/java"
    ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2 ;;
esac
