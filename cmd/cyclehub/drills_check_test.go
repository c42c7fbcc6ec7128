//go:build drills

package main

import (
	"net/url"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/mapping"
)

// The checks every drill ends with (drills_test.go): the record, the
// stream and the deliveries.

// inboxRow is one stored form request.
type inboxRow struct {
	id                              int64
	requestID, status, token, email string
}

// drillResult is what checkRecord found, for the later checks.
type drillResult struct {
	customers map[string]int64 // live customer id → version
	events    int
}

// checkRecord checks the record after a drill, once everything is
// processed: every acked message was stored once and processed once (one
// inbox row, status done, one timeline entry), a message never acked was
// stored at most once, every person is exactly one customer whose
// timeline has one entry per stored message, and every customer's events
// carry versions 1..version with no gap or repeat.
func checkRecord(t *testing.T, pgURL string, l *drillLoad) drillResult {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.unexpected {
		t.Errorf("sender: %s", u)
	}
	byToken := map[string][]inboxRow{}
	byID := map[int64]inboxRow{}
	for _, r := range queryRows(t, pgURL, `SELECT id, request_id::text, status, convert_from(body, 'UTF8') FROM inbox WHERE source = 'form'`) {
		q, err := url.ParseQuery(r[3].(string))
		if err != nil {
			t.Fatalf("inbox %d: %v", r[0], err)
		}
		row := inboxRow{id: r[0].(int64), requestID: r[1].(string), status: r[2].(string), token: q.Get("job_title"), email: q.Get("email")}
		byToken[row.token] = append(byToken[row.token], row)
		byID[row.id] = row
	}
	errs := 0
	errorf := func(format string, args ...any) {
		t.Helper()
		if errs++; errs <= 20 {
			t.Errorf(format, args...)
		}
	}
	acked, known := 0, map[string]bool{}
	for _, m := range l.msgs {
		known[m.token] = true
		rows := byToken[m.token]
		switch {
		case m.acked && len(rows) == 0:
			errorf("LOST: message %s was acked (request %q, %d attempts, last: %s) and is not in the inbox", m.token, m.requestID, m.attempts, m.last)
		case len(rows) > 1:
			errorf("DOUBLE: message %s (acked %v, %d attempts) is stored %d times", m.token, m.acked, m.attempts, len(rows))
		case m.acked && m.requestID != "" && rows[0].requestID != m.requestID:
			errorf("message %s was acked as request %s but stored as %s", m.token, m.requestID, rows[0].requestID)
		}
		if m.acked {
			acked++
		}
	}
	perEmail := map[string]int{}
	for token, rows := range byToken {
		if !known[token] {
			errorf("the inbox holds %d requests %q no sender sent", len(rows), token)
		}
		for _, r := range rows {
			if r.status != "done" {
				errorf("request %s (%s) is %s, want done", r.requestID, token, r.status)
			}
			perEmail[r.email]++
		}
	}

	// One timeline entry per stored request.
	timeline := map[int64]int64{}
	for _, r := range queryRows(t, pgURL, `SELECT inbox_id, count(*) FROM timeline GROUP BY inbox_id`) {
		timeline[r[0].(int64)] = r[1].(int64)
	}
	for id, r := range byID {
		if n := timeline[id]; n != 1 {
			errorf("request %s (%s) has %d timeline entries, want 1", r.requestID, r.token, n)
		}
	}
	for id := range timeline {
		if _, ok := byID[id]; !ok {
			errorf("timeline entries for inbox id %d, which is no stored form request", id)
		}
	}

	// One customer per person, its timeline one entry per stored request.
	res := drillResult{customers: map[string]int64{}}
	for _, r := range queryRows(t, pgURL, `SELECT id::text, version, merged_into IS NOT NULL, erased_at IS NOT NULL FROM customers`) {
		if r[2].(bool) || r[3].(bool) {
			errorf("customer %s was merged or erased: one person became two records", r[0])
			continue
		}
		res.customers[r[0].(string)] = r[1].(int64)
	}
	owner := map[string]string{} // email → customer
	emailsOf := map[string]int{}
	for _, r := range queryRows(t, pgURL, `SELECT value, customer_id::text FROM identities WHERE type = 'email'`) {
		owner[r[0].(string)] = r[1].(string)
		emailsOf[r[1].(string)]++
	}
	perCustomer := map[string]int64{}
	for _, r := range queryRows(t, pgURL, `SELECT customer_id::text, count(*) FROM timeline GROUP BY customer_id`) {
		perCustomer[r[0].(string)] = r[1].(int64)
	}
	for email, n := range perEmail {
		c, ok := owner[email]
		if !ok {
			errorf("%s sent %d stored requests and is no customer", email, n)
			continue
		}
		if emailsOf[c] != 1 {
			errorf("customer %s has %d email identities, want 1", c, emailsOf[c])
		}
		if perCustomer[c] != int64(n) {
			errorf("customer %s (%s) has %d timeline entries for %d stored requests", c, email, perCustomer[c], n)
		}
	}
	if len(res.customers) != len(perEmail) {
		errorf("%d customers for %d people", len(res.customers), len(perEmail))
	}

	// Versions gapless per customer: its events are sequences 1..version.
	events := map[string]bool{}
	for _, r := range queryRows(t, pgURL, `SELECT customer_id::text, count(*), count(DISTINCT sequence), min(sequence), max(sequence) FROM outbox GROUP BY customer_id`) {
		c, n, distinct, lo, hi := r[0].(string), r[1].(int64), r[2].(int64), r[3].(int64), r[4].(int64)
		events[c] = true
		res.events += int(n)
		if v := res.customers[c]; n != v || distinct != n || lo != 1 || hi != v {
			errorf("customer %s: version %d, events %d (%d distinct sequences, %d..%d): want 1..version once each", c, v, n, distinct, lo, hi)
		}
	}
	for c := range res.customers {
		if !events[c] {
			errorf("customer %s has no event", c)
		}
	}
	if errs > 20 {
		t.Errorf("... and %d more problems", errs-20)
	}
	if acked == 0 {
		t.Fatal("no message was acked: the drill proves nothing")
	}
	t.Logf("record: %d acked messages, %d stored requests, %d people = %d customers, %d events",
		acked, len(byID), len(perEmail), len(res.customers), res.events)
	return res
}

// checkStreamOf checks the stream holds every event at least once, in
// order with no gap per customer, and nothing for anyone else.
func checkStreamOf(t *testing.T, brokers []string, res drillResult) {
	t.Helper()
	seen := testsvc.CheckStream(t, brokers, "cyclehub.lifecycle.v1", res.events)
	if len(seen) != len(res.customers) {
		t.Errorf("events for %d keys on the stream, want the %d customers", len(seen), len(res.customers))
	}
	for c, seqs := range seen {
		if v, ok := res.customers[c]; !ok || int64(len(seqs)) != v {
			t.Errorf("customer %s: %d events on the stream, version %d", c, len(seqs), v)
		}
	}
}

// waitDelivered waits until every delivery to dest is delivered.
func waitDelivered(t *testing.T, pgURL, dest string, events int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE destination = $1 AND status = 'delivered'`, dest)
		if n == events {
			return
		}
		if time.Now().After(deadline) {
			for _, r := range queryRows(t, pgURL, `SELECT status, count(*), max(attempts), max(last_error) FROM deliveries WHERE destination = $1 GROUP BY status`, dest) {
				t.Log(r...)
			}
			t.Fatalf("%s: %d of %d events delivered within %s", dest, n, events, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkDelivered checks that the receiver acknowledged every event under
// its webhook-id (destination:event id): exactly once, or with atLeast at
// least once (a daemon killed after the destination's yes and before it
// recorded it sends again, with the same webhook-id, which a receiver
// deduplicates on).
func checkDelivered(t *testing.T, pgURL, dest string, rc *receiver, atLeast bool) {
	t.Helper()
	want := map[string]bool{}
	for _, r := range queryRows(t, pgURL, `SELECT $1::text || ':' || event_id::text FROM outbox`, dest) {
		want[r[0].(string)] = true
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	bad, again := 0, 0
	for id := range want {
		n := rc.ok[id]
		if n > 1 {
			again++
		}
		if n == 0 || (n > 1 && !atLeast) {
			if bad++; bad <= 10 {
				t.Errorf("%s: event %s acknowledged %d times (%d requests), want once", dest, id, n, rc.seen[id])
			}
		}
	}
	for id := range rc.ok {
		if !want[id] {
			t.Errorf("%s: acknowledged %s, which is no event", dest, id)
		}
	}
	requests := 0
	for _, n := range rc.seen {
		requests += n
	}
	t.Logf("%s: %d events acknowledged, %d of them more than once (%d requests)", dest, len(want)-bad, again, requests)
}

// allEvents is a destination subscribed to every event type.
func allEvents(d configs.DestinationConfig) configs.DestinationConfig {
	d.Subscribe = mapping.Subscription{}
	return d
}
