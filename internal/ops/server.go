package ops

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness check; it returns a detail value (shown in
// /readyz) and an error when the dependency is not usable.
type Check func(ctx context.Context) (detail any, err error)

// Server is the ops HTTP handler.
type Server struct {
	ready  atomic.Bool
	checks map[string]Check
	// critical checks fail readiness; others are reported only.
	critical map[string]bool
	mux      *http.ServeMux
}

// New returns the ops handler serving metrics from reg.
func New(reg *prometheus.Registry) *Server {
	s := &Server{checks: map[string]Check{}, critical: map[string]bool{}, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.mux.HandleFunc("/debug/pprof/", pprof.Index)
	s.mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return s
}

// AddCheck registers a readiness check. A critical check that fails makes
// /readyz answer 503.
func (s *Server) AddCheck(name string, critical bool, c Check) {
	s.checks[name] = c
	s.critical[name] = critical
}

// SetReady marks the process ready (or not, when shutting down).
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type checkResult struct {
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
	Detail any    `json:"detail,omitempty"`
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	status := http.StatusOK
	out := map[string]any{}
	results := map[string]checkResult{}
	for name, c := range s.checks {
		detail, err := c(ctx)
		res := checkResult{OK: err == nil, Detail: detail}
		if err != nil {
			res.Error = err.Error()
			if s.critical[name] {
				status = http.StatusServiceUnavailable
			}
		}
		results[name] = res
	}
	if !s.ready.Load() {
		status = http.StatusServiceUnavailable
		out["shutting_down_or_starting"] = true
	}
	out["checks"] = results
	out["status"] = map[bool]string{true: "ready", false: "not_ready"}[status == http.StatusOK]
	writeJSON(w, status, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
