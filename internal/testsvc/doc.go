// Package testsvc gives integration tests real services: PostgreSQL
// databases cloned from prepared templates, Redis with per-test key
// prefixes, in-process Kafka-protocol clusters (kfake), and throwaway
// PostgreSQL servers that a test may stop and start.
//
// The shared services come from the environment that
// `eval "$(scripts/devstack.sh env)"` sets (`make test` does this):
//
//	CYCLEHUB_POSTGRES_URL  base PostgreSQL URL (postgres://...; URL form only)
//	CYCLEHUB_REDIS_URL     redis://host:port/db
//	CYCLEHUB_PG_BINDIR     directory holding initdb and pg_ctl (StartPostgres)
//
// When a service is missing, tests are skipped with a hint to run
// `make test`, except in CI (CI=true), where they fail: CI never silently
// skips integration tests. See [Require].
//
// Helpers register their clean-up with t.Cleanup; they must be called from
// the test's own goroutine (they may call t.Fatalf).
package testsvc
