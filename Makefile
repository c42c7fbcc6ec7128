# Developer and CI entry points. The services (PostgreSQL, Redis, a Kafka
# dev broker) are managed by scripts/devstack.sh and bound to 127.0.0.1.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO       ?= go
# The Go release everything is built and tested with. go1.27.3 fixes the
# standard library vulnerabilities that `make vulncheck` reports in the
# machine's go1.26.8 (net/http, crypto/tls, crypto/x509, mime/textproto);
# the go command fetches it from the module proxy once (~76 MB). go.mod
# still says 1.26.8, so the code builds on either; override to try another.
GOTOOLCHAIN ?= go1.27.3
export GOTOOLCHAIN
DEVSTACK := scripts/devstack.sh
CONFIG   ?= configs/cyclehub.yaml
# Loads CYCLEHUB_POSTGRES_URL, CYCLEHUB_REDIS_URL, CYCLEHUB_KAFKA_BROKERS and
# CYCLEHUB_PG_BINDIR into a recipe's shell.
LOAD_ENV := eval "$$($(DEVSTACK) env)"

.PHONY: up down status env build run test bench bench-load soak import-floor drills fuzz lint vulncheck vet check-config fmt docs

up:
	$(DEVSTACK) up

down:
	$(DEVSTACK) down

status:
	$(DEVSTACK) status

env:
	@$(DEVSTACK) env

build:
	$(GO) build -o bin/cyclehub ./cmd/cyclehub

run: up build
	$(LOAD_ENV); \
	bin/cyclehub migrate --config $(CONFIG); \
	exec bin/cyclehub serve --config $(CONFIG)

test: up lint vulncheck
	$(LOAD_ENV); \
	$(GO) test -race -shuffle=on -count=1 -timeout 20m ./...; \
	FUZZTIME=2s scripts/fuzz.sh

# Speed is shown by benchmarks, never asserted by tests: mapping and rule
# evaluation per event, and store-backed work (a full sweep) on the local
# services. BENCH narrows the set (a -bench regexp).
BENCH ?= .
bench: up
	$(LOAD_ENV); \
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count=1 ./...

# Load test against a running daemon (`make run` in another shell, or
# LOAD_ARGS='--url http://…'): signed webhooks from the dev config's
# providers, then the loss check. Exits 1 on any lost or duplicated request.
LOAD_ARGS ?= --concurrency 64 --duration 10s
bench-load: up
	$(LOAD_ENV); \
	$(GO) run ./cmd/cyclehub-load --config $(CONFIG) $(LOAD_ARGS)

# Memory soak: the daemon under a steady load (SOAK_RATE=300 webhooks/s)
# for SOAK_DURATION (10m) with /metrics sampled; fails unless heap, RSS and
# goroutines stay flat after warm-up (scripts/soak.sh says how).
soak: up build
	$(LOAD_ENV); \
	scripts/soak.sh

# What PostgreSQL alone needs to store an import's rows (FLOOR_ROWS
# contacts, 20,000 by default): the floor under cyclehub import's rate.
import-floor: up
	$(LOAD_ENV); \
	scripts/import-floor.sh

# Fault drills: each takes one dependency down under load (the daemon by
# SIGKILL, PostgreSQL, Redis, the Kafka broker, destinations) and checks
# zero acked loss and zero double effects. About 4 minutes, so not part of
# make test; DRILLS_COUNT=2 runs them twice. Daemon logs show only when a
# drill fails.
DRILLS_COUNT ?= 1
drills: up
	$(LOAD_ENV); \
	$(GO) test -tags drills -race -count=$(DRILLS_COUNT) -timeout 30m -v -run '^TestDrill' ./cmd/cyclehub

# Every fuzz target (verifiers, body parsers, mapping engine, config
# loading) for FUZZTIME each; make test runs a 2s pass. FUZZ narrows the
# targets (a regexp).
FUZZTIME ?= 60s
fuzz:
	FUZZTIME=$(FUZZTIME) FUZZ='$(FUZZ)' scripts/fuzz.sh

# Static analysis with pinned tools: go vet, gofmt, staticcheck (a tool of
# go.mod) and gosec (its own module, scripts/tools/gosec/go.mod, so its
# dependencies never reach the daemon's build). Exclusions and their
# reasons are in .gosec.json and in #nosec comments.
lint:
	$(GO) vet ./...
	@unformatted="$$(gofmt -l $$(find . -name '*.go' -not -path './.dev/*'))"; \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) tool staticcheck ./...
	$(GO) vet -tags drills ./cmd/cyclehub
	$(GO) tool staticcheck -tags drills ./cmd/cyclehub
	$(GO) tool -modfile=scripts/tools/gosec/go.mod gosec -quiet -conf .gosec.json ./...

# Known vulnerabilities reachable from the code, offline: the Go
# vulnerability database pinned in scripts/tools/vulncheck/go.mod, built
# once under .dev/vulndb. Exits 3 when a vulnerable symbol is called.
vulncheck:
	scripts/vulncheck.sh

vet:
	$(GO) vet ./...

check-config:
	$(GO) run ./cmd/cyclehub check-config $(CONFIG)

fmt:
	$(GO) fmt ./...

# Reference pages generated from code: docs/connectors.md (the connector
# registry) and the schema tables of docs/events.md (the stream's JSON
# Schemas). go test ./internal/docgen fails while one is stale.
docs:
	$(GO) run ./internal/docgen/cmd/gendocs
