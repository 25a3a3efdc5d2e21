# Targets a developer and .ci/run share; CI runs `make test`, then `make test-long`.
GO ?= go

.PHONY: build build-commit image image-push test test-long demo fuzz bench microbench generate dashboards

# What runs (cskpi --version, cskpi_build_info), stamped into prometheus/common/version.
# Outside a git checkout the revision and branch stay empty, and the binary says "unknown";
# a tree with changes beside the commit gets the "-modified" the go command's own stamp uses.
# Each can be given: make build VERSION=0.6.0 REVISION=...
VERSION    := $(shell cat VERSION)
REVISION   := $(shell git rev-parse HEAD 2>/dev/null)$(if $(shell git status --porcelain 2>/dev/null),-modified)
BRANCH     := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
BUILD_USER := $(shell whoami)@$(shell hostname)
BUILD_DATE := $(shell date -u +%Y%m%d-%H:%M:%S)
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS := -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) -X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/cskpi ./cmd/cskpi

# The container image of the Dockerfile, stamped as `make build` stamps the binary, tagged
# $(IMAGE):$(IMAGE_TAG). deploy/k8s references cskpi:<the VERSION file>, which the defaults
# build; for a registry of yours (docs/DEPLOYING.md, "The image"):
#   make image-push IMAGE=registry.example.com/ops/cskpi
# then set that name under images: in deploy/k8s/kustomization.yaml (or your overlay).
# Needs a Docker engine (or DOCKER=podman).
DOCKER    ?= docker
IMAGE     ?= cskpi
IMAGE_TAG ?= $(VERSION)

image:
	$(DOCKER) build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
		--build-arg BRANCH=$(BRANCH) --build-arg BUILD_USER=$(BUILD_USER) \
		--build-arg BUILD_DATE=$(BUILD_DATE) -t $(IMAGE):$(IMAGE_TAG) .

image-push: image
	$(DOCKER) push $(IMAGE):$(IMAGE_TAG)

# The build of an earlier commit, for the upgrade tests of stored state (docs/UPGRADING.md):
#   make build-commit COMMIT=8e899c7 OUT=/tmp/cskpi-8e899c7
build-commit:
	@test -n "$(COMMIT)" && test -n "$(OUT)" || { echo "usage: make build-commit COMMIT=<rev> OUT=<path>" >&2; exit 2; }
	scripts/build-commit.sh $(COMMIT) $(OUT)

# No -race by default: on the 2-core machines it multiplies the suite's time several-fold.
# Every fault case but LONG_TESTS, which skip here (saying so).
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# The long fault cases of internal/faults, left out of `make test`: they skip unless
# CSKPI_TEST_LONG is set, and internal/faults checks that this list names exactly them.
# They run alone, with -v for the times they log: their bounds are in seconds.
LONG_TESTS := TestCrashLoopRejoin
empty :=
space := $(empty) $(empty)

test-long:
	CSKPI_TEST_LONG=1 $(GO) test -count=1 -timeout 20m -v -run '^($(subst $(space),|,$(strip $(LONG_TESTS))))$$' ./internal/faults/


# The built binary, not go run: go run exits 1 when Ctrl-C interrupts it, whatever the
# program returns, and make would report that as an error; cskpi demo exits 0 when stopped.
# Flags go in DEMO_FLAGS: make demo DEMO_FLAGS='--rate=20 --shops=12'.
demo: build
	bin/cskpi demo $(DEMO_FLAGS)

# The generated files of deploy/ (rule files, PrometheusRule, Grafana dashboards) from their
# Go source in deploy/prometheus/rules and deploy/grafana/dashboards. Commit the result:
# `make test` fails while they are out of date.
generate:
	$(GO) run ./deploy/cmd/gen

dashboards: generate

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=30s ./event
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeMatchesOracle$$' -fuzztime=30s ./event
	$(GO) test -run='^$$' -fuzz='^FuzzExplainMatchesDecode$$' -fuzztime=30s ./event
	$(GO) test -run='^$$' -fuzz='^FuzzParseTime$$' -fuzztime=30s ./event
	$(GO) test -run='^$$' -fuzz='^FuzzKcatEnvelope$$' -fuzztime=30s ./event/jsonl
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=30s ./event/jsonl

# The end-to-end benchmark: prints a table and rewrites the figures of docs/PERFORMANCE.md.
# CSKPI_PROFILE=/tmp/serve.prof also saves a CPU profile of serve during the main run.
# CSKPI_HEAP_PROFILE=/tmp/heap.prof saves its heap profile at the end of the main run;
# CSKPI_FRESH_PROFILE=/tmp/fresh.prof a CPU profile of serve at 50 000 records/s live;
# CSKPI_BENCH_ONLY=main,fresh,scale,memory,partitions,instances,scrape runs some phases
# without writing the report. The whole run takes about 9 minutes.
bench:
	CSKPI_BENCH=full $(GO) test -count=1 -timeout 60m -v -run '^TestBenchReport$$' ./internal/bench/

# Go micro-benchmarks (decoder, state, generator).
microbench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=1x ./traffic/produce
	$(GO) test -run='^$$' -bench=. -benchmem ./event ./windows ./traffic/synth
