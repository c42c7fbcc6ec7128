package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClaimState is what a dedup claim found.
type ClaimState int

// Claim outcomes.
const (
	// Claimed: this caller owns the delivery and must call Done or Release.
	Claimed ClaimState = iota
	// InFlight: another request with the same key is being stored right
	// now; the sender should retry shortly (it may yet fail).
	InFlight
	// Seen: the delivery was already stored; answer "duplicate".
	Seen
)

// Dedup is the fast path of deduplication: a claim (SET NX with a short
// TTL) before the durable write, marked done (long TTL) after it, released
// if the write fails. A crash between claim and commit leaves only a
// short-lived claim, so the provider's retry is accepted once it expires:
// a delivery is never lost to a stale claim. PostgreSQL's unique key stays
// the backstop when Redis is down or was flushed.
type Dedup struct {
	c        *Client
	prefix   string
	claimTTL time.Duration
	doneTTL  time.Duration
}

// NewDedup returns the deduplicator. keyPrefix namespaces keys (tests use
// their own); doneTTL is how long a stored delivery is remembered here.
func (c *Client) NewDedup(keyPrefix string, claimTTL, doneTTL time.Duration) *Dedup {
	return &Dedup{c: c, prefix: keyPrefix + "cyclehub:dedup:", claimTTL: claimTTL, doneTTL: doneTTL}
}

const (
	valueClaimed = "claimed"
	valueDone    = "done"
)

func (d *Dedup) key(source, id string) string { return d.prefix + source + ":" + id }

// Claim tries to take the delivery (source, id).
func (d *Dedup) Claim(ctx context.Context, source, id string) (ClaimState, error) {
	ctx, cancel := context.WithTimeout(ctx, d.c.timeout)
	defer cancel()
	k := d.key(source, id)
	ok, err := d.c.rdb.SetNX(ctx, k, valueClaimed, d.claimTTL).Result()
	if err != nil {
		return Claimed, fmt.Errorf("dedup claim: %w", err)
	}
	if ok {
		return Claimed, nil
	}
	v, err := d.c.rdb.Get(ctx, k).Result()
	switch {
	case errors.Is(err, redis.Nil):
		// Expired between the two calls: try once more.
		if ok, err = d.c.rdb.SetNX(ctx, k, valueClaimed, d.claimTTL).Result(); err == nil && ok {
			return Claimed, nil
		}
		return InFlight, err
	case err != nil:
		return Claimed, fmt.Errorf("dedup claim: %w", err)
	case v == valueDone:
		return Seen, nil
	default:
		return InFlight, nil
	}
}

// Done records that the delivery is stored.
func (d *Dedup) Done(ctx context.Context, source, id string) error {
	ctx, cancel := context.WithTimeout(ctx, d.c.timeout)
	defer cancel()
	if err := d.c.rdb.Set(ctx, d.key(source, id), valueDone, d.doneTTL).Err(); err != nil {
		return fmt.Errorf("dedup done: %w", err)
	}
	return nil
}

// Release gives up a claim after a failed write, so the retry is accepted.
func (d *Dedup) Release(ctx context.Context, source, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.c.timeout)
	defer cancel()
	// Delete only our own claim, never a "done" mark.
	const script = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`
	if err := d.c.rdb.Eval(ctx, script, []string{d.key(source, id)}, valueClaimed).Err(); err != nil {
		return fmt.Errorf("dedup release: %w", err)
	}
	return nil
}
