package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// postPeople posts a form for each of n people and fails on any non-202.
func postPeople(t *testing.T, addr, prefix string, n int) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf(`{"email":"%s-%d@example.com"}`, prefix, i)
		resp, err := http.Post("http://"+addr+"/hooks/form", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("post %d: %d", i, resp.StatusCode)
		}
	}
}

// checkEachOnce fails the test unless the receiver acknowledged want
// distinct events, each exactly once.
func checkEachOnce(t *testing.T, name string, rc *receiver, want int) {
	t.Helper()
	if n, most := rc.delivered(); n != want || most != 1 {
		t.Errorf("%s: %d events acknowledged (want %d), the most often %d times (want 1)", name, n, want, most)
	}
}

// Redis holds only the schedule: flushing it mid-run (twice, with retries
// waiting in it) loses no delivery and sends none twice, because the
// schedule is rebuilt from PostgreSQL.
func TestAFlushedRedisLosesNoDelivery(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	cfg := testConfig(t, pgURL, brokers)
	// Every event fails its first attempt, so retries wait in Redis.
	rc := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
		}
	})
	dest := webhookDestination(rc.URL, 2*time.Second)
	dest.Delivery.BackoffBase, dest.Delivery.BackoffMax = 2*time.Second, 3*time.Second
	cfg.Destinations = map[string]configs.DestinationConfig{"sink": dest}
	d := startDaemon(t, cfg)
	redisURL := cfg.Redis.URL.Reveal()

	const people = 30
	postPeople(t, d.httpAddr, "flush", people/2)
	waitFor(t, "retries waiting", 10*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE status = 'pending' AND attempts = 1`) >= 5
	})
	testsvc.FlushRedisPrefix(t, redisURL, cfg.Redis.KeyPrefix)
	postPeople(t, d.httpAddr, "flush-more", people/2)
	time.Sleep(500 * time.Millisecond)
	testsvc.FlushRedisPrefix(t, redisURL, cfg.Redis.KeyPrefix)

	waitFor(t, "every delivery", 30*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE status = 'delivered'`) == people
	})
	checkEachOnce(t, "sink", rc, people)
}

// The destination said yes, then PostgreSQL went away before the outcome
// was written: the attempt's lease runs out, the delivery is claimed again,
// and the mark Redis kept of the success stops a second send.
func TestALostOutcomeIsNotSentAgain(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	if _, err := pgtest.Migrate(context.Background(), pg.URL()); err != nil {
		t.Fatal(err)
	}
	_, brokers := testsvc.Kafka(t)
	cfg := testConfig(t, pg.URL(), brokers)
	cfg.Postgres.ConnectTimeout = 2 * time.Second
	arrived, answer := make(chan struct{}, 100), make(chan struct{})
	rc := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {
		arrived <- struct{}{}
		<-answer
	})
	dest := webhookDestination(rc.URL, 4*time.Second)
	dest.Delivery.Lease = 5 * time.Second
	cfg.Destinations = map[string]configs.DestinationConfig{"sink": dest}
	d := startDaemon(t, cfg)

	const people = 3
	postPeople(t, d.httpAddr, "lost", people)
	<-arrived
	time.Sleep(200 * time.Millisecond) // the others' requests arrive too
	pg.Stop()
	close(answer)
	time.Sleep(time.Second) // the outcomes fail to be written
	pg.Start()

	waitFor(t, "every delivery recorded", 60*time.Second, func() bool {
		return queryInt(t, pg.URL(), `SELECT count(*) FROM deliveries WHERE status = 'delivered'`) == people
	})
	if n := rc.requests(); n != people {
		t.Errorf("the destination got %d requests for %d events", n, people)
	}
	checkEachOnce(t, "sink", rc, people)
	if n := queryInt(t, pg.URL(), `SELECT count(*) FROM deliveries WHERE attempts > 1`); n == 0 {
		t.Errorf("no delivery was claimed again: the test proves nothing")
	}
	if m := metricsText(t, d.opsAddr); !strings.Contains(m, `cyclehub_deliveries_total{destination="sink",outcome="duplicate"}`) {
		t.Errorf("no duplicate outcome counted:\n%s", m)
	}
}

// SIGKILL while requests are in flight. A success the daemon recorded is
// never sent again; a request it never heard back from is sent again after
// its lease with the same webhook-id (so a receiver deduplicating on it,
// as Standard Webhooks asks, acts once); every event arrives.
func TestKillingTheDaemonMidDeliveryNeverResendsARecordedSuccess(t *testing.T) {
	bin := buildDaemon(t)
	pgURL := pgtest.URL(t)
	_, brokers := testsvc.Kafka(t)
	rc := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select { // a slow destination, so the kill finds requests in flight
		case <-time.After(150 * time.Millisecond):
		case <-r.Context().Done():
		}
	})
	dests := fmt.Sprintf(`destinations:
  sink:
    connector: webhook
    webhook: {url: %q, secrets: [{secret: %s}], http: {timeout: 1s, retries: 0}}
    subscribe: {types: [created]}
    delivery: {concurrency: 4, backoff_base: 50ms, backoff_max: 200ms, lease: 2s}
`, rc.URL, destSecret)
	p := startProcess(t, bin, pgURL, brokers, dests)
	const people = 40
	postPeople(t, p.httpAddr, "kill", people)
	waitFor(t, "deliveries under way", 20*time.Second, func() bool { n, _ := rc.delivered(); return n >= 8 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	recorded := map[string]bool{}
	for _, r := range queryRows(t, pgURL, `SELECT 'sink:' || event_id::text FROM deliveries WHERE status = 'delivered'`) {
		recorded[r[0].(string)] = true
	}
	if len(recorded) == people {
		t.Fatal("every event was delivered before the kill: the test proves nothing")
	}
	startProcess(t, bin, pgURL, brokers, dests)
	waitFor(t, "every delivery", 60*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE status = 'delivered'`) == people
	})
	resent := 0
	rc.mu.Lock()
	for id, ts := range rc.times {
		switch {
		case recorded[id] && len(ts) != 1:
			t.Errorf("%s: recorded as delivered before the kill, then sent %d times in all", id, len(ts))
		case len(ts) > 1:
			resent++
		}
	}
	acked := len(rc.ok)
	rc.mu.Unlock()
	if acked != people {
		t.Errorf("%d events acknowledged, want %d", acked, people)
	}
	if resent == 0 {
		t.Fatal("no request was cut by the kill: the test proves nothing")
	}
	t.Logf("%d of %d recorded as delivered before the kill; %d sent again after it", len(recorded), people, resent)
}

func metricsText(t *testing.T, opsAddr string) string {
	t.Helper()
	resp, err := http.Get("http://" + opsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
