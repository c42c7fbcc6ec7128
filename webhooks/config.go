package webhooks

import (
	"fmt"
	"net"
	"time"
)

// Config is the public HTTP listener's configuration.
type Config struct {
	Addr string `yaml:"addr"`
	// MaxBodyBytes is the largest request body accepted (413 past it).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxHeaderBytes caps the request line and headers.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// Timeouts against slow clients.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// ShutdownTimeout bounds draining in-flight requests on shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// DedupWindow is how long identical bodies from a provider without a
	// delivery id count as one delivery (a browser's double submit).
	DedupWindow time.Duration `yaml:"dedup_window"`
	// DedupTTL is how long Redis remembers a stored delivery id (the
	// PostgreSQL key remembers it as long as the raw request is kept).
	DedupTTL time.Duration `yaml:"dedup_ttl"`
	// MaxInflight caps the webhooks being verified and stored at once
	// (0: no cap). One that finds the cap reached waits up to InflightWait
	// for a place, then gets 503 overloaded: beyond capacity, senders are
	// told to come back instead of every ack slowing down.
	MaxInflight  int           `yaml:"max_inflight"`
	InflightWait time.Duration `yaml:"inflight_wait"`
}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{
		Addr:              "127.0.0.1:8080",
		MaxBodyBytes:      1 << 20,
		MaxHeaderBytes:    64 << 10,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   20 * time.Second,
		DedupWindow:       10 * time.Minute,
		DedupTTL:          72 * time.Hour,
		MaxInflight:       512,
		InflightWait:      time.Second,
	}
}

// Validate reports every problem with c, each prefixed by its key.
func (c Config) Validate() []error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr: %q is not host:port", c.Addr))
	}
	if c.MaxBodyBytes < 1024 || c.MaxBodyBytes > 64<<20 {
		errs = append(errs, fmt.Errorf("max_body_bytes: must be between 1024 and %d, got %d", 64<<20, c.MaxBodyBytes))
	}
	if c.MaxHeaderBytes < 4096 {
		errs = append(errs, fmt.Errorf("max_header_bytes: must be at least 4096, got %d", c.MaxHeaderBytes))
	}
	for name, d := range map[string]time.Duration{
		"read_header_timeout": c.ReadHeaderTimeout, "read_timeout": c.ReadTimeout,
		"write_timeout": c.WriteTimeout, "idle_timeout": c.IdleTimeout, "shutdown_timeout": c.ShutdownTimeout,
		"dedup_window": c.DedupWindow, "dedup_ttl": c.DedupTTL, "inflight_wait": c.InflightWait,
	} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", name, d))
		}
	}
	if c.MaxInflight < 0 {
		errs = append(errs, fmt.Errorf("max_inflight: must be 0 (no cap) or positive, got %d", c.MaxInflight))
	}
	return errs
}
