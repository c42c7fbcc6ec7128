# syntax=docker/dockerfile:1
#
# CycleHub's one binary in a distroless image (docs/docker.md).
#
#   docker build -t cyclehub:dev .
#   docker build --build-arg VERSION=1.4.0 -t cyclehub:1.4.0 .
#
# The image runs `cyclehub serve --config /etc/cyclehub/cyclehub.docker.yaml`
# as the non-root user nonroot (65532). Every subcommand works the same way:
#   docker run --rm cyclehub:dev check-config /etc/cyclehub/cyclehub.docker.yaml
# There is no HEALTHCHECK: the runtime image has no shell and no HTTP client.
# Probe the ops listener from outside instead: GET :8081/healthz (liveness)
# and GET :8081/readyz (readiness).

# GO_VERSION is the golang image's tag. go.mod names the lowest Go release
# the code builds with; the Makefile builds and tests with go1.27.3, whose
# standard library has the security fixes that go1.26.8 lacks.
ARG GO_VERSION=1.27

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Static, reproducible binary: no cgo, no file system paths in it.
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/cyclehub ./cmd/cyclehub

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cyclehub /usr/local/bin/cyclehub
# The config the image ships (owned by root, readable by all): the Docker
# config and the mappings and rules it reads, relative to it. Mount your
# own directory over /etc/cyclehub to change them.
COPY configs/cyclehub.docker.yaml /etc/cyclehub/
COPY configs/mappings/*.yaml /etc/cyclehub/mappings/
COPY configs/rules/*.yaml /etc/cyclehub/rules/
USER nonroot:nonroot
# 8080: webhooks (/hooks/…) and the admin API (/v1/…).
# 8081: the ops listener (/healthz, /readyz, /metrics, /debug/pprof/); no auth.
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/cyclehub"]
CMD ["serve", "--config", "/etc/cyclehub/cyclehub.docker.yaml"]
