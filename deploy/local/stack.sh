#!/usr/bin/env bash
# stack.sh: lanner's local stack, a real Elasticsearch node and a Fluentd Forward server, both on
# 127.0.0.1, both fetched from Maven Central into the cache (see README.md beside this script).
#
#   deploy/local/stack.sh up       start both (each is skipped when already running)
#   deploy/local/stack.sh down     stop both
#   deploy/local/stack.sh status   where they listen, versions, memory, logs (exit 3 if one is down)
#   deploy/local/stack.sh env      LANNER_ES_URL, LANNER_FORWARD_* lines for `eval` in test scripts
#
# `make stack-up`, `make stack-down` and `make stack-status` run these.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

case "${1:-}" in
  up)
    "$here/es.sh" start
    "$here/forward.sh" start
    echo
    "$here/stack.sh" status
    ;;
  down)
    rc=0
    "$here/forward.sh" stop || rc=$?
    "$here/es.sh" stop || rc=$?
    exit "$rc"
    ;;
  status)
    rc=0
    "$here/es.sh" status || rc=$?
    "$here/forward.sh" status || rc=$?
    exit "$rc"
    ;;
  env)
    "$here/es.sh" env
    "$here/forward.sh" env
    ;;
  *) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2 ;;
esac
