#!/usr/bin/env bash
# es.sh: a real single-node Elasticsearch for development and integration tests, without Docker.
#
#   deploy/local/es.sh fetch    download Elastic's server distribution from Maven Central, unpack it
#   deploy/local/es.sh start    fetch if needed, start in the background, wait until ready (idempotent)
#   deploy/local/es.sh stop     SIGTERM, wait, SIGKILL after LANNER_ES_STOP_WAIT seconds
#   deploy/local/es.sh status   running or not, URL, version, health, memory, logs (exit 3 when down)
#   deploy/local/es.sh wipe     stop the node and delete its data (start it again afterwards)
#   deploy/local/es.sh wait     wait until the node answers with health yellow or green
#   deploy/local/es.sh env      print `export LANNER_ES_URL=...` for `eval` in test scripts
#
# The distribution is org.elasticsearch.distribution.integ-test-zip:elasticsearch (zip): the server
# with only the transport, x-pack-core and x-pack-security modules. It has indices, bulk, composable
# index templates and data streams in the server core, but no ILM, ingest processors or Kibana
# support. See README.md for what that means for code that talks to it.
#
# Environment (all optional):
#   LANNER_CACHE                 cache folder (default ~/.cache/lanner)
#   LANNER_ES_VERSION            distribution version (default 8.19.21, the newest 8.x served)
#   LANNER_ES_PORT               HTTP port on 127.0.0.1 (default 9200)
#   LANNER_ES_TRANSPORT_PORT     transport port on 127.0.0.1 (default 9300)
#   LANNER_ES_HEAP               JVM heap, -Xms and -Xmx (default 1g)
#   LANNER_ES_USER               system user the node runs as when started by root (default lanner-es)
#   LANNER_ES_WAIT               seconds to wait for readiness (default 180)
#   LANNER_ES_STOP_WAIT          seconds between SIGTERM and SIGKILL (default 60)
#   LANNER_JAVA_HOME             Java 17+ to run it with (default: JAVA_HOME or Debian's OpenJDK 17)
set -euo pipefail
LOG_PREFIX="lanner es"
# shellcheck source=lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

ES_VERSION="${LANNER_ES_VERSION:-8.19.21}"
ES_PORT="${LANNER_ES_PORT:-9200}"
ES_TRANSPORT_PORT="${LANNER_ES_TRANSPORT_PORT:-9300}"
ES_HEAP="${LANNER_ES_HEAP:-1g}"
ES_USER="${LANNER_ES_USER:-lanner-es}"
ES_WAIT="${LANNER_ES_WAIT:-180}"
ES_STOP_WAIT="${LANNER_ES_STOP_WAIT:-60}"
ES_URL="http://127.0.0.1:$ES_PORT"

ES_ROOT="$LANNER_CACHE/es"
ES_HOME="$ES_ROOT/dist/elasticsearch-$ES_VERSION"
NODE="$ES_ROOT/node-$ES_VERSION"
PIDFILE="$NODE/elasticsearch.pid"
LOGDIR="$NODE/logs"
STARTUP_LOG="$LOGDIR/startup.log"
SERVER_LOG="$LOGDIR/lanner-local.log"
ES_MARK="org.elasticsearch"
GAV="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

fetch() {
  if [ -x "$ES_HOME/bin/elasticsearch" ]; then
    return 0
  fi
  ensure_tools
  mkdir -p "$ES_ROOT/dist"
  local zip="$LANNER_M2/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$ES_VERSION/elasticsearch-$ES_VERSION.zip"
  if [ ! -s "$zip" ]; then
    say "fetching $GAV from Maven Central into $LANNER_M2 (about 105 MB)"
    # -C: fail on a checksum mismatch instead of warning.
    mvn_run -C "$DEP_PLUGIN:get" -Dartifact="$GAV" -Dtransitive=false ||
      die "could not fetch $GAV (is Maven Central reachable? is $ES_VERSION served? set LANNER_ES_VERSION)"
  fi
  say "unpacking $(basename "$zip") into $ES_ROOT/dist"
  local tmp
  tmp=$(mktemp -d "$ES_ROOT/dist/.unpack.XXXXXX")
  unzip -q "$zip" -d "$tmp" || { rm -rf "$tmp"; die "could not unpack $zip"; }
  [ -x "$tmp/elasticsearch-$ES_VERSION/bin/elasticsearch" ] || { rm -rf "$tmp"; die "$zip has no elasticsearch-$ES_VERSION/bin/elasticsearch"; }
  # Readable by the unprivileged user the node runs as; written by nobody after this.
  chmod -R a+rX "$tmp"
  mv "$tmp/elasticsearch-$ES_VERSION" "$ES_HOME"
  rmdir "$tmp"
}

# health prints the cluster status (green, yellow, red) or nothing when the node does not answer.
health() {
  curl -s -m 5 "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=1s" 2>/dev/null |
    sed -n 's/.*"status":"\([a-z]*\)".*/\1/p'
}

ready() {
  local h
  h=$(health)
  [ "$h" = green ] || [ "$h" = yellow ]
}

# version asks the node itself: the integ-test-zip has no rest-root module, so `GET /` (the info
# API) answers 405 there.
version() {
  curl -s -m 5 "$ES_URL/_nodes/_local?filter_path=nodes.*.version" 2>/dev/null |
    sed -n 's/.*"version":"\([^"]*\)".*/\1/p' | head -1
}

# is_elasticsearch: whatever listens on the port says it is Elasticsearch (the header
# go-elasticsearch checks too).
is_elasticsearch() {
  curl -s -m 5 -o /dev/null -D - "$ES_URL/_cluster/health" 2>/dev/null | grep -qi '^x-elastic-product: *Elasticsearch'
}

# run_user prints the user the node runs as: the current one unless that is root, which
# Elasticsearch refuses; then LANNER_ES_USER, created as a system user when missing.
run_user() {
  if [ "$(id -u)" != 0 ]; then
    id -un
    return 0
  fi
  if ! id -u "$ES_USER" >/dev/null 2>&1; then
    say "creating system user $ES_USER (Elasticsearch refuses to run as root)"
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$ES_USER" >&2
  fi
  echo "$ES_USER"
}

as_user() {
  local u=$1
  shift
  if [ "$(id -un)" = "$u" ]; then
    "$@"
  else
    runuser -u "$u" -- "$@"
  fi
}

# grant_traverse lets user $1 reach directory $2: for each ancestor it cannot enter (the usual case
# is /root, mode 0700, when the cache is under root's home) it adds an ACL entry granting that one
# user search permission only (x: enter, not list or read). Set LANNER_CACHE elsewhere (for example
# /var/cache/lanner) to avoid it.
grant_traverse() {
  local u=$1 target=$2 p="" part
  [ "$(id -u)" = 0 ] || return 0
  IFS=/ read -r -a parts <<<"${target#/}"
  for part in "${parts[@]}"; do
    p="$p/$part"
    [ -d "$p" ] || break
    as_user "$u" test -x "$p" && continue
    command -v setfacl >/dev/null 2>&1 || "$LOCAL_DIR/deps.sh" apt acl || die "user $u cannot enter $p and setfacl is missing: set LANNER_CACHE to a folder $u can reach"
    say "granting user $u search-only access (ACL u:$u:x) to $p so it can reach $target"
    setfacl -m "u:$u:x" "$p" || die "could not add an ACL to $p: set LANNER_CACHE to a folder user $u can reach"
  done
}

write_config() {
  mkdir -p "$NODE/config" "$NODE/data" "$LOGDIR" "$NODE/tmp"
  if [ ! -e "$NODE/config/jvm.options" ]; then
    cp -R "$ES_HOME/config/." "$NODE/config/"
  fi
  mkdir -p "$NODE/config/jvm.options.d"
  printf -- '-Xms%s\n-Xmx%s\n' "$ES_HEAP" "$ES_HEAP" >"$NODE/config/jvm.options.d/lanner-heap.options"
  {
    echo "# Written by deploy/local/es.sh at every start: edit the script, not this file."
    echo "cluster.name: lanner-local"
    echo "node.name: lanner-local"
    echo "path.data: $NODE/data"
    echo "path.logs: $LOGDIR"
    echo "network.host: 127.0.0.1"
    echo "http.port: $ES_PORT"
    echo "transport.port: $ES_TRANSPORT_PORT"
    # single-node: no discovery, and the production bootstrap checks (vm.max_map_count, file
    # descriptors, memory lock...) are reported as warnings instead of stopping the node.
    echo "discovery.type: single-node"
    if [ -d "$ES_HOME/modules/x-pack-security" ]; then
      # The integ-test-zip carries x-pack-security, on by default in 8.x: plain HTTP, no users.
      echo "xpack.security.enabled: false"
    fi
    # A development node on a shared disk must not turn indices read-only when the disk fills
    # past the watermarks: tests would fail far from the cause.
    echo "cluster.routing.allocation.disk.threshold_enabled: false"
    local mmc
    mmc=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo 0)
    if [ "$mmc" -lt 262144 ]; then
      # vm.max_map_count is below what mmap-backed Lucene stores want and cannot be raised
      # without CAP_SYS_ADMIN in the host: read index files through NIO instead.
      echo "# vm.max_map_count is $mmc (< 262144): no mmap."
      echo "node.store.allow_mmap: false"
    fi
  } >"$NODE/config/elasticsearch.yml"
}

start() {
  mkdir -p "$ES_ROOT"
  exec 9>"$ES_ROOT/.lock"
  flock -w 900 9 || die "another es.sh holds $ES_ROOT/.lock"
  if pid_alive "$PIDFILE" "$ES_MARK" && ready; then
    say "already running: $ES_URL (Elasticsearch $(version), pid $(cat "$PIDFILE"))"
    return 0
  fi
  if ! pid_alive "$PIDFILE" "$ES_MARK" && port_open "$ES_PORT"; then
    if is_elasticsearch; then
      say "an Elasticsearch not started by this script already answers on $ES_URL (version $(version)): using it"
      return 0
    fi
    die "port $ES_PORT is taken by something that is not Elasticsearch: set LANNER_ES_PORT"
  fi
  if pid_alive "$PIDFILE" "$ES_MARK"; then
    say "a node is starting already (pid $(cat "$PIDFILE")): waiting for it"
    wait_ready ""
    return 0
  fi
  ensure_tools
  fetch
  local java u
  java=$(find_java17)
  [ -n "$java" ] || die "no Java 17 or newer found: install openjdk-17-jre-headless or set LANNER_JAVA_HOME"
  u=$(run_user)
  write_config
  if [ "$(id -u)" = 0 ]; then
    chown -R "$u:" "$NODE"
    grant_traverse "$u" "$NODE"
    grant_traverse "$u" "$ES_HOME"
  fi
  rm -f "$PIDFILE"
  : >"$STARTUP_LOG"
  [ "$(id -u)" = 0 ] && chown "$u:" "$STARTUP_LOG"
  say "starting Elasticsearch $ES_VERSION as user $u on $ES_URL (heap $ES_HEAP, Java $(java_major "$java/bin/java"), logs $LOGDIR)"
  # -d: the launcher forks the server and exits once it is up (or failed); -p: the server's pid.
  # setsid: the node outlives the shell and make, and a Ctrl-C there does not reach it.
  local as=()
  [ "$(id -un)" = "$u" ] || as=(runuser -u "$u" --)
  (
    cd "$LOGDIR"
    exec setsid "${as[@]}" env -i PATH=/usr/bin:/bin HOME="$NODE" LANG=C.UTF-8 \
      ES_JAVA_HOME="$java" ES_PATH_CONF="$NODE/config" ES_TMPDIR="$NODE/tmp" \
      "$ES_HOME/bin/elasticsearch" -d -p "$PIDFILE" >>"$STARTUP_LOG" 2>&1 </dev/null 9>&-
  ) &
  wait_ready $!
}

# wait_ready waits until the node is ready, the launcher ($1, may be empty) failed, or LANNER_ES_WAIT
# passed; on failure it shows the log tails.
wait_ready() {
  local launcher=${1:-} start=$SECONDS
  while ((SECONDS - start < ES_WAIT)); do
    if ready; then
      say "ready after $((SECONDS - start))s: $ES_URL (Elasticsearch $(version), health $(health), pid $(cat "$PIDFILE" 2>/dev/null), RSS $(rss_of "$PIDFILE"))"
      return 0
    fi
    if [ -n "$launcher" ] && ! kill -0 "$launcher" 2>/dev/null; then
      local rc=0
      wait "$launcher" || rc=$?
      launcher=""
      if [ "$rc" != 0 ]; then
        say "the launcher exited with status $rc"
        log_tail "$STARTUP_LOG" "$SERVER_LOG"
        die "Elasticsearch did not start (logs: $LOGDIR)"
      fi
    fi
    if [ -z "$launcher" ] && [ -s "$PIDFILE" ] && ! pid_alive "$PIDFILE" "$ES_MARK"; then
      log_tail "$STARTUP_LOG" "$SERVER_LOG"
      die "Elasticsearch exited during start (logs: $LOGDIR)"
    fi
    sleep 1
  done
  log_tail "$STARTUP_LOG" "$SERVER_LOG"
  die "Elasticsearch was not ready within ${ES_WAIT}s (health: '$(health)'; logs: $LOGDIR; LANNER_ES_WAIT raises the limit)"
}

stop() {
  mkdir -p "$ES_ROOT"
  exec 9>"$ES_ROOT/.lock"
  flock -w 900 9 || die "another es.sh holds $ES_ROOT/.lock"
  stop_pid "$PIDFILE" "$ES_MARK" "$ES_STOP_WAIT" "Elasticsearch"
}

# wipe stops the node and deletes its data (indices, data streams, templates). The integ-test-zip
# lacks the data-streams module, so `DELETE _data_stream/NAME` is refused (405): this is the way to
# start over.
wipe() {
  stop
  say "deleting $NODE/data"
  rm -rf "$NODE/data"
}

status() {
  if pid_alive "$PIDFILE" "$ES_MARK"; then
    local h
    h=$(health)
    echo "elasticsearch: running, $ES_URL, version $(version), health ${h:-not answering}, pid $(cat "$PIDFILE"), RSS $(rss_of "$PIDFILE")"
    echo "  home $ES_HOME"
    echo "  data $NODE/data"
    echo "  logs $LOGDIR (server log $SERVER_LOG)"
    [ -n "$h" ] || return 3
    return 0
  fi
  if port_open "$ES_PORT" && is_elasticsearch; then
    echo "elasticsearch: $ES_URL answers (version $(version), health $(health)) but was not started by es.sh with this LANNER_CACHE"
    return 0
  fi
  echo "elasticsearch: not running (would listen on $ES_URL; version $ES_VERSION; logs $LOGDIR)"
  return 3
}

cmd=${1:-}
case "$cmd" in
  fetch) fetch && say "Elasticsearch $ES_VERSION is in $ES_HOME" ;;
  start | up) start ;;
  stop | down) stop ;;
  status) status ;;
  wipe) wipe ;;
  wait) wait_ready "" ;;
  env) echo "export LANNER_ES_URL=$ES_URL" ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2 ;;
esac
