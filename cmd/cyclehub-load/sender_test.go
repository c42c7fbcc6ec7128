package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cyclehub/cyclehub/webhooks"
)

// stubDaemon acks every request after delay, with a fresh request id.
func stubDaemon(t *testing.T, delay time.Duration) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"status":"accepted","request_id":%q}`, uuid.NewString())
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func testSender(t *testing.T, url string, l load) *sender {
	t.Helper()
	requireFixtures(t)
	src, err := newSource("form", webhooks.SourceConfig{Provider: "form"}, url, testFixtures)
	if err != nil {
		t.Fatal(err)
	}
	conns := max(l.concurrency, l.maxInflight)
	return &sender{load: l, client: newHTTPClient(conns, l.timeout), sources: []*source{src}, weights: []int{1},
		people: newPeople(5, 0.2), track: newTracker(time.Now()), seed: 5}
}

func TestSender(t *testing.T) {
	t.Run("concurrency mode sends exactly --requests and acks them all", func(t *testing.T) {
		srv, hits := stubDaemon(t, 0)
		s := testSender(t, srv.URL, load{concurrency: 4, requests: 50, duration: time.Minute, timeout: 5 * time.Second})
		res := s.run(context.Background())
		if res.Sent != 50 || res.Acked != 50 || hits.Load() != 50 || res.Ack.Count() != 50 || len(s.track.snapshot()) != 50 {
			t.Fatalf("sent %d, acked %d, hits %d, latencies %d, tracked %d", res.Sent, res.Acked, hits.Load(), res.Ack.Count(), len(s.track.snapshot()))
		}
	})
	t.Run("rate mode offers rate × duration when the daemon keeps up", func(t *testing.T) {
		srv, _ := stubDaemon(t, time.Millisecond)
		s := testSender(t, srv.URL, load{rate: 200, maxInflight: 64, duration: 500 * time.Millisecond, timeout: 5 * time.Second})
		res := s.run(context.Background())
		// On a loaded machine a few may find no free slot (unsent): the
		// offer is still exactly rate × duration.
		if res.Sent+res.Unsent != 100 || res.Acked != res.Sent || res.Sent < 50 {
			t.Fatalf("sent %d, acked %d, unsent %d: want 100 offered, every sent one acked", res.Sent, res.Acked, res.Unsent)
		}
	})
	t.Run("rate mode counts latency from the due time when the daemon is slow", func(t *testing.T) {
		// Two senders, 100ms per answer: 20/s at most against 100/s due.
		srv, _ := stubDaemon(t, 100*time.Millisecond)
		s := testSender(t, srv.URL, load{rate: 100, maxInflight: 2, duration: time.Second, timeout: 5 * time.Second})
		res := s.run(context.Background())
		if res.Sent > 30 || res.Sent+res.Unsent != 100 || res.Late == 0 {
			t.Fatalf("sent %d, unsent %d, late %d: want about 20 sent, the rest unsent, late starts", res.Sent, res.Unsent, res.Late)
		}
		// The last requests were due early and answered late: their
		// latency is far above the 100ms the daemon took.
		if p99 := res.Ack.Quantile(0.99); p99 < 500*time.Millisecond {
			t.Fatalf("p99 %v: the wait for a free sender is not counted", p99)
		}
	})
}
