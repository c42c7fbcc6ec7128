package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// postUpdates has senders post form updates for people (emails
// stream-<p>@example.com) until stop closes, and returns how many were
// acked.
func postUpdates(addr string, people, senders int, stop <-chan struct{}) *atomic.Int64 {
	var acked atomic.Int64
	client := &http.Client{Timeout: 5 * time.Second}
	for w := range senders {
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf("email=stream-%d%%40example.com&job_title=title-%d-%d", (w+i*senders)%people, w, i)
				resp, err := client.Post("http://"+addr+"/hooks/form", "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					time.Sleep(20 * time.Millisecond) // the daemon is gone or restarting
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					acked.Add(1)
				}
			}
		}()
	}
	return &acked
}

// waitDrained waits until every stored request is processed and every
// event published.
func waitDrained(t *testing.T, pgURL string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for queryInt(t, pgURL, `SELECT count(*) FROM inbox WHERE status = 'pending'`)+
		queryInt(t, pgURL, `SELECT count(*) FROM outbox WHERE published_at IS NULL`) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not drained within %s: %d pending requests, %d unpublished events", within,
				queryInt(t, pgURL, `SELECT count(*) FROM inbox WHERE status = 'pending'`),
				queryInt(t, pgURL, `SELECT count(*) FROM outbox WHERE published_at IS NULL`))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Two daemons share the stream's ranges; one is killed (SIGKILL) while
// its relay publishes under load, and the other takes its ranges over
// (PostgreSQL drops a dead session's locks); the killed one is restarted.
// On the stream no customer's sequence has a gap, and every repeated
// event is the same event (same id), never another.
func TestKillingTheRelayMidBatchLeavesNoGapAndOnlyTrueDuplicates(t *testing.T) {
	bin := buildDaemon(t)
	pgURL := pgtest.URL(t)
	cluster, brokers := testsvc.Kafka(t)
	// A slow broker keeps a publish in flight most of the time, so the
	// kill lands mid-batch.
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		time.Sleep(15 * time.Millisecond)
		return nil, nil, false
	})
	p1 := startProcess(t, bin, pgURL, brokers)
	p2 := startProcess(t, bin, pgURL, brokers)
	stop := make(chan struct{})
	acked1 := postUpdates(p1.httpAddr, 30, 4, stop)
	acked2 := postUpdates(p2.httpAddr, 30, 4, stop)
	for start := time.Now(); rangesLed(t, p2.opsAddr) != 2; {
		if time.Since(start) > 15*time.Second {
			t.Fatalf("the second daemon leads %d of 4 ranges after 15s, want its half", rangesLed(t, p2.opsAddr))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // both publish for a while
	if err := p1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p1.cmd.Wait()
	killed := time.Now()
	published := queryInt(t, pgURL, `SELECT count(*) FROM outbox WHERE published_at IS NOT NULL`)
	for rangesLed(t, p2.opsAddr) != 4 {
		if time.Since(killed) > 15*time.Second {
			t.Fatalf("the surviving daemon leads %d of 4 ranges 15s after the kill", rangesLed(t, p2.opsAddr))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the surviving daemon led every range %s after the kill", time.Since(killed).Round(time.Millisecond))
	startProcess(t, bin, pgURL, brokers)
	time.Sleep(time.Second)
	close(stop)
	if published == 0 || acked1.Load()+acked2.Load() < 50 {
		t.Fatalf("%d events published and %d requests acked before the kill: the test proves nothing", published, acked1.Load()+acked2.Load())
	}
	waitDrained(t, pgURL, 60*time.Second)
	seen := testsvc.CheckStream(t, brokers, "cyclehub.lifecycle.v1", queryInt(t, pgURL, `SELECT count(*) FROM outbox`))
	if len(seen) != 30 {
		t.Fatalf("events for %d customers, want 30", len(seen))
	}
}

// rangesLed reads how many outbox ranges a daemon's relay leads from its
// /readyz detail.
func rangesLed(t *testing.T, opsAddr string) int {
	t.Helper()
	var checks map[string]struct {
		Detail struct {
			RangesLed int `json:"ranges_led"`
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(readyDetail(t, opsAddr)), &checks); err != nil {
		t.Fatal(err)
	}
	return checks["relay"].Detail.RangesLed
}

// The broker refuses every request for 30 s while webhooks keep coming:
// ingest and processing go on, the backlog waits in the outbox (and shows
// in /readyz), and once the broker is back every event arrives, in order
// per customer.
func TestABrokerOutageOf30SecondsUnderLoadLosesNothing(t *testing.T) {
	cluster, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	var down atomic.Bool
	cluster.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if down.Load() {
			return nil, fmt.Errorf("broker down (test)"), true
		}
		return nil, nil, false
	})
	cfg := testConfig(t, pgURL, brokers)
	cfg.Kafka.WriteTimeout = 2 * time.Second
	d := startDaemon(t, cfg)
	stop := make(chan struct{})
	acked := postUpdates(d.httpAddr, 40, 4, stop)
	time.Sleep(500 * time.Millisecond)
	down.Store(true)
	outage := time.Now()
	time.Sleep(30 * time.Second)
	backlog := queryInt(t, pgURL, `SELECT count(*) FROM outbox WHERE published_at IS NULL`)
	ready := readyDetail(t, d.opsAddr)
	down.Store(false)
	t.Logf("outage of %s: %d events waited in the outbox", time.Since(outage).Round(time.Second), backlog)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	if backlog == 0 {
		t.Fatal("nothing waited during the outage: the test proves nothing")
	}
	if !strings.Contains(ready, `"unpublished_events"`) {
		t.Errorf("/readyz during the outage does not show the relay backlog: %s", ready)
	}
	waitDrained(t, pgURL, 60*time.Second)
	seen := testsvc.CheckStream(t, brokers, d.cfg.Kafka.Topic, queryInt(t, pgURL, `SELECT count(*) FROM outbox`))
	if len(seen) != 40 {
		t.Fatalf("events for %d customers, want 40", len(seen))
	}
	t.Logf("%d webhooks acked under load; every event arrived in order", acked.Load())
}

func readyDetail(t *testing.T, opsAddr string) string {
	t.Helper()
	resp, err := http.Get("http://" + opsAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	b, _ := json.Marshal(v["checks"])
	return string(b)
}

// The snapshot topic holds each customer's latest record, without direct
// identifiers, and a tombstone once the person is erased.
func TestTheSnapshotTopicHoldsTheLatestRecordAndATombstoneOnErasure(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	cfg := testConfig(t, pgURL, brokers)
	cfg.Kafka.SnapshotTopic = "cyclehub.customers.v1"
	d := startDaemon(t, cfg)
	for _, body := range []string{
		`{"email":"snap@acme-software.com","name":"Sam Snap","job_title":"VP Marketing","form_name":"Request a demo"}`,
		`{"email":"snap@acme-software.com","company":"Acme Software"}`,
	} {
		if code, out := d.post("/hooks/form", "application/json", body); code != http.StatusAccepted {
			t.Fatalf("post: %d %v", code, out)
		}
	}
	id := d.waitLifecycle("snap@acme-software.com", "company", func(c map[string]any) bool {
		return c["traits"].(map[string]any)["company"] == "Acme Software"
	})["id"].(string)
	waitDrained(t, pgURL, 20*time.Second)

	latest := func() (value []byte, version string, ok bool) {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, GroupTopics: []string{"cyclehub.customers.v1"},
			GroupID: fmt.Sprintf("snap-%d", time.Now().UnixNano()), StartOffset: kafka.FirstOffset, MaxWait: 50 * time.Millisecond})
		defer r.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				return value, version, ok
			}
			if string(m.Key) != id {
				continue
			}
			value, ok = m.Value, true
			for _, h := range m.Headers {
				if h.Key == "version" {
					version = string(h.Value)
				}
			}
		}
	}
	value, version, ok := latest()
	if !ok {
		t.Fatal("no snapshot of the customer")
	}
	var snap map[string]any
	if err := json.Unmarshal(value, &snap); err != nil {
		t.Fatal(err)
	}
	current := queryInt(t, pgURL, `SELECT version FROM customers WHERE id = $1`, id)
	if snap["stage"] != "marketingqualifiedlead" || snap["traits"].(map[string]any)["company"] != "Acme Software" ||
		version != fmt.Sprint(current) || snap["version"] != float64(current) {
		t.Fatalf("latest snapshot (version header %s, record version %d): %s", version, current, value)
	}
	if strings.Contains(string(value), "snap@acme-software.com") || strings.Contains(string(value), "Sam") {
		t.Fatalf("the snapshot carries direct identifiers: %s", value)
	}

	req, _ := http.NewRequest(http.MethodDelete, "http://"+d.httpAddr+"/v1/customers/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if code, out := do(t, req); code != http.StatusOK {
		t.Fatalf("erase: %d %v", code, out)
	}
	waitDrained(t, pgURL, 20*time.Second)
	if value, _, ok := latest(); !ok || len(value) != 0 {
		t.Fatalf("after erasure the latest snapshot is %q, want a tombstone", value)
	}
}

// A consumer written only from the stream contract (cmd/lifecycle-consumer,
// which imports nothing of CycleHub's) rebuilds every customer exactly:
// version, stage, status, band and stage history, merges and erasures.
func TestAConsumerWrittenFromTheContractRebuildsEveryCustomer(t *testing.T) {
	d, pgURL, brokers := lifecycleDaemon(t)
	vera := "vera@acme-software.com"
	d.send("form", `{"email":"Vera@Acme-Software.com","job_title":"VP Marketing","form_name":"Request a demo"}`)
	d.waitLifecycle(vera, "MQL", stageIs("marketingqualifiedlead"))
	d.send("events", track("Deal Won", vera))
	d.waitLifecycle(vera, "customer", stageIs("customer"))
	d.send("typeform", npsAnswer(vera, 10))
	d.send("form", `{"email":"li@acme-software.com","referred_by":"vera@acme-software.com"}`)
	d.waitLifecycle(vera, "evangelist", stageIs("evangelist"))
	ops := "ops@bigco.example.org"
	d.send("events", track("Order Completed", ops))
	d.waitLifecycle(ops, "customer", stageIs("customer"))
	for _, tid := range []string{"801", "802", "803"} {
		d.send("zendesk", `{"event":"ticket_created","ticket":{"id":"`+tid+`","subject":"Down","status":"open","priority":"urgent"},"requester":{"email":"`+ops+`"}}`)
	}
	d.send("typeform", npsAnswer(ops, 3))
	d.waitLifecycle(ops, "at risk", func(c map[string]any) bool { return c["customer_status"] == "at_risk" })
	// Two records of one person, merged; and a person erased.
	d.send("form", `{"email":"mia@example.org","job_title":"CTO"}`)
	d.send("form", `{"phone":"+14155550142","form_name":"Request a demo"}`)
	waitQuery(t, pgURL, `SELECT count(*) FROM identities WHERE value IN ('mia@example.org', '+14155550142')`, 2)
	d.send("form", `{"email":"mia@example.org","phone":"+1 415 555 0142"}`)
	waitQuery(t, pgURL, `SELECT count(*) FROM customers WHERE merged_into IS NOT NULL`, 1)
	d.send("form", `{"email":"gone@example.org"}`)
	gone := d.waitCustomer("gone@example.org")["id"].(string)
	req, _ := http.NewRequest(http.MethodDelete, "http://"+d.httpAddr+"/v1/customers/"+gone, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if code, out := do(t, req); code != http.StatusOK {
		t.Fatalf("erase: %d %v", code, out)
	}
	waitDrained(t, pgURL, 30*time.Second)

	bin := filepath.Join(t.TempDir(), "lifecycle-consumer")
	if out, err := exec.Command("go", "build", "-o", bin, "../lifecycle-consumer").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "-brokers", brokers[0], "-topic", d.cfg.Kafka.Topic, "-once").Output()
	if err != nil {
		t.Fatalf("lifecycle-consumer: %v\n%s", err, out)
	}
	var rebuilt []struct {
		ID         string `json:"customer_id"`
		Version    int64  `json:"version"`
		Stage      string `json:"stage"`
		Status     string `json:"customer_status"`
		Band       string `json:"band"`
		MergedInto string `json:"merged_into"`
		Erased     bool   `json:"erased"`
		History    []struct {
			Stage string `json:"stage"`
		} `json:"stage_history"`
	}
	if err := json.Unmarshal(out, &rebuilt); err != nil {
		t.Fatalf("consumer output: %v\n%s", err, out)
	}
	type record struct {
		Version                         int64
		Stage, Status, Band, MergedInto string
		Erased                          bool
		History                         string
	}
	want := map[string]record{}
	conn := func(sql string) [][]any {
		t.Helper()
		return queryRows(t, pgURL, sql)
	}
	for _, r := range conn(`
		SELECT c.id::text, c.version, coalesce(c.stage, ''), coalesce(c.customer_status, ''), coalesce(c.scores->>'band', ''),
		       coalesce(c.merged_into::text, ''), c.erased_at IS NOT NULL,
		       coalesce((SELECT string_agg(h.stage, ',' ORDER BY h.entered_at, h.id) FROM stage_history h WHERE h.customer_id = c.id), '')
		FROM customers c`) {
		want[r[0].(string)] = record{Version: r[1].(int64), Stage: r[2].(string), Status: r[3].(string), Band: r[4].(string),
			MergedInto: r[5].(string), Erased: r[6].(bool), History: r[7].(string)}
	}
	if len(rebuilt) != len(want) {
		t.Fatalf("the consumer rebuilt %d customers, the store has %d", len(rebuilt), len(want))
	}
	merged := queryString(t, pgURL, `SELECT merged_into::text FROM customers WHERE merged_into IS NOT NULL`)
	for _, c := range rebuilt {
		w := want[c.ID]
		var stages []string
		for _, s := range c.History {
			stages = append(stages, s.Stage)
		}
		got := record{Version: c.Version, Stage: c.Stage, Status: c.Status, Band: c.Band, MergedInto: c.MergedInto, Erased: c.Erased,
			History: strings.Join(stages, ",")}
		if c.ID == merged || w.MergedInto != "" || w.Erased {
			// A merge moves the merged record's stints to the survivor in
			// the store; on the stream they stay on their own key. An
			// erased record's history is gone from the store.
			got.History, w.History = "", ""
		}
		if w.Erased {
			got.Stage, got.Status, got.Band = "", "", ""
			w.Stage, w.Status, w.Band = "", "", ""
		}
		if got != w {
			t.Errorf("customer %s\n rebuilt %+v\n   store %+v", c.ID, got, w)
		}
	}
}
