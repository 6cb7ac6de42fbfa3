#!/usr/bin/env bash
# deps.sh: install what lanner's build, tests and local stack need on a Debian machine, and only
# what is missing. Every step says what it does. Run as root (apt-get); as another user the apt
# steps are skipped with a message.
#
#   deploy/local/deps.sh go              Go toolchain (>= go1.26)
#   deploy/local/deps.sh apt PKG...      Debian packages, if not installed
#   deploy/local/deps.sh backports PKG.. packages from bookworm-backports (adds the suite once)
#   deploy/local/deps.sh stack           what the local stack (es.sh, forward.sh) needs: a JDK 17,
#                                        Maven, unzip, curl, acl
set -euo pipefail

GO_WANT="${GO_WANT:-go1.26.8}"
APT_UPDATED=/tmp/.lanner-apt-updated

say() { printf 'lanner deps: %s\n' "$*" >&2; }

apt_update_once() {
  if [ ! -e "$APT_UPDATED" ] || [ -n "$(find "$APT_UPDATED" -mmin +240 2>/dev/null)" ]; then
    say "apt-get update"
    apt-get update -qq >&2
    touch "$APT_UPDATED"
  fi
}

need_root() {
  if [ "$(id -u)" != 0 ]; then
    say "not root: cannot install $*; install them yourself or run as root"
    return 1
  fi
}

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  need_root "${missing[*]}" || return 1
  apt_update_once
  say "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

add_backports() {
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    need_root "bookworm-backports" || return 1
    say "adding Debian bookworm-backports to apt sources"
    cat >/etc/apt/sources.list.d/lanner-backports.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    rm -f "$APT_UPDATED"
  fi
}

backports_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  add_backports
  apt_update_once
  say "installing from bookworm-backports: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports "${missing[@]}" >&2
}

# go_ok: a go command >= 1.26 is on PATH (or in /usr/local/go/bin).
go_ok() {
  local v
  v=$(go env GOVERSION 2>/dev/null) || return 1
  v=${v#go}
  local major minor
  major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  [ "$major" -gt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -ge 26 ]; }
}

ensure_go() {
  export PATH="$PATH:/usr/local/go/bin:/usr/lib/go-1.23/bin"
  go_ok && return 0
  # A Go >= 1.21 can fetch the wanted toolchain from the Go module proxy (GOTOOLCHAIN).
  if ! command -v go >/dev/null 2>&1; then
    say "no Go found: installing golang-1.23 from bookworm-backports to bootstrap $GO_WANT"
    backports_install golang-1.23-go ca-certificates
  fi
  say "fetching the $GO_WANT toolchain through the Go module proxy"
  GOTOOLCHAIN="$GO_WANT" go version >&2
  say "Go $GO_WANT ready: the Makefile runs go with GOTOOLCHAIN=$GO_WANT when the installed Go is older"
}

cmd=${1:-}
shift || true
case "$cmd" in
  go) ensure_go ;;
  apt) apt_install "$@" ;;
  backports) backports_install "$@" ;;
  stack) apt_install openjdk-17-jre-headless openjdk-17-jdk-headless maven unzip curl ca-certificates acl ;;
  *) echo "usage: $0 go | apt PKG... | backports PKG... | stack" >&2; exit 2 ;;
esac
