//go:build drills

// Fault drills (`make drills`): each runs a load of form webhooks, takes
// one dependency down in the middle of it, brings it back, lets the
// daemon drain, and then checks the promises of DESIGN.md §2: zero acked
// loss and zero double effects on the record (checkRecord), every event
// on the stream at least once with no gap per customer (checkStreamOf),
// and every event delivered to a healthy destination exactly once per
// webhook-id (checkDelivered). They are not part of `make test`: they run
// for minutes and take services down on purpose.
//
//	go test -tags drills -race -count=1 -run '^TestDrill' -v ./cmd/cyclehub
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

const (
	drillSenders = 8
	// Every other message is for one of drillPool people, whom several
	// senders update at once; the others are for new people.
	drillPool = 100
	drillPace = 5 * time.Millisecond // each sender's pause between messages
)

// verifyDrill waits for the daemon to drain and runs every check;
// dests are the healthy destinations' receivers by name.
func verifyDrill(t *testing.T, pgURL string, brokers []string, l *drillLoad, dests map[string]*receiver, atLeastOnce bool) {
	t.Helper()
	t.Log(l.summary())
	start := time.Now()
	waitDrained(t, pgURL, 60*time.Second)
	drained := time.Since(start)
	res := checkRecord(t, pgURL, l)
	// Deliveries first: the stream is read faster once they no longer
	// compete for the machine.
	for name := range dests {
		waitDelivered(t, pgURL, name, res.events, 60*time.Second)
	}
	delivered := time.Since(start)
	for name, rc := range dests {
		checkDelivered(t, pgURL, name, rc, atLeastOnce)
	}
	checkStreamOf(t, brokers, res)
	t.Logf("drained in %s, delivered at %s, stream checked at %s", drained.Round(100*time.Millisecond),
		delivered.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
}

func okReceiver(t *testing.T) *receiver {
	return newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
}

// Drill 1: the daemon is killed with SIGKILL twice under load and
// restarted on the same address, database and Redis keys. Senders retry
// what they sent when it died; a request stored before the kill is
// answered duplicate. A delivery recorded as delivered before a kill is
// never sent again; one cut by the kill is sent again with its webhook-id.
func TestDrillSIGKILLUnderLoad(t *testing.T) {
	bin := buildDrillDaemon(t)
	pgURL := pgtest.URL(t)
	_, brokers := testsvc.Kafka(t)
	rc := okReceiver(t)
	p := newDrillProcess(t, bin, pgURL, brokers, fmt.Sprintf(`destinations:
  healthy:
    connector: webhook
    webhook: {url: %q, secrets: [{secret: %s}], http: {timeout: 1s, retries: 0}}
    delivery: {concurrency: 4, backoff_base: 50ms, backoff_max: 200ms, lease: 3s}
`, rc.URL, destSecret))
	p.start()
	l := startLoad(t, p.httpAddr, "kill", drillSenders, drillPool, drillPace)
	recorded := map[string]int{} // webhook-id recorded delivered at a kill → requests by then
	for kill := 1; kill <= 2; kill++ {
		time.Sleep(2 * time.Second)
		acked := l.ackedCount()
		p.kill()
		for _, r := range queryRows(t, pgURL, `SELECT 'healthy:' || event_id::text FROM deliveries WHERE status = 'delivered'`) {
			rc.mu.Lock()
			recorded[r[0].(string)] = rc.seen[r[0].(string)]
			rc.mu.Unlock()
		}
		time.Sleep(300 * time.Millisecond) // the senders find it gone
		restart := time.Now()
		p.start()
		t.Logf("SIGKILL %d: %d messages acked before it, %d deliveries recorded; restarted in %s",
			kill, acked, len(recorded), time.Since(restart).Round(time.Millisecond))
	}
	time.Sleep(2 * time.Second)
	// A request in flight at a kill left its dedup claim in Redis: its
	// retries are answered 503 delivery_in_flight until the claim expires
	// (30 s). The drill does not wait that long: such a message may end
	// unacked (and is then checked to be stored at most once).
	l.finish(5 * time.Second)
	if l.ackedCount() < 100 || l.connErrs.Load() == 0 {
		t.Fatalf("%d acks, %d connection errors: the kills found no load, the drill proves nothing", l.ackedCount(), l.connErrs.Load())
	}
	verifyDrill(t, pgURL, brokers, l, map[string]*receiver{"healthy": rc}, true)
	rc.mu.Lock()
	for id, n := range recorded {
		if rc.seen[id] != n {
			t.Errorf("%s was recorded as delivered before a kill and sent again (%d requests, %d at the kill)", id, rc.seen[id], n)
		}
	}
	rc.mu.Unlock()
	if err := p.terminate(30 * time.Second); err != nil {
		t.Errorf("after the drill the daemon did not stop cleanly on SIGTERM: %v", err)
	}
}

// Drill 2: PostgreSQL (a server of the drill's own) is stopped for 10 s
// under load. Senders are told 503 (nothing is acked that is not
// committed) and retry the same body; once PostgreSQL is back every
// retry is stored once: a request retried after a 503 is never
// processed twice, and a delivery whose outcome could not be written is
// not sent again.
func TestDrillPostgresDownFor10Seconds(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	if _, err := pgtest.Migrate(context.Background(), pg.URL()); err != nil {
		t.Fatal(err)
	}
	_, brokers := testsvc.Kafka(t)
	rc := okReceiver(t)
	cfg := testConfig(t, pg.URL(), brokers)
	cfg.Postgres.ConnectTimeout = 2 * time.Second
	cfg.Destinations = map[string]configs.DestinationConfig{"healthy": allEvents(webhookDestination(rc.URL, 2*time.Second))}
	d := startQuietDaemon(t, cfg)
	l := startLoad(t, d.httpAddr, "pgdown", drillSenders, drillPool, drillPace)
	time.Sleep(2 * time.Second)
	pg.Stop()
	stopped := time.Now()
	time.Sleep(10 * time.Second)
	pg.Start()
	restarted := time.Now()
	// An answer read just after the stop may be for a commit made just
	// before it; none read later can be an ack.
	during := l.acksBetween(stopped.Add(time.Second), restarted)
	t.Logf("PostgreSQL down for %s: %d acks before, %d while down", restarted.Sub(stopped).Round(100*time.Millisecond),
		l.acksBetween(time.Time{}, stopped), during)
	if during != 0 {
		t.Errorf("%d messages acked while PostgreSQL was down", during)
	}
	// The relay leads its ranges again (its advisory locks died with
	// their connections).
	for rangesLed(t, d.opsAddr) != cfg.Relay.Ranges {
		if time.Since(restarted) > 15*time.Second {
			t.Errorf("15 s after PostgreSQL came back the relay leads %d of %d outbox ranges: nothing is published",
				rangesLed(t, d.opsAddr), cfg.Relay.Ranges)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	l.finish(15 * time.Second)
	if l.unavailable.Load() == 0 || l.acksBetween(time.Time{}, stopped) < 50 {
		t.Fatalf("%d acks before the outage, %d 503s during it: the drill proves nothing", l.acksBetween(time.Time{}, stopped), l.unavailable.Load())
	}
	verifyDrill(t, pg.URL(), brokers, l, map[string]*receiver{"healthy": rc}, false)
	after503 := 0
	for _, m := range l.msgs {
		if m.acked && m.after503 {
			after503++
		}
	}
	if after503 == 0 {
		t.Error("no message was acked after a 503: the retries were never tested")
	}
}

// redisDrillDestinations are a healthy destination and a flaky one that
// fails the first attempt of some events, so retries wait in the Redis
// schedule when Redis goes.
func redisDrillDestinations(t *testing.T) (map[string]configs.DestinationConfig, map[string]*receiver) {
	healthy := okReceiver(t)
	flaky := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		// A third of the events (a customer's deliveries go one at a
		// time, so more would only make the drill slower).
		if n == 1 && crc32.ChecksumIEEE([]byte(r.Header.Get("webhook-id")))%3 == 0 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
		}
	})
	fl := allEvents(webhookDestination(flaky.URL, 2*time.Second))
	fl.Delivery.BackoffBase, fl.Delivery.BackoffMax = 300*time.Millisecond, 600*time.Millisecond
	return map[string]configs.DestinationConfig{"healthy": allEvents(webhookDestination(healthy.URL, 2*time.Second)), "flaky": fl},
		map[string]*receiver{"healthy": healthy, "flaky": flaky}
}

// Drill 3a: the daemon's Redis keys are flushed five times under load
// (dedup marks, claims, the delivery schedule and success marks): dedup
// falls back on PostgreSQL's unique key (redeliveries are still
// answered duplicate) and the schedule is rebuilt from PostgreSQL.
func TestDrillRedisFlushedUnderLoad(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	cfg := testConfig(t, pgURL, brokers)
	dests, receivers := redisDrillDestinations(t)
	cfg.Destinations = dests
	d := startQuietDaemon(t, cfg)
	l := startLoad(t, d.httpAddr, "flush", drillSenders, drillPool, drillPace)
	for range 5 {
		time.Sleep(time.Second)
		testsvc.FlushRedisPrefix(t, cfg.Redis.URL.Reveal(), cfg.Redis.KeyPrefix)
	}
	time.Sleep(time.Second)
	l.finish(10 * time.Second)
	if l.redelivered.Load() == 0 {
		t.Fatal("no redelivery was answered duplicate: the drill proves nothing")
	}
	verifyDrill(t, pgURL, brokers, l, receivers, false)
}

// Drill 3b: the daemon's Redis server is killed under load and comes back
// 8 s later, empty. Ingest goes on without it (PostgreSQL dedups);
// deliveries wait for the schedule and all arrive, once each.
func TestDrillRedisStoppedUnderLoad(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	cfg := testConfig(t, pgURL, brokers)
	var redis redisOutage
	if bin, err := exec.LookPath("redis-server"); err == nil {
		redis = startRedisServer(t, bin)
	} else {
		// Without redis-server the shared one cannot be stopped: cut a
		// proxy in front of it instead, and delete the drill's keys.
		t.Logf("redis-server is not installed (%v): the outage is a cut proxy in front of the shared Redis", err)
		redis = startRedisProxy(t, cfg.Redis.URL.Reveal(), cfg.Redis.KeyPrefix)
	}
	cfg.Redis.URL = secret.Secret(redis.url())
	dests, receivers := redisDrillDestinations(t)
	cfg.Destinations = dests
	d := startQuietDaemon(t, cfg)
	l := startLoad(t, d.httpAddr, "redisdown", drillSenders, drillPool, drillPace)
	time.Sleep(2 * time.Second)
	redis.stop()
	stopped := time.Now()
	time.Sleep(8 * time.Second)
	ready := readyDetail(t, d.opsAddr)
	redis.start()
	during := l.acksBetween(stopped, time.Now())
	t.Logf("Redis down for 8s: %d acks before, %d while down", l.acksBetween(time.Time{}, stopped), during)
	time.Sleep(3 * time.Second)
	l.finish(10 * time.Second)
	if during < 50 {
		t.Errorf("only %d messages acked in the 8 s without Redis: ingest must go on without it", during)
	}
	var checks map[string]struct {
		OK bool `json:"ok"`
	}
	if err := json.Unmarshal([]byte(ready), &checks); err != nil || checks["redis"].OK || !checks["postgres"].OK {
		t.Errorf("/readyz while Redis was down: %s (%v); want redis failing, postgres ok", ready, err)
	}
	verifyDrill(t, pgURL, brokers, l, receivers, false)
}

// Drill 4: the Kafka broker refuses every request (closing the
// connection) for 30 s under load. Ingest, processing and deliveries go
// on; the events wait in the outbox and all reach the stream afterwards,
// in order per customer.
func TestDrillKafkaDownFor30Seconds(t *testing.T) {
	cluster, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	var state atomic.Int32 // 0 before the outage, 1 during, 2 after
	cluster.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		switch state.Load() {
		case 1:
			cluster.KeepControl()
			return nil, fmt.Errorf("broker down (drill)"), true // closes the connection
		case 2:
			cluster.DropControl() // back to normal, without a hook on every request
		}
		return nil, nil, false
	})
	rc := okReceiver(t)
	cfg := testConfig(t, pgURL, brokers)
	cfg.Kafka.WriteTimeout = 2 * time.Second
	cfg.Destinations = map[string]configs.DestinationConfig{"healthy": allEvents(webhookDestination(rc.URL, 2*time.Second))}
	d := startQuietDaemon(t, cfg)
	// 30 s of load: a slower pace keeps the backlog drainable within
	// the drill's minute (a customer's deliveries go one at a time).
	l := startLoad(t, d.httpAddr, "kafkadown", drillSenders/2, drillPool, 8*drillPace)
	time.Sleep(2 * time.Second)
	state.Store(1)
	outage := time.Now()
	time.Sleep(30 * time.Second)
	backlog := queryInt(t, pgURL, `SELECT count(*) FROM outbox WHERE published_at IS NULL`)
	ready := readyDetail(t, d.opsAddr)
	state.Store(2)
	during := l.acksBetween(outage, time.Now())
	t.Logf("broker down for %s: %d acks during it, %d events waited in the outbox", time.Since(outage).Round(100*time.Millisecond), during, backlog)
	time.Sleep(2 * time.Second)
	l.finish(10 * time.Second)
	if backlog == 0 || during < 100 {
		t.Fatalf("%d events waited, %d acks during the outage: the drill proves nothing", backlog, during)
	}
	if !strings.Contains(ready, `"unpublished_events"`) {
		t.Errorf("/readyz during the outage does not show the relay backlog: %s", ready)
	}
	verifyDrill(t, pgURL, brokers, l, map[string]*receiver{"healthy": rc}, false)
}

// Drill 5: two destinations are dead for the whole run (one answers 503,
// one refuses connections) beside a healthy one. The healthy one gets
// every event exactly once and ingest is not held back: the ack rate is
// logged beside a run where all three destinations are healthy (the same
// deliveries to write), compared by eye, never asserted: timings on a
// shared machine are noise.
func TestDrillDeadDestinationsForTheWholeRun(t *testing.T) {
	run := func(t *testing.T, dead bool) float64 {
		_, brokers := testsvc.Kafka(t)
		pgURL := pgtest.URL(t)
		cfg := testConfig(t, pgURL, brokers)
		healthy := okReceiver(t)
		others := map[string]*receiver{"healthy": healthy, "second": okReceiver(t), "third": okReceiver(t)}
		urls := map[string]string{"healthy": healthy.URL, "second": others["second"].URL, "third": others["third"].URL}
		var unavailable *receiver
		if dead {
			unavailable = newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			})
			others = map[string]*receiver{"healthy": healthy}
			urls = map[string]string{"healthy": healthy.URL, "unavailable": unavailable.URL,
				"refused": fmt.Sprintf("http://127.0.0.1:%d/hook", testsvc.FreePort(t))} // nothing listens there
		}
		cfg.Destinations = map[string]configs.DestinationConfig{}
		for name, u := range urls {
			dc := allEvents(webhookDestination(u, 2*time.Second))
			if name == "unavailable" || name == "refused" {
				dc.Delivery = pipeline.DefaultDeliveryConfig() // the production schedule and breaker
			}
			cfg.Destinations[name] = dc
		}
		d := startQuietDaemon(t, cfg)
		l := startLoad(t, d.httpAddr, "dead", drillSenders, drillPool, drillPace)
		time.Sleep(6 * time.Second)
		l.finish(10 * time.Second)
		rate := float64(l.accepted.Load()) / l.took.Seconds()
		t.Logf("longest wait between two acks: %s", l.longestAckGap().Round(time.Millisecond))
		verifyDrill(t, pgURL, brokers, l, others, false)
		if dead {
			if n, _ := unavailable.delivered(); n != 0 || unavailable.requests() == 0 {
				t.Errorf("the 503 destination: %d requests, %d acknowledged; want some, none", unavailable.requests(), n)
			}
			if n := queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE destination IN ('unavailable', 'refused') AND status = 'delivered'`); n != 0 {
				t.Errorf("%d deliveries to a dead destination recorded as delivered", n)
			}
			attempted := queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE destination = 'refused' AND attempts > 0`)
			t.Logf("dead destinations: %d requests answered 503; %d deliveries to the refusing one attempted (then the breaker opened)",
				unavailable.requests(), attempted)
		}
		return rate
	}
	var healthy, dead float64
	t.Run("three healthy destinations", func(t *testing.T) { healthy = run(t, false) })
	t.Run("one healthy and two dead", func(t *testing.T) { dead = run(t, true) })
	t.Logf("ingest: %.0f acks/s with three healthy destinations, %.0f acks/s with two of them dead (logged, not asserted)", healthy, dead)
}
