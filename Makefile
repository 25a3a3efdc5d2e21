# Targets a developer and .ci/run share; CI runs `make test`.
GO ?= go

.PHONY: build test demo fuzz bench

build:
	$(GO) build -o bin/cskpi ./cmd/cskpi

# No -race by default: on the 2-core machines it multiplies the suite's time several-fold.
test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

demo:
	$(GO) run ./cmd/cskpi demo

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=30s ./pipeline/event

bench:
	$(GO) test -run='^$$' -bench=. ./...
