package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cyclehub/cyclehub/internal/secret"
)

// Config is the Redis connection configuration.
type Config struct {
	// URL is a redis:// URL; it may hold a password.
	URL secret.Secret `yaml:"url"`
	// Timeout bounds every call, so a stuck Redis degrades to the
	// PostgreSQL path instead of stalling requests.
	Timeout time.Duration `yaml:"timeout"`
	// KeyPrefix namespaces every key (several deployments on one Redis).
	KeyPrefix string `yaml:"key_prefix"`
}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config {
	return Config{URL: "redis://127.0.0.1:16379/0", Timeout: 250 * time.Millisecond}
}

// Validate reports every problem with c, each prefixed by its key.
func (c Config) Validate() []error {
	var errs []error
	if c.URL.IsZero() {
		errs = append(errs, errors.New("url: must be set"))
	} else if _, err := redis.ParseURL(c.URL.Reveal()); err != nil {
		errs = append(errs, errors.New("url: not a valid redis:// URL"))
	}
	if c.Timeout <= 0 || c.Timeout > 10*time.Second {
		errs = append(errs, fmt.Errorf("timeout: must be in (0, 10s], got %s", c.Timeout))
	}
	return errs
}

// Client wraps the one go-redis client CycleHub uses.
type Client struct {
	rdb     *redis.Client
	timeout time.Duration
}

// Open creates the client; it does not wait for Redis.
func Open(cfg Config) (*Client, error) {
	opt, err := redis.ParseURL(cfg.URL.Reveal())
	if err != nil {
		return nil, errors.New("parse redis url: invalid URL")
	}
	opt.DialTimeout = cfg.Timeout * 4
	opt.ReadTimeout = cfg.Timeout
	opt.WriteTimeout = cfg.Timeout
	return &Client{rdb: redis.NewClient(opt), timeout: cfg.Timeout}, nil
}

// Ping checks that Redis answers.
func (c *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.rdb.Ping(ctx).Err()
}

// Close closes the client.
func (c *Client) Close() error { return c.rdb.Close() }
