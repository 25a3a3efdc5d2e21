# syntax=docker/dockerfile:1
# cskpi image: a static binary on distroless, running as a non-root user.
#
#   docker build -t cskpi .
#   docker run --rm -p 9470:9470 cskpi serve --kafka.brokers=kafka:9092 --redis.addr=redis:6379
#   docker run --rm -p 9470:9470 cskpi demo      # nothing else needed

FROM golang:1.26 AS build
WORKDIR /src
# Modules first: a source change does not invalidate the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# CGO off: the binary needs no libc, so it runs on distroless/static. The zoneinfo for
# --timezone is compiled in (time/tzdata in cmd/cskpi).
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/cskpi ./cmd/cskpi

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cskpi /usr/local/bin/cskpi
USER 65532:65532
EXPOSE 9470
ENTRYPOINT ["/usr/local/bin/cskpi"]
CMD ["serve"]
