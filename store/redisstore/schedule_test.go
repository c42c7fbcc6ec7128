package redisstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/redisstore"
)

func newSchedule(t *testing.T) *redisstore.Schedule {
	t.Helper()
	url, prefix := testsvc.RedisURL(t)
	cfg := redisstore.DefaultConfig()
	cfg.URL = secret.Secret(url)
	c, err := redisstore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.NewSchedule(prefix)
}

// Due deliveries come out earliest first and per destination; Add moves a
// scheduled delivery (a deferral, a retry), Fill leaves it where it is (the
// rebuild from PostgreSQL must not undo a deferral), Remove takes it off.
func TestTheScheduleKeepsDeferralsAcrossRefills(t *testing.T) {
	ctx := context.Background()
	s := newSchedule(t)
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	due := func(dest string) []int64 {
		t.Helper()
		ids, err := s.Due(ctx, dest, now, 100)
		must(err)
		return ids
	}
	must(s.Fill(ctx, "a", []int64{3, 1, 2}, []time.Time{now.Add(-time.Second), now.Add(-3 * time.Second), now.Add(time.Minute)}))
	must(s.Fill(ctx, "b", []int64{9}, []time.Time{now.Add(-time.Second)}))
	if got := due("a"); !slices.Equal(got, []int64{1, 3}) {
		t.Fatalf("due of a = %v, want [1 3] (earliest first, 2 not yet)", got)
	}
	// 1 is deferred by the breaker; a refill from the store puts it back
	// at its old time only if the deferral were lost.
	must(s.Add(ctx, "a", []int64{1}, []time.Time{now.Add(time.Minute)}))
	must(s.Fill(ctx, "a", []int64{1, 4}, []time.Time{now.Add(-3 * time.Second), now.Add(-2 * time.Second)}))
	if got := due("a"); !slices.Equal(got, []int64{4, 3}) {
		t.Fatalf("due of a after deferral and refill = %v, want [4 3]", got)
	}
	must(s.Remove(ctx, "a", []int64{3, 4}))
	if got := due("a"); len(got) != 0 {
		t.Fatalf("due of a after remove = %v", got)
	}
	if got := due("b"); !slices.Equal(got, []int64{9}) {
		t.Fatalf("due of b = %v, want [9]", got)
	}
}
