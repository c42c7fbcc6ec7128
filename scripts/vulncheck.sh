#!/usr/bin/env bash
# Runs govulncheck against an offline copy of the Go vulnerability database.
#
# vuln.go.dev need not be reachable: the database comes from the module
# proxy. The module golang.org/x/vulndb holds every OSV entry (data/osv)
# and the command that indexes a folder of them into the "v1" layout that
# `govulncheck -db file://…` reads (cmd/indexdb). Both, and govulncheck,
# are pinned in scripts/tools/vulncheck/go.mod, so a run is reproducible: the same
# pin gives the same database, verified by go.sum. Bump the pin to see
# newer vulnerabilities.
#
# Usage: scripts/vulncheck.sh [govulncheck flags and patterns]  (default ./...)
# The database is built once per pinned version under .dev/vulndb/<version>
# (VULNCHECK_CACHE overrides the directory). Exit status is govulncheck's:
# 0 clean, 3 when the code calls a known-vulnerable symbol.
#
# One gap against vuln.go.dev: the repository's OSV files carry no
# modified/published dates (the live database stamps them from git
# history), so entries show the zero time; index/db.json is stamped with
# the commit time of the pinned vulndb version instead. Which versions and
# symbols are affected, and the fixed versions, are the same.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

modfile=scripts/tools/vulncheck/go.mod
module=golang.org/x/vulndb

go mod download -modfile="$modfile" "$module"
IFS='|' read -r version src stamp < <(go list -modfile="$modfile" -m \
	-f '{{.Version}}|{{.Dir}}|{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "$module")
db="${VULNCHECK_CACHE:-.dev/vulndb}/$version"

if [[ ! -f "$db/index/db.json" ]]; then
	echo "vulncheck: building the vulnerability database $version (once)" >&2
	mkdir -p "$(dirname "$db")"
	tmp="$(mktemp -d "$db.tmp.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	go tool -modfile="$modfile" indexdb -vulns "$src/data/osv" -out "$tmp"
	# The file source reads the plain .json files only.
	find "$tmp" -name '*.json.gz' -delete
	printf '{"modified":"%s"}' "$stamp" >"$tmp/index/db.json"
	want="$(find "$src/data/osv" -name 'GO-*.json' | wc -l)"
	got="$(find "$tmp/ID" -name 'GO-*.json' | wc -l)"
	if [[ "$want" -eq 0 || "$want" -ne "$got" ]]; then
		echo "vulncheck: $src/data/osv has $want entries but the database $got" >&2
		exit 1
	fi
	chmod -R a+rX "$tmp"
	mv "$tmp" "$db"
	trap - EXIT
fi

if [[ $# -eq 0 ]]; then
	set -- ./...
fi
exec go tool -modfile="$modfile" govulncheck -db "file://$PWD/$db" "$@"
