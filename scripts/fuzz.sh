#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 60s):
# signature verifiers, body parsers, the mapping engine, config decoding,
# Retry-After and the retry schedule. Go's fuzzer runs one target at a
# time, so targets run in turn. A failure leaves its input under the
# package's testdata/fuzz/<Target>/ (commit it: it becomes a regression
# seed) and stops the run.
#
#   scripts/fuzz.sh                 # every target, 60s each (make fuzz)
#   FUZZTIME=2s scripts/fuzz.sh     # the short pass make test runs
#   FUZZ='Verify' scripts/fuzz.sh   # only targets matching a regexp
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzztime="${FUZZTIME:-60s}"
filter="${FUZZ:-.}"
go="${GO:-go}"

count=0
for pkg in $("$go" list ./...); do
	# -list compiles the package's tests and prints the matching names.
	targets=$("$go" test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E -- "$filter" || true)
	for target in $targets; do
		echo "fuzz: $pkg $target ($fuzztime)"
		"$go" test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/cyclehub-fuzz.$$.log 2>&1 || {
			cat /tmp/cyclehub-fuzz.$$.log
			rm -f /tmp/cyclehub-fuzz.$$.log
			echo "fuzz: $target failed; its input is under the package's testdata/fuzz/$target/" >&2
			exit 1
		}
		count=$((count + 1))
	done
done
rm -f /tmp/cyclehub-fuzz.$$.log
echo "fuzz: $count targets, $fuzztime each: no failure"
