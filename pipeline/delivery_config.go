package pipeline

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// DeliveryConfig tunes the deliveries to one destination.
type DeliveryConfig struct {
	// Concurrency caps the requests in flight to the destination.
	Concurrency int `yaml:"concurrency"`
	// RateLimit caps records per second to it (0: no limit).
	RateLimit float64 `yaml:"rate_limit"`
	// BatchSize is the most records one write carries (0: the
	// connector's most).
	BatchSize int `yaml:"batch_size"`
	// The retry schedule: attempt n waits a random time in
	// [0, min(BackoffMax, BackoffBase × 2^(n-1))] (exponential backoff with
	// full jitter), until MaxAttempts attempts or MaxAge since the event;
	// then the delivery is dead-lettered.
	BackoffBase time.Duration `yaml:"backoff_base"`
	BackoffMax  time.Duration `yaml:"backoff_max"`
	MaxAttempts int           `yaml:"max_attempts"`
	MaxAge      time.Duration `yaml:"max_age"`
	// A destination's Retry-After is honoured within these bounds.
	RetryAfterMin time.Duration `yaml:"retry_after_min"`
	RetryAfterMax time.Duration `yaml:"retry_after_max"`
	// The circuit breaker opens after BreakerFailures consecutive failed
	// attempts and lets one probe through after BreakerCooldown;
	// deliveries deferred while it is open do not count as attempts.
	BreakerFailures int           `yaml:"breaker_failures"`
	BreakerCooldown time.Duration `yaml:"breaker_cooldown"`
	// Lease bounds one attempt: a delivery claimed longer ago (its process
	// died) is attempted again.
	Lease time.Duration `yaml:"lease"`
}

// DefaultDeliveryConfig returns the defaults documented in the README.
func DefaultDeliveryConfig() DeliveryConfig {
	return DeliveryConfig{
		Concurrency: 4, BackoffBase: 5 * time.Second, BackoffMax: 6 * time.Hour, MaxAttempts: 20, MaxAge: 72 * time.Hour,
		RetryAfterMin: time.Second, RetryAfterMax: time.Hour, BreakerFailures: 5, BreakerCooldown: 30 * time.Second,
		Lease: 2 * time.Minute,
	}
}

// Validate reports every problem with c, each prefixed by its key.
func (c DeliveryConfig) Validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Concurrency < 1 || c.Concurrency > 256 {
		add("concurrency: must be between 1 and 256, got %d", c.Concurrency)
	}
	if c.RateLimit < 0 {
		add("rate_limit: must not be negative, got %v", c.RateLimit)
	}
	if c.BatchSize < 0 || c.BatchSize > 1000 {
		add("batch_size: must be between 0 (the connector's) and 1000, got %d", c.BatchSize)
	}
	if c.BackoffBase < 10*time.Millisecond || c.BackoffBase > c.BackoffMax {
		add("backoff_base: must be at least 10ms and at most backoff_max, got %s", c.BackoffBase)
	}
	if c.BackoffMax > 7*24*time.Hour {
		add("backoff_max: must be at most 168h, got %s", c.BackoffMax)
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 100 {
		add("max_attempts: must be between 1 and 100, got %d", c.MaxAttempts)
	}
	if c.MaxAge < time.Minute {
		add("max_age: must be at least 1m, got %s", c.MaxAge)
	}
	if c.RetryAfterMin < 0 {
		add("retry_after_min: must not be negative, got %s", c.RetryAfterMin)
	}
	if c.RetryAfterMax < c.RetryAfterMin {
		add("retry_after_max: must be at least retry_after_min (%s), got %s", c.RetryAfterMin, c.RetryAfterMax)
	}
	if c.BreakerFailures < 1 {
		add("breaker_failures: must be at least 1, got %d", c.BreakerFailures)
	}
	if c.BreakerCooldown < 100*time.Millisecond {
		add("breaker_cooldown: must be at least 100ms, got %s", c.BreakerCooldown)
	}
	if c.Lease < time.Second {
		add("lease: must be at least 1s, got %s", c.Lease)
	}
	return errs
}

// backoff is how long attempt n (from 1) waits before the next: full
// jitter over an exponential bound.
func (c DeliveryConfig) backoff(attempt int, rnd func() float64) time.Duration {
	// Each step doubles the bound up to BackoffMax, never past it, so it
	// cannot overflow; an attempt below 1 waits like the first.
	bound := min(c.BackoffBase, c.BackoffMax)
	for n := 1; n < attempt && bound > 0 && bound < c.BackoffMax; n++ {
		bound += min(bound, c.BackoffMax-bound)
	}
	return time.Duration(rnd() * float64(bound))
}

// retryAfter bounds a destination's Retry-After hint.
func (c DeliveryConfig) retryAfter(d time.Duration) time.Duration {
	return min(max(d, c.RetryAfterMin), c.RetryAfterMax)
}

var jitter = rand.Float64
