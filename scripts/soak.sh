#!/usr/bin/env bash
# Memory soak: runs the daemon (bin/cyclehub, dev config) under a steady
# load from cmd/cyclehub-load for SOAK_DURATION, samples its /metrics every
# SOAK_EVERY, prints the series, and fails when memory or goroutines grow.
#
# "Flat" means: after the first fifth of the run (warm-up: pools, caches,
# buffers reach their working size), the mean heap in use and the mean
# resident set of the last fifth are within SOAK_SLACK (default 1.25×) of
# those of the second fifth, and goroutines grew by at most 50 on average.
# The load's own loss check runs at the end as usual.
#
# Usage (the dev stack running: make up): scripts/soak.sh
#   SOAK_DURATION=10m SOAK_RATE=300 SOAK_EVERY=15s SOAK_SLACK=1.25
# Loopback only; it ends by itself, and stops only the daemon it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

duration="${SOAK_DURATION:-10m}"
rate="${SOAK_RATE:-300}"
every="${SOAK_EVERY:-15s}"
slack="${SOAK_SLACK:-1.25}"
config="${CONFIG:-configs/cyclehub.yaml}"
ops="${SOAK_OPS:-http://127.0.0.1:8081}"
out="${SOAK_OUT:-.dev/soak}"
mkdir -p "$out"

bin/cyclehub migrate --config "$config" >/dev/null
bin/cyclehub serve --config "$config" >"$out/daemon.log" 2>&1 &
daemon=$!
trap 'kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
	curl -fsS "$ops/readyz" >/dev/null 2>&1 && break
	kill -0 "$daemon" 2>/dev/null || { cat "$out/daemon.log"; echo "soak: the daemon exited" >&2; exit 1; }
	sleep 0.2
done

# metric NAME FILE [DIVISOR]: a gauge's value from a scrape.
metric() { awk -v m="$1" -v d="${3:-1}" '$1 == m { printf "%.1f", $2 / d }' "$2"; }
samples="$out/samples.tsv"
printf 'elapsed_s\theap_inuse_mb\trss_mb\tgoroutines\n' >"$samples"
(
	start=$SECONDS
	while kill -0 "$daemon" 2>/dev/null; do
		if curl -fsS "$ops/metrics" -o "$out/metrics.txt" 2>/dev/null; then
			printf '%d\t%s\t%s\t%s\n' $((SECONDS - start)) \
				"$(metric go_memstats_heap_inuse_bytes "$out/metrics.txt" 1048576)" \
				"$(metric process_resident_memory_bytes "$out/metrics.txt" 1048576)" \
				"$(metric go_goroutines "$out/metrics.txt" | cut -d. -f1)" >>"$samples"
		fi
		sleep "$every"
	done
) &
sampler=$!

status=0
go run ./cmd/cyclehub-load --config "$config" --rate "$rate" --duration "$duration" || status=$?
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true

echo
column -t "$samples"
# Compare the second fifth with the last fifth of the samples, by their
# means (a single sample's heap is wherever the GC cycle happened to be).
awk -F'\t' -v slack="$slack" 'NR > 1 { ++n; h[n] = $2; r[n] = $3; g[n] = $4 }
function mean(a, from, to,   i, s) { for (i = from; i <= to; i++) s += a[i]; return s / (to - from + 1) }
END {
	if (n < 10) { print "soak: too few samples (" n ")"; exit 1 }
	a = int(n / 5) + 1; b = int(2 * n / 5); c = int(4 * n / 5) + 1
	h0 = mean(h, a, b); h1 = mean(h, c, n); r0 = mean(r, a, b); r1 = mean(r, c, n); g0 = mean(g, a, b); g1 = mean(g, c, n)
	printf "soak: mean heap in use %.1f → %.1f MB (×%.2f), RSS %.1f → %.1f MB (×%.2f), goroutines %.0f → %.0f\n",
		h0, h1, h1 / h0, r0, r1, r1 / r0, g0, g1
	if (h1 > h0 * slack || r1 > r0 * slack || g1 > g0 + 50) { print "soak: memory is not flat"; exit 1 }
	print "soak: flat"
}' "$samples" || status=1
exit "$status"
