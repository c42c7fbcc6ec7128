package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/redisstore"
)

func newDedup(t *testing.T, claimTTL time.Duration) *redisstore.Dedup {
	t.Helper()
	url, prefix := testsvc.RedisURL(t)
	cfg := redisstore.DefaultConfig()
	cfg.URL = secret.Secret(url)
	c, err := redisstore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.NewDedup(prefix, claimTTL, time.Hour)
}

func TestClaimDoneThenSeen(t *testing.T) {
	d := newDedup(t, time.Minute)
	ctx := context.Background()
	steps := []struct {
		name string
		do   func() (redisstore.ClaimState, error)
		want redisstore.ClaimState
	}{
		{"the first delivery is claimed", func() (redisstore.ClaimState, error) { return d.Claim(ctx, "meta", "lead-1") }, redisstore.Claimed},
		{"a concurrent redelivery finds it in flight", func() (redisstore.ClaimState, error) { return d.Claim(ctx, "meta", "lead-1") }, redisstore.InFlight},
		{"another source's same id is independent", func() (redisstore.ClaimState, error) { return d.Claim(ctx, "typeform", "lead-1") }, redisstore.Claimed},
		{"after Done a redelivery is seen", func() (redisstore.ClaimState, error) {
			if err := d.Done(ctx, "meta", "lead-1"); err != nil {
				return 0, err
			}
			return d.Claim(ctx, "meta", "lead-1")
		}, redisstore.Seen},
		{"Release never erases a done mark", func() (redisstore.ClaimState, error) {
			if err := d.Release(ctx, "meta", "lead-1"); err != nil {
				return 0, err
			}
			return d.Claim(ctx, "meta", "lead-1")
		}, redisstore.Seen},
	}
	for _, s := range steps {
		got, err := s.do()
		if err != nil || got != s.want {
			t.Fatalf("%s: got %v, %v; want %v", s.name, got, err, s.want)
		}
	}
}

func TestAFailedWriteReleasesItsClaimSoTheRetryIsAccepted(t *testing.T) {
	d := newDedup(t, time.Minute)
	ctx := context.Background()
	if s, _ := d.Claim(ctx, "src", "x"); s != redisstore.Claimed {
		t.Fatal("not claimed")
	}
	if err := d.Release(ctx, "src", "x"); err != nil {
		t.Fatal(err)
	}
	if s, _ := d.Claim(ctx, "src", "x"); s != redisstore.Claimed {
		t.Fatalf("retry after release: %v", s)
	}
}

func TestAClaimLeftByACrashExpires(t *testing.T) {
	d := newDedup(t, time.Second)
	ctx := context.Background()
	_, _ = d.Claim(ctx, "src", "crash")
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := d.Claim(ctx, "src", "crash")
		if err != nil {
			t.Fatal(err)
		}
		if s == redisstore.Claimed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a stale claim never expired: the provider's retry would be refused for ever")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRedisDownIsAnErrorNotAVerdict(t *testing.T) {
	cfg := redisstore.DefaultConfig()
	cfg.URL = secret.Secret("redis://127.0.0.1:1/0")
	c, err := redisstore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewDedup("", time.Minute, time.Hour).Claim(context.Background(), "src", "id")
	if err == nil || s != redisstore.Claimed {
		t.Fatalf("got %v, %v: with Redis down the caller must fall back to PostgreSQL", s, err)
	}
}
