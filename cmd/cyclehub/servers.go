package main

import (
	"net/http"
	"time"

	"github.com/cyclehub/cyclehub/webhooks"
)

// newIngestServer is the public listener's server (webhooks and the admin
// API) with the http section's limits against slow and oversized clients:
// a client has read_header_timeout to send its headers (a slowloris that
// dribbles them is cut off), read_timeout for the whole request,
// write_timeout for the answer, idle_timeout between keep-alive requests,
// and max_header_bytes for the request line and headers (431 past it).
// The body limit (413) is the handler's: max_body_bytes.
func newIngestServer(cfg webhooks.Config, h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
	}
}

// The ops listener's limits. Its clients are scrapers, probes and
// operators, so they are fixed rather than configured. The write timeout
// is long because /debug/pprof/profile and /debug/pprof/trace stream for
// their ?seconds= (30 by default), and pprof refuses a duration longer
// than the write timeout.
const (
	opsReadHeaderTimeout = 5 * time.Second
	opsReadTimeout       = 10 * time.Second
	opsWriteTimeout      = 2 * time.Minute
	opsIdleTimeout       = 2 * time.Minute
	opsMaxHeaderBytes    = 16 << 10
)

// newOpsServer is the ops listener's server (/healthz, /readyz, /metrics,
// /debug/pprof).
func newOpsServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: opsReadHeaderTimeout,
		ReadTimeout:       opsReadTimeout,
		WriteTimeout:      opsWriteTimeout,
		IdleTimeout:       opsIdleTimeout,
		MaxHeaderBytes:    opsMaxHeaderBytes,
	}
}
