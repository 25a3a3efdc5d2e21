# Targets a developer and .ci/run share; CI runs `make test`.
GO ?= go

.PHONY: build test demo fuzz bench microbench generate dashboards

build:
	$(GO) build -o bin/cskpi ./cmd/cskpi

# No -race by default: on the 2-core machines it multiplies the suite's time several-fold.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

demo:
	$(GO) run ./cmd/cskpi demo

# The generated files of deploy/ (rule files, PrometheusRule, Grafana dashboards) from their
# Go source in deploy/prometheus/rules and deploy/grafana/dashboards. Commit the result:
# `make test` fails while they are out of date.
generate:
	$(GO) run ./deploy/cmd/gen

dashboards: generate

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=30s ./event
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeMatchesOracle$$' -fuzztime=30s ./event
	$(GO) test -run='^$$' -fuzz='^FuzzParseTime$$' -fuzztime=30s ./event
	$(GO) test -run='^$$' -fuzz='^FuzzKcatEnvelope$$' -fuzztime=30s ./event/jsonl
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=30s ./event/jsonl

# The end-to-end benchmark: prints a table and rewrites the figures of docs/PERFORMANCE.md.
# CSKPI_PROFILE=/tmp/serve.prof also saves a CPU profile of serve during the main run.
# CSKPI_HEAP_PROFILE=/tmp/heap.prof saves its heap profile at the end of the main run;
# CSKPI_BENCH_ONLY=main,fresh,scale,memory runs some phases without writing the report.
bench:
	CSKPI_BENCH=full $(GO) test -count=1 -timeout 60m -v -run '^TestBenchReport$$' ./internal/bench/

# Go micro-benchmarks (decoder, state, generator).
microbench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=1x ./pipeline/produce
	$(GO) test -run='^$$' -bench=. -benchmem ./event ./windows ./pipeline/synth
