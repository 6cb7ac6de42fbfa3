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
# Fuzz targets run briefly by `make test`: package, function and how many inputs to run. The
# budget is a count, not a duration: with a duration, go1.26's fuzz coordinator can report a
# spurious "context deadline exceeded" failure when fuzztime ends while a worker is mid-input on a
# loaded machine (golang/go#75804, fixed in go1.27). Counts are about 5-15 s of work each on these 2-core machines.
# FUZZTIME=30s (or 1000000x) overrides every target's budget.
FUZZTIME ?=
FUZZ_TARGETS := \
	./collector/engine/filter:FuzzParse:150000x \
	./collector/engine:FuzzLoad:40000x \
	./collector/capture:FuzzDecode:300000x \
	./collector/alert:FuzzNewFormatter:60000x \
	./collector/replay:FuzzReader:60000x \
	./collector/audit:FuzzWebhookBody:60000x \
	./collector/config:FuzzParse:60000x \
	./shippers:FuzzParseJSON:100000x \
	./shippers:FuzzRecord:120000x \
	./shippers/chain:FuzzCanonical:60000x \
	./collector/respond/playbook:FuzzParseFile:40000x \
	./collector/respond:FuzzParseConfig:30000x

.PHONY: all deps build test unit fuzz bench lint run demo clean bpf build-bpf test-bpf test-live integration bench-bpf

# LANNER_BPF=1 (the default on Linux) builds lanner with live eBPF capture: `build` runs the bpf
# target first and builds with -tags lannerbpf. LANNER_BPF=0 builds without it (no clang or
# libbpf needed); that binary's `lanner run` says it lacks eBPF and how to get it.
ifeq ($(shell uname -s),Linux)
LANNER_BPF ?= 1
else
LANNER_BPF ?= 0
endif
ifeq ($(LANNER_BPF),1)
BUILD_TAGS := lannerbpf
BUILD_DEPS := bpf
endif

all: build

deps:
	@deploy/local/deps.sh go

build: deps $(BUILD_DEPS)
	$(GO) build -tags '$(BUILD_TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lanner

# bpf: the eBPF objects the capture package embeds (installs clang, bpftool, libbpf-dev >= 1.4
# first; dumps vmlinux.h from the running kernel). `build` runs it unless LANNER_BPF=0.
bpf:
	@collector/capture/bpf/build.sh

# build-bpf: the lanner binary with live capture.
build-bpf: deps bpf
	$(GO) build -tags lannerbpf -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/lanner

# test-bpf: capture, state and `lanner run` end-to-end tests against the real kernel (root; they
# skip with the reason otherwise, except in CI where lanner run's fail without root). The local
# stack is up around them: one lanner run test ships to Elasticsearch.
test-bpf: deps bpf
	@$(call with_stack,$(GO) test -count=1 -tags 'integration lannerbpf' ./collector/capture/... ./collector/state/... ./cmd/lanner/)

# test-live: test-bpf wherever it can run. In CI (CI=true) always: there the eBPF tests must run
# and pass. Elsewhere only as root (installing the toolchain and loading eBPF need it); otherwise
# it says why they were skipped.
test-live:
	@if [ "$$CI" = true ] || [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory test-bpf; \
	else echo "test-bpf skipped: the eBPF end-to-end tests need root (run: sudo make test-bpf)"; fi

# bench-bpf: capture overhead (open/close, open/read/close, connect, fork/exec loops with nothing,
# the no-op floor and lanner attached) and the sustained event rate; root only.
bench-bpf: deps bpf
	$(GO) test -tags lannerbpf -run '^$$' -bench . -benchtime 1x ./collector/capture/

# test: unit tests, short fuzz runs of the parsers, the integration tests on the local stack and
# the eBPF tests (test-live).
test: deps lint unit fuzz integration test-live

unit:
	$(GO) test -count=1 ./...

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		IFS=: read -r pkg fn budget <<<"$$t"; budget=$${FUZZTIME:-$$budget}; \
		if $(GO) test -list "^$$fn$$" $$pkg 2>/dev/null | grep -qx "$$fn"; then \
			echo "fuzz $$pkg $$fn for $$budget"; \
			$(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $$budget $$pkg; \
		else echo "fuzz $$pkg $$fn: no such target, skipped"; fi; \
	done

bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./collector/... ./enrich/... ./shippers/elasticsearch/ ./cmd/lanner/
	@$(call with_stack,$(GO) test -tags integration -run '^$$' -bench ShipLocalNode -benchtime 8x ./shippers/elasticsearch/)
	@$(call with_stack,$(GO) test -tags integration -run '^$$' -bench Fluentd -benchtime 10x ./shippers/fluentd/)
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory bench-bpf; \
	else echo "bench-bpf skipped: the capture overhead benchmarks need root (run: sudo make bench-bpf)"; fi

# INTEGRATION_PKGS: the packages with -tags integration tests that need the local stack.
INTEGRATION_PKGS := ./shippers/... ./dashboards/...

# integration: the shippers' integration tests (-tags integration) against the real local stack
# (deploy/local: Elasticsearch, Forward server). In CI (CI=true) a missing node fails them.
integration: deps
	@$(call with_stack,$(GO) test -count=1 -timeout 20m -tags integration $(INTEGRATION_PKGS))

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

# run: the collector on this machine (root), configured by deploy/local/lanner.yaml: live capture,
# alerts on the terminal as Falco JSON lines, and shipped to Elasticsearch -- $$LANNER_ES_URL when
# set, else the local node, started by stack-up. LANNER_ES=0: the terminal only. Ctrl-C stops it.
LANNER_ES ?= 1
run: build
ifeq ($(LANNER_ES),1)
	@if [ -z "$$LANNER_ES_URL" ]; then $(MAKE) --no-print-directory stack-up; fi
	$(BIN) run -c deploy/local/lanner.yaml --elasticsearch.enabled \
		--elasticsearch.addresses "$${LANNER_ES_URL:-http://127.0.0.1:9200}"
else
	$(BIN) run -c deploy/local/lanner.yaml
endif

# demo: replays the bundled demonstration events (syscall and Kubernetes audit) through lanner's
# default rules and prints one Falco JSON alert per line; needs neither root nor eBPF.
demo: build
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
