package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/connectors/webhooksink"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

const destSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// receiver is a loopback destination: answer decides each request's
// status from how many times its webhook-id was seen (1 for the first).
// It counts the 2xx answers the sender received per webhook-id: a
// receiver deduplicating by webhook-id would act on the first.
type receiver struct {
	URL    string
	answer func(n int, w http.ResponseWriter, r *http.Request)

	mu       sync.Mutex
	seen     map[string]int         // webhook-id → requests
	times    map[string][]time.Time // webhook-id → request times
	ok       map[string]int         // webhook-id → 2xx answers
	finished atomic.Int64           // handlers that returned
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer, seen: map[string]int{}, times: map[string][]time.Time{}, ok: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer rc.finished.Add(1)
		// Reading the body lets the server notice a sender that went away
		// (the request's context ends).
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("webhook-id")
		rc.mu.Lock()
		rc.seen[id]++
		n := rc.seen[id]
		rc.times[id] = append(rc.times[id], time.Now())
		rc.mu.Unlock()
		sw := &statusWriter{ResponseWriter: w}
		rc.answer(n, sw, r)
		// An answer the sender never read (it went away) is no success.
		if r.Context().Err() == nil && sw.status < 300 {
			rc.mu.Lock()
			rc.ok[id]++
			rc.mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// delivered counts webhook-ids answered 2xx, and the most 2xx one got.
func (rc *receiver) delivered() (ids, most int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, n := range rc.ok {
		ids++
		most = max(most, n)
	}
	return ids, most
}

func (rc *receiver) requests() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	for _, c := range rc.seen {
		n += c
	}
	return n
}

// webhookDestination is a destination config for a receiver, retrying
// fast (tests wait milliseconds, not the production schedule's seconds).
func webhookDestination(url string, timeout time.Duration) configs.DestinationConfig {
	wh := webhooksink.DefaultConfig()
	wh.URL, wh.Secrets, wh.HTTP.Timeout, wh.HTTP.Retries = url, []webhooksink.SigningSecret{{Secret: destSecret}}, timeout, 0
	d := pipeline.DefaultDeliveryConfig()
	d.BackoffBase, d.BackoffMax, d.RetryAfterMin, d.BreakerFailures, d.Lease = 50*time.Millisecond, 200*time.Millisecond, 0, 1000, 10*time.Second
	return configs.DestinationConfig{Connector: "webhook", Webhook: &wh, Delivery: d,
		Subscribe: mapping.Subscription{Types: []string{"created"}}}
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Five destinations fail in every way a destination fails, while a
// healthy one is delivered to as if nothing happened: 503 three times then
// 200 is retried to success; 429 with Retry-After waits what it says; 410
// disables its destination (and a replay after a fix delivers its dead
// letters); a hung one times out and is retried, and never delays the
// healthy one.
func TestEachDestinationFailsOnItsOwnAndRecovers(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	cfg := testConfig(t, pgURL, brokers)
	release := make(chan struct{})
	defer close(release) // before the servers close (their cleanups wait for hung handlers)
	var goneFixed atomic.Bool
	flaky := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 3 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
		}
	})
	throttled := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		}
	})
	gone := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if !goneFixed.Load() {
			http.Error(w, "this endpoint was deleted", http.StatusGone)
		}
	})
	hung := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	healthy := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
	cfg.Destinations = map[string]configs.DestinationConfig{
		"flaky": webhookDestination(flaky.URL, 2*time.Second), "throttled": webhookDestination(throttled.URL, 2*time.Second),
		"gone": webhookDestination(gone.URL, 2*time.Second), "hung": webhookDestination(hung.URL, 3*time.Second),
		"healthy": webhookDestination(healthy.URL, 2*time.Second),
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	d := startDaemon(t, cfg)
	const people = 5
	for i := range people {
		if code, out := d.post("/hooks/form", "application/json", fmt.Sprintf(`{"email":"dest-%d@example.com"}`, i)); code != http.StatusAccepted {
			t.Fatalf("post: %d %v", code, out)
		}
	}

	// The healthy destination gets everything while the hung one's first
	// requests still hang (none has even timed out).
	waitFor(t, "every delivery to the healthy destination", 10*time.Second, func() bool { n, _ := healthy.delivered(); return n == people })
	if hung.finished.Load() != 0 || hung.requests() == 0 {
		t.Fatalf("the hung destination: %d requests, %d finished, when the healthy one was done", hung.requests(), hung.finished.Load())
	}

	waitFor(t, "the flaky destination's deliveries", 20*time.Second, func() bool { n, _ := flaky.delivered(); return n == people })
	if n := queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE destination = 'flaky' AND status = 'delivered' AND attempts = 4`); n != people {
		t.Errorf("%d flaky deliveries delivered on the 4th attempt, want %d", n, people)
	}
	waitFor(t, "the throttled destination's deliveries", 20*time.Second, func() bool { n, _ := throttled.delivered(); return n == people })
	throttled.mu.Lock()
	for id, ts := range throttled.times {
		if len(ts) != 2 || ts[1].Sub(ts[0]) < time.Second {
			t.Errorf("%s: requests at %v: Retry-After: 1 not honoured", id, ts)
		}
	}
	throttled.mu.Unlock()

	waitFor(t, "the gone destination disabled", 10*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM destination_state WHERE destination = 'gone'`) == 1
	})
	if n := gone.requests(); n < 1 || n > cfg.Destinations["gone"].Delivery.Concurrency {
		t.Errorf("the gone destination got %d requests; after the first 410 only those in flight may follow", n)
	}
	if ready := readyDetail(t, d.opsAddr); !strings.Contains(ready, "gone (HTTP 410)") {
		t.Errorf("/readyz does not say the destination is disabled: %s", ready)
	}
	code, list := d.admin("/v1/deliveries?status=dead&destination=gone")
	if items, _ := list["items"].([]any); code != http.StatusOK || len(items) == 0 {
		t.Fatalf("dead letters of gone: %d %v", code, list)
	}
	// The endpoint is fixed; a bulk replay queues its dead letters again
	// and re-enables it.
	waitFor(t, "the gone destination's last attempts", 10*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE destination = 'gone' AND status = 'delivering'`) == 0
	})
	goneFixed.Store(true)
	dead := queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE destination = 'gone' AND status = 'dead'`)
	if code, out := d.adminPost("/v1/deliveries/replay", `{"destination":"gone"}`); code != http.StatusAccepted || out["deliveries"] != float64(dead) {
		t.Fatalf("replay: %d %v, want %d dead letters queued", code, out, dead)
	}
	deadline := time.Now().Add(20 * time.Second)
	for n, _ := gone.delivered(); n != people; n, _ = gone.delivered() {
		if time.Now().After(deadline) {
			for _, r := range queryRows(t, pgURL, `SELECT id, status, attempts, next_attempt_at, last_error FROM deliveries WHERE destination = 'gone'`) {
				t.Log(r...)
			}
			t.Log(queryRows(t, pgURL, `SELECT * FROM destination_state`))
			t.Fatalf("after the replay the gone destination got %d of %d deliveries", n, people)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The hung destination's attempts time out and are retried.
	waitFor(t, "retries of the hung destination", 20*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE destination = 'hung' AND attempts >= 2`) > 0
	})
	for name, rc := range map[string]*receiver{"flaky": flaky, "throttled": throttled, "gone": gone, "healthy": healthy} {
		if _, most := rc.delivered(); most != 1 {
			t.Errorf("%s: an event was delivered %d times", name, most)
		}
	}

	// An operator replays what the healthy destination got (it lost its
	// data): each event is sent again, with the same webhook-id.
	if code, out := d.adminPost("/v1/deliveries/replay", `{"destination":"healthy","status":"delivered"}`); code != http.StatusAccepted || out["deliveries"] != float64(people) {
		t.Fatalf("replay of delivered: %d %v", code, out)
	}
	waitFor(t, "the replayed deliveries", 10*time.Second, func() bool { _, most := healthy.delivered(); return most == 2 })
	if n, _ := healthy.delivered(); n != people {
		t.Errorf("the replay reached %d events, want %d", n, people)
	}
	if code, _ := d.adminPost("/v1/deliveries/replay", `{"destination":"nowhere"}`); code != http.StatusNotFound {
		t.Errorf("a replay to an unknown destination: %d, want 404", code)
	}
}

// A destination failing every request opens its breaker: while it is
// open the due deliveries are deferred, not attempted (no attempt is
// spent), one probe goes through per cooldown, and once the destination
// answers again the probe closes the breaker and everything is delivered.
func TestAnOpenBreakerDefersWithoutSpendingAttempts(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	cfg := testConfig(t, pgURL, brokers)
	var healthy atomic.Bool
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if !healthy.Load() {
			http.Error(w, "down", http.StatusBadGateway)
		}
	})
	dest := webhookDestination(rc.URL, 2*time.Second)
	dest.Delivery.BreakerFailures, dest.Delivery.BreakerCooldown, dest.Delivery.Concurrency = 2, time.Second, 1
	cfg.Destinations = map[string]configs.DestinationConfig{"down": dest}
	d := startDaemon(t, cfg)
	const people = 10
	postPeople(t, d.httpAddr, "breaker", people)

	waitFor(t, "deferrals", 10*time.Second, func() bool {
		return strings.Contains(metricsText(t, d.opsAddr), `cyclehub_deliveries_total{destination="down",outcome="deferred"}`)
	})
	time.Sleep(3 * time.Second) // three cooldowns: about three probes
	// Without the breaker, ten deliveries retried every 50–200 ms would
	// have spent well over a hundred attempts by now.
	if n := queryInt(t, pgURL, `SELECT coalesce(sum(attempts), 0) FROM deliveries`); n > 2+3*2 {
		t.Errorf("%d attempts spent while the breaker was open, want about 2 + one probe per second", n)
	}
	healthy.Store(true)
	waitFor(t, "every delivery after the destination came back", 20*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE status = 'delivered'`) == people
	})
	checkEachOnce(t, "down", rc, people)
}
