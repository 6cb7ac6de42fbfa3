# lanner: build, test and run. `make run` and `make test` are the two commands of the README's quick
# start; both install what they need first (deploy/local/deps.sh says what it installs).

SHELL := /bin/bash
GO ?= go
export PATH := $(PATH):/usr/local/go/bin:/usr/lib/go-1.23/bin
# go.mod asks for go1.26; an older installed Go (>= 1.21) fetches it from the module proxy.
export GOTOOLCHAIN ?= auto
export GOFLAGS ?= -buildvcs=false

BIN      := bin/lanner
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
FUZZTIME ?= 10s
# Fuzz targets run briefly by `make test`: package and function.
FUZZ_TARGETS := \
	./collector/engine/filter:FuzzParse \
	./collector/engine:FuzzLoad \
	./collector/capture:FuzzDecode \
	./collector/alert:FuzzNewFormatter \
	./collector/replay:FuzzReader \
	./collector/audit:FuzzWebhookBody

.PHONY: all deps build test unit fuzz bench lint run clean bpf build-bpf test-bpf integration bench-bpf

all: build

deps:
	@deploy/local/deps.sh go

build: deps
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lanner

# bpf: the eBPF objects the capture package embeds (installs clang, bpftool, libbpf-dev >= 1.4
# first; dumps vmlinux.h from the running kernel). Not yet a dependency of build/test: binaries
# built without it (and without -tags lannerbpf) report "built without eBPF support".
bpf:
	@collector/capture/bpf/build.sh

# build-bpf: the lanner binary with live capture.
build-bpf: deps bpf
	$(GO) build -tags lannerbpf -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lanner

# test-bpf: capture and state tests against the real kernel (root; they skip with the reason otherwise).
test-bpf: deps bpf
	$(GO) test -count=1 -tags 'integration lannerbpf' ./collector/capture/... ./collector/state/...

# bench-bpf: capture overhead (open/close, open/read/close, connect, fork/exec loops with nothing,
# the no-op floor and lanner attached) and the sustained event rate; root only.
bench-bpf: deps bpf
	$(GO) test -tags lannerbpf -run '^$$' -bench . -benchtime 1x ./collector/capture/

# test: unit tests, then short fuzz runs of the parsers.
test: deps lint unit fuzz integration

unit:
	$(GO) test -count=1 ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		if $(GO) test -list "^$$fn$$" $$pkg 2>/dev/null | grep -qx "$$fn"; then \
			echo "fuzz $$pkg $$fn for $(FUZZTIME)"; \
			$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg; \
		else echo "fuzz $$pkg $$fn: no such target yet, skipped"; fi; \
	done

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./collector/... ./enrich/...
	@$(call with_stack,$(GO) test -tags integration -run '^$$' -bench ShipLocalNode -benchtime 5x ./shippers/elasticsearch/)

# integration: the shippers' integration tests (-tags integration) against the real local stack
# (deploy/local: Elasticsearch, Forward server). In CI (CI=true) a missing node fails them.
integration: deps
	@$(call with_stack,$(GO) test -count=1 -timeout 20m -tags integration ./shippers/...)

# with_stack runs $(1) with the local stack up: it starts the stack when it is not running and
# stops it afterwards only if it started it (a developer's running stack is left alone).
define with_stack
set -e; started=; \
if ! deploy/local/stack.sh status >/dev/null 2>&1; then started=1; deploy/local/stack.sh up; fi; \
eval "$$(deploy/local/stack.sh env)"; rc=0; $(1) || rc=$$?; \
if [ -n "$$started" ]; then deploy/local/stack.sh down || true; fi; exit $$rc
endef

lint: deps
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# run: until live capture lands, replays the bundled demonstration events (syscall and Kubernetes
# audit) through lanner's default rules and prints one Falco JSON alert per line.
run: build
	$(BIN) replay -r rules/lanner_rules.yaml rules/testdata/lanner_events.jsonl

clean:
	rm -rf bin
	$(GO) clean -testcache

# The local stack (deploy/local/README.md): a real Elasticsearch node and a Fluentd Forward server
# on 127.0.0.1, fetched from Maven Central into ~/.cache/lanner (LANNER_CACHE) on first use.
.PHONY: stack-up stack-down stack-status
stack-up:
	@deploy/local/stack.sh up

stack-down:
	@deploy/local/stack.sh down

stack-status:
	@deploy/local/stack.sh status
