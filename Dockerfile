# syntax=docker/dockerfile:1
# cskpi image: a static binary on distroless, running as a non-root user.
#
#   make image                   # cskpi:<VERSION>, stamped; the tag deploy/k8s references
#   make image-push IMAGE=registry.example.com/ops/cskpi
#
# or by hand:
#
#   docker build --build-arg REVISION=$(git rev-parse HEAD) --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) -t cskpi .
#   docker run --rm -p 9470:9470 cskpi serve --kafka.brokers=kafka:9092 --redis.addr=redis:6379
#   docker run --rm -p 9470:9470 cskpi demo      # nothing else needed
#
# What runs (cskpi --version, cskpi_build_info) is stamped as make build stamps it. The build
# context has no .git (.dockerignore), so the revision and branch come as build arguments
# (a plain `docker build -t cskpi .` says "unknown"); VERSION defaults to the VERSION file,
# BUILD_DATE to the time of the build.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first: a source change does not invalidate the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=""
ARG REVISION=""
ARG BRANCH=""
ARG BUILD_USER="docker"
ARG BUILD_DATE=""
# CGO off: the binary needs no libc, so it runs on distroless/static. The zoneinfo for
# --timezone is compiled in (time/tzdata in cmd/cskpi).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    pkg=github.com/prometheus/common/version && \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w \
      -X ${pkg}.Version=${VERSION:-$(cat VERSION)} -X ${pkg}.Revision=${REVISION} -X ${pkg}.Branch=${BRANCH} \
      -X ${pkg}.BuildUser=${BUILD_USER} -X ${pkg}.BuildDate=${BUILD_DATE:-$(date -u +%Y%m%d-%H:%M:%S)}" \
      -o /out/cskpi ./cmd/cskpi

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cskpi /usr/local/bin/cskpi
USER 65532:65532
EXPOSE 9470
ENTRYPOINT ["/usr/local/bin/cskpi"]
CMD ["serve"]
