// Package docgen renders the reference pages that are derived from code, so
// they cannot drift from it: docs/connectors.md is built by reflection from
// the connector registry (configs.Connectors) and the config types each
// kind decodes (their yaml and doc struct tags, their defaults and what
// their Validate refuses), plus the answer classification the HTTP
// connectors share (connectors.ClassifyHTTP); the schema section of
// docs/events.md is rendered from the stream's JSON Schemas
// (internal/eventschema/schemas), between markers in the hand-written page.
//
// `make docs` (go run ./internal/docgen/cmd/gendocs) writes the pages; the
// package's tests fail when a checked-in page differs from what the code
// renders, so `go test ./...` in CI catches a stale page. The tests also
// check the Docker files at the repository root against the config they
// run with.
//
// docgen reads the config types and the schema files; it never runs a
// connector or contacts anything.
package docgen

//go:generate go run ./cmd/gendocs -root ../..
