// Package ops serves the operator's listener: /healthz (the process is
// alive), /readyz (it should receive traffic: not shutting down and its
// dependencies answer, with detail), /metrics (Prometheus), /debug/pprof,
// and the status page (/status, its data at /status.json; status.go).
// It declares the small data sources it reads; cmd wires them, so ops
// imports nothing of ours.
package ops
