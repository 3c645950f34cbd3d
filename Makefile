# Meerkat. `make run` starts a standalone server on 127.0.0.1:2181 (data
# under ./data); `make run-ensemble` a local three-server ensemble on
# 127.0.0.1:2181-2183 (data under ./data/ensemble); `make test` installs what
# the tests need and runs them all.

GO        ?= go
BIN       := bin/meerkat
# Debian packages the tests use: the reference server, the C client,
# kazoo and Curator (compiled with the JDK's javac) for the side-by-side and
# real-client tests, and the servlet API ZooKeeper's AdminServer needs (the
# zookeeper package leaves it out).
TEST_DEBS := zookeeper zookeeper-bin python3-kazoo libcurator-framework-java libcurator-recipes-java openjdk-17-jdk-headless libservlet-api-java libnetty-java openssl

.PHONY: all build run run-ensemble test test-deps vet fuzz fuzz-brief clean bench bench-quick bench-ensemble soak-ensemble

all: build

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/meerkat

run: build
	./$(BIN)

run-ensemble: build
	./scripts/run-ensemble.sh

# test-deps installs the Debian packages above when any is missing (as root
# directly, otherwise through sudo).
test-deps:
	@missing=""; for p in $(TEST_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# test runs every package under the race detector, one package at a time
# (-p 1): the side-by-side suites run ZooKeeper's JVMs, ensembles among
# them, and two packages' JVMs at once on two cores starved a reference
# ZooKeeper ensemble into timeouts; the end-to-end suites
# (conformance, clients, crashtest, ...) start a server binary built with
# -race too, once, so that a race inside the server fails the test that
# started it.
RACE_BIN := bin/meerkat-race

test: test-deps vet
	$(GO) build -buildvcs=auto -race -o $(RACE_BIN) ./cmd/meerkat
	MEERKAT_BINARY=$(CURDIR)/$(RACE_BIN) $(GO) test -race -p 1 -count=1 -timeout 40m ./...
	$(MAKE) --no-print-directory fuzz-brief

# soak-ensemble SIGKILLs the leader of a five-server ensemble under writes
# for SOAK_ROUNDS rounds (default 100), then checks every acknowledged
# write on every member; the test log gives the failover times.
SOAK_ROUNDS ?= 100
soak-ensemble: test-deps
	$(GO) build -buildvcs=auto -race -o $(RACE_BIN) ./cmd/meerkat
	MEERKAT_BINARY=$(CURDIR)/$(RACE_BIN) MEERKAT_ENSEMBLE_ROUNDS=$(SOAK_ROUNDS) MEERKAT_ENSEMBLE_VOTERS=5 \
		$(GO) test -race -count=1 -timeout 0 -run 'TestKillLeaderUnderWrites' -v ./ensemble

# fuzz runs every fuzz target, one per decoder reachable from the network
# or the disk, for FUZZTIME each. An input that widens coverage is
# minimized for at most 1000 runs: the minimizer tries dropping every span
# of its bytes, and with the default (60 s) a target whose inputs are a few
# kilobytes spends its time there.
FUZZTIME ?= 30s
FUZZ := -run '^$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 1000x
fuzz:
	$(GO) test ./jute $(FUZZ) -fuzz FuzzDecodeRequest
	$(GO) test ./jute $(FUZZ) -fuzz FuzzDecodeVector
	$(GO) test ./netpoll $(FUZZ) -fuzz FuzzServerFrames
	$(GO) test ./engine $(FUZZ) -fuzz FuzzDecodeBatch
	$(GO) test ./engine $(FUZZ) -fuzz FuzzApply
	$(GO) test ./membership $(FUZZ) -fuzz FuzzParse
	$(GO) test ./pipeline $(FUZZ) -fuzz FuzzDecodeMessage
	$(GO) test ./replication $(FUZZ) -fuzz FuzzPeerFrames
	$(GO) test ./replication $(FUZZ) -fuzz FuzzDecodeReady
	$(GO) test ./wal $(FUZZ) -fuzz FuzzScan
	$(GO) test ./checkpoint $(FUZZ) -fuzz FuzzLoadRecords
	$(GO) test ./snapshot $(FUZZ) -fuzz FuzzRead
	$(GO) test ./zkfile $(FUZZ) -fuzz FuzzDecodeSnapshot
	$(GO) test ./zkfile $(FUZZ) -fuzz FuzzReadLog
	$(GO) test ./zkfile $(FUZZ) -fuzz FuzzSnappyStream

# fuzz-brief is the fuzz step of make test: every target for FUZZ_BRIEF
# executions. A count, not a duration: given a duration, Go's fuzz
# coordinator can report its own deadline as a failure when the window
# ends, with no input at fault.
FUZZ_BRIEF ?= 3000
fuzz-brief:
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_BRIEF)x

clean:
	rm -rf bin

# bench runs the side-by-side benchmark (limits of the machine, then Apache
# ZooKeeper and Meerkat: taking turns at the request scenarios, one at a
# time for the others) and regenerates BENCHMARKS.md,
# its SVG charts and bench/results/full.json; bench-quick is the short
# profile (a few minutes, bench/results/quick.json). Nothing else may load
# the machine meanwhile.
bench: test-deps
	$(GO) build -o bin/meerkat-bench ./cmd/meerkat-bench
	./bin/meerkat-bench

# bench-ensemble compares three-server ensembles, the two systems taking
# turns at each load (3 rounds of 3 s; ENSEMBLE_PROFILE=full for 5 rounds
# of 6 s and 10^6 znodes to catch up), and regenerates BENCHMARKS.md with
# the latest standalone results.
ENSEMBLE_PROFILE ?= quick
bench-ensemble: test-deps
	$(GO) build -o bin/meerkat-bench ./cmd/meerkat-bench
	./bin/meerkat-bench ensemble $(if $(filter full,$(ENSEMBLE_PROFILE)),-full)

bench-quick: test-deps
	$(GO) build -o bin/meerkat-bench ./cmd/meerkat-bench
	./bin/meerkat-bench -quick
