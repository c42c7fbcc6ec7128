// Package ops serves the operator's listener: /healthz (the process is
// alive), /readyz (it should receive traffic: not shutting down and its
// dependencies answer, with detail), /metrics (Prometheus) and /debug/pprof.
package ops
