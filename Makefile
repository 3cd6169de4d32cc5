# zbench — two commands on a fresh machine:
#   make run    the default (quick) profile on the embedded engine
#   make test   lint (gofmt, vet, staticcheck), race-enabled tests, and the libzmq interop suite
#               when libzmq is installed
# and make install to put zbench on PATH.

GO      ?= go
BIN     := bin/zbench
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
# The commit goes into the binary, so that results name it wherever zbench runs
# (the Go toolchain's own VCS stamp is off when GOFLAGS has -buildvcs=false).
COMMIT  := $(shell git rev-parse HEAD 2>/dev/null)
DIRTY   := $(shell git status --porcelain 2>/dev/null | grep -q . && echo true || echo false)
LDFLAGS := -X zbench/report.Version=$(VERSION) -X zbench/report.Commit=$(COMMIT) -X zbench/report.Dirty=$(DIRTY)
# The libzmq build tag needs cgo and Debian's libzmq3-dev (pkg-config finds it).
HAVE_LIBZMQ := $(shell pkg-config --exists libzmq 2>/dev/null && echo yes)
TAGS    := $(if $(HAVE_LIBZMQ),libzmq,)

RUN_FLAGS ?=
BENCH     ?= .
COUNT     ?= 5

.PHONY: all build install run test test-go test-libzmq bench bench-peers lint fuzz run-engines libzmq-reference libzmq-tools clean

all: build

## build: bin/zbench, and with libzmq also bin/zbench-libzmq-side, the C side program of the
## libzmq-c engine (plain C, the same loops as the libzmq engine: runner/engines/libzmq_loops.h)
SIDE_BIN := bin/zbench-libzmq-side
build:
	$(GO) build -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/zbench
ifeq ($(HAVE_LIBZMQ),yes)
	$(CC) -O2 -Wall -Wextra -pthread -I runner/engines -o $(SIDE_BIN) tools/libzmq-thr/zb_side.c $$(pkg-config --cflags --libs libzmq)
endif

## install: zbench into $(go env GOBIN), else $(go env GOPATH)/bin, with the scenario file built in
## (it runs from any directory); says so when that directory is not on PATH
INSTALL_DIR = $(or $(shell $(GO) env GOBIN),$(shell $(GO) env GOPATH)/bin)
install:
	$(GO) install -tags '$(TAGS)' -ldflags '$(LDFLAGS)' ./cmd/zbench
	@echo "zbench installed as $(INSTALL_DIR)/zbench"
	@case ":$$PATH:" in *":$(INSTALL_DIR):"*) ;; \
	 *) echo "$(INSTALL_DIR) is not on PATH: add it, e.g. export PATH=\"\$$PATH:$(INSTALL_DIR)\"";; esac

## run: the quick profile of scenarios.yaml on the embedded engine; results in results/latest
run: build
	./$(BIN) run $(RUN_FLAGS)

## run-engines: the engines profile (zbench, libzmq, zmq4, the mixed pairs zbench>libzmq and
## libzmq>zbench, and libzmq's own C side programs, libzmq-c), each side in its own process, one
## side per core (--cpus 0:1, or RUN_FLAGS); needs libzmq3-dev
run-engines: build
	@test '$(HAVE_LIBZMQ)' = yes || { echo "run-engines needs libzmq (apt-get install -y libzmq3-dev)"; exit 2; }
	./$(BIN) run --profile engines --cpus 0:1 $(RUN_FLAGS)

## libzmq-tools: libzmq's own-style C perf programs (tools/libzmq-thr): thr_send, thr_recv,
## lat_echo, lat_ping, into bin/libzmq-thr
LIBZMQ_TOOLS := bin/libzmq-thr
libzmq-tools:
	@test '$(HAVE_LIBZMQ)' = yes || { echo "libzmq-tools needs libzmq (apt-get install -y libzmq3-dev)"; exit 2; }
	@mkdir -p $(LIBZMQ_TOOLS)
	for p in thr_send thr_recv lat_echo lat_ping; do \
		$(CC) -O2 -Wall -Wextra -o $(LIBZMQ_TOOLS)/$$p tools/libzmq-thr/$$p.c $$(pkg-config --cflags --libs libzmq) || exit 1; done

## bench-peers: the engine across two processes (zbench peer pairs) beside libzmq's C programs and a
## bare Go stream and ping-pong, tcp and ipc, 32 B, 1 KiB and 16 KiB, and the 32 B round trip, in
## both pinnings (one core; one per core), interleaved, medians of PEER_RUNS runs, with the ratios
PEER_RUNS ?= 10
bench-peers: build libzmq-tools
	$(GO) run ./tools/bench-peers -runs $(PEER_RUNS) -zbench $(BIN) -libzmq $(LIBZMQ_TOOLS) $(PEER_FLAGS)

## libzmq-reference: two plain libzmq processes in libzmq's own perf-tool style (tools/libzmq-thr):
## throughput PUSH -> PULL (msg/s) and latency PAIR round trips (RTT p50, mean), 32 B and 1 KiB
## over tcp, per run and the median over RUNS (5), pinned by CPUS (0,1; or SENDER:RECEIVER, 0:1):
## what the libzmq engine's figures are checked against, besides the libzmq-c row
libzmq-reference:
	CPUS="$${CPUS-0,1}" tools/libzmq-thr/run.sh

## test: what CI runs
test: lint test-go test-libzmq

test-go:
	$(GO) test -race -count=1 -timeout 10m ./...

test-libzmq:
ifeq ($(HAVE_LIBZMQ),yes)
	$(GO) test -tags libzmq -race -count=1 -timeout 10m -run 'Libzmq|Interop' ./engine
	$(GO) test -tags libzmq -race -count=1 -timeout 10m ./runner/...
else
	@echo "make test: libzmq not found (pkg-config libzmq): SKIPPING the libzmq interop tests."
	@echo "           Install it with: apt-get install -y libzmq3-dev"
endif

## bench: engine benchmarks (embedded engine, libzmq through cgo when present, bare TCP), pinned
bench:
	taskset -c 0,1 $(GO) test -tags '$(TAGS)' -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) ./engine

## bench-compare: BASE (a git revision, built in a temporary worktree) against HEAD=rev (likewise) or,
##   without HEAD, the working tree as it is; runs interleaved; result sets and compare.md under results/
##   e.g. make bench-compare BASE=main AB_FLAGS='--runs 10 --cpus 0 --fail-on msgs_per_sec:-5%'
BASE     ?=
HEAD     ?=
AB_FLAGS ?= --runs 6
.PHONY: bench-compare
bench-compare:
	@test -n '$(BASE)' || { echo "usage: make bench-compare BASE=<git revision> [HEAD=<revision>] [AB_FLAGS='--runs 6 ...']"; exit 2; }
	@$(MAKE) --no-print-directory build
	./$(BIN) ab --base '$(BASE)' $(if $(HEAD),--head '$(HEAD)') --tags '$(TAGS)' $(AB_FLAGS)

## lint: gofmt, go vet and staticcheck (with and without the libzmq tag); staticcheck is a
## pinned version run with go run, so a fresh machine needs nothing but Go (and the network once)
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
ifeq ($(HAVE_LIBZMQ),yes)
	$(GO) vet -tags libzmq ./...
	$(GO) run $(STATICCHECK) -tags libzmq ./...
endif

## fuzz: a short run of every fuzz target
fuzz:
	@for t in $$($(GO) test -list 'Fuzz.*' ./engine | grep ^Fuzz); do \
		$(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime 30s ./engine || exit 1; done

clean:
	rm -rf bin
