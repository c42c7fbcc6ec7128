package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cyclehub/cyclehub/internal/secret"

	"github.com/cyclehub/cyclehub/mapping"
)

// Config is the PostgreSQL connection configuration.
type Config struct {
	// URL is a libpq-style connection URL; it may hold a password.
	URL secret.Secret `yaml:"url"`
	// MaxConns caps the pool (ingest flushers + pipeline workers + relay + API).
	MaxConns int32 `yaml:"max_conns"`
	// ConnectTimeout bounds dialing a connection.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// StatementTimeout bounds every statement, so a stuck database turns into
	// an error (and a 503) instead of a hung request.
	StatementTimeout time.Duration `yaml:"statement_timeout"`
}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{
		URL:              "postgres://postgres@127.0.0.1:15432/cyclehub?sslmode=disable",
		MaxConns:         24,
		ConnectTimeout:   5 * time.Second,
		StatementTimeout: 30 * time.Second,
	}
}

// Validate reports every problem with c, each prefixed by its key.
func (c Config) Validate() []error {
	var errs []error
	if c.URL.IsZero() {
		errs = append(errs, errors.New("url: must be set"))
	} else if _, err := pgxpool.ParseConfig(c.URL.Reveal()); err != nil {
		errs = append(errs, errors.New("url: not a valid PostgreSQL connection URL"))
	}
	if c.MaxConns < 4 {
		errs = append(errs, fmt.Errorf("max_conns: must be at least 4, got %d", c.MaxConns))
	}
	if c.ConnectTimeout <= 0 {
		errs = append(errs, errors.New("connect_timeout: must be positive"))
	}
	if c.StatementTimeout <= 0 {
		errs = append(errs, errors.New("statement_timeout: must be positive"))
	}
	return errs
}

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// routes are the outbound destinations events fan out to.
	routes atomic.Pointer[[]mapping.Route]
}

// SetRoutes sets the destinations every event written from now on fans
// out to (a delivery row per subscribed destination, in the event's
// transaction).
func (s *Store) SetRoutes(routes []mapping.Route) { s.routes.Store(&routes) }

func (s *Store) currentRoutes() []mapping.Route {
	if r := s.routes.Load(); r != nil {
		return *r
	}
	return nil
}

// Open creates the connection pool. It does not wait for the database: a
// daemon must start (and answer 503) while PostgreSQL is down.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL.Reveal())
	if err != nil {
		return nil, errors.New("parse postgres url: invalid URL")
	}
	pc.MaxConns = cfg.MaxConns
	pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	pc.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(cfg.StatementTimeout.Milliseconds())
	pc.ConnConfig.RuntimeParams["application_name"] = "cyclehub"
	pc.HealthCheckPeriod = 5 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("create postgres pool: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() { s.pool.Close() }
