// Package breaker is a small circuit breaker: after Threshold consecutive
// failures it opens for Cooldown, then lets one call through (half-open)
// whose result closes or reopens it. Callers pass the time, so tests need
// no clock of their own.
package breaker

import (
	"sync"
	"time"
)

// Breaker is safe for concurrent use. The zero value never opens; set
// Threshold and Cooldown.
type Breaker struct {
	Threshold int
	Cooldown  time.Duration

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	probing   bool
}

// New returns a breaker.
func New(threshold int, cooldown time.Duration) *Breaker {
	return &Breaker{Threshold: threshold, Cooldown: cooldown}
}

// Allow reports whether a call may be made now (a half-open breaker lets
// one probe through at a time).
func (b *Breaker) Allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Threshold < 1 || b.failures < b.Threshold {
		return true
	}
	if now.Before(b.openUntil) || b.probing {
		return false
	}
	b.probing = true
	return true
}

// Done records a call's outcome.
func (b *Breaker) Done(ok bool, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if ok {
		b.failures = 0
		return
	}
	b.failures++
	if b.Threshold > 0 && b.failures >= b.Threshold {
		b.openUntil = now.Add(b.Cooldown)
	}
}

// Abandon ends a probe that made no call (nothing to send after all).
func (b *Breaker) Abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// OpenUntil returns when an open breaker lets a probe through (zero when
// it is closed).
func (b *Breaker) OpenUntil(now time.Time) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Threshold > 0 && b.failures >= b.Threshold && now.Before(b.openUntil) {
		return b.openUntil
	}
	return time.Time{}
}
