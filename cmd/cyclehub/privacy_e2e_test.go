package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// An erased person leaves no trace of their email, phone or name in any
// column of any table, the stream is told (erased.v1, ids only), and a
// later webhook about them is acknowledged but recreates nobody.
func TestAnErasedPersonLeavesNoTraceAndIsNotRecreated(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	d := startDaemon(t, testConfig(t, pgURL, brokers))
	const form = "email=Erica.Apagada%40Example.com&full_name=%C3%89rica+Apagada&company=Apagada+Ltda&phone=%2B55+11+91234-5678"
	if code, out := d.post("/hooks/form", "application/x-www-form-urlencoded", form); code != http.StatusAccepted {
		t.Fatalf("form: %d %v", code, out)
	}
	c := d.waitCustomer("erica.apagada@example.com")
	id := c["id"].(string)
	// A second interaction, known by the phone only.
	if code, _ := d.post("/hooks/form", "application/json", `{"phone":"+5511912345678","message":"me liga"}`); code != http.StatusAccepted {
		t.Fatalf("second form: %d", code)
	}
	waitQuery(t, pgURL, `SELECT count(*) FROM timeline`, 2)

	req, _ := http.NewRequest(http.MethodDelete, "http://"+d.httpAddr+"/v1/customers/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if code, out := do(t, req); code != http.StatusOK || out["status"] != "erased" {
		t.Fatalf("erase: %d %v", code, out)
	}
	if code, out := d.admin("/v1/customers/" + id); code != http.StatusGone {
		t.Fatalf("an erased customer: %d %v, want 410", code, out)
	}
	if code, _ := d.customer("erica.apagada@example.com"); code != http.StatusNotFound {
		t.Fatalf("lookup by the erased email: %d, want 404", code)
	}

	for _, needle := range []string{"apagada", "Apagada", "912345678", "91234-5678", "Érica", "%C3%89rica"} {
		for _, hit := range scanEveryColumn(t, pgURL, needle) {
			t.Errorf("%q is still in %s", needle, hit)
		}
	}
	if n := queryInt(t, pgURL, `SELECT count(*) FROM outbox WHERE customer_id = $1 AND type = 'cyclehub.customer.erased.v1'`, id); n != 1 {
		t.Errorf("%d erased.v1 events, want 1", n)
	}

	// The same person writes again: acknowledged, dropped, raw payload wiped.
	if code, out := d.post("/hooks/form", "application/x-www-form-urlencoded", form+"&message=again"); code != http.StatusAccepted {
		t.Fatalf("a later webhook: %d %v", code, out)
	}
	waitQuery(t, pgURL, `SELECT count(*) FROM inbox WHERE status = 'suppressed'`, 1)
	if code, _ := d.customer("erica.apagada@example.com"); code != http.StatusNotFound {
		t.Fatalf("the erased person was recreated")
	}
	for _, hit := range scanEveryColumn(t, pgURL, "apagada") {
		t.Errorf("after the later webhook, still in %s", hit)
	}
}

// scanEveryColumn returns "table.column" for every text-like column of
// every table in which needle appears (text, json, arrays and bytes).
func scanEveryColumn(t *testing.T, pgURL, needle string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `
		SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea', 'ARRAY')`)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, name, typ string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.name, &c.typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) < 10 {
		t.Fatalf("only %d columns to scan", len(cols))
	}
	var hits []string
	for _, c := range cols {
		expr := fmt.Sprintf("%q::text", c.name)
		if c.typ == "bytea" {
			expr = fmt.Sprintf("encode(%q, 'escape')", c.name)
		}
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM %q WHERE position(lower($1) IN lower(%s)) > 0`, c.table, expr)
		if err := conn.QueryRow(ctx, q, needle).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n > 0 {
			hits = append(hits, c.table+"."+c.name)
		}
	}
	return hits
}

func waitQuery(t *testing.T, pgURL, sql string, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for queryInt(t, pgURL, sql) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s is %d, want %d", sql, queryInt(t, pgURL, sql), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Erasure reaches every destination, and the deliveries keep nothing of
// the person: delivered and queued ones are deleted, one in flight is
// cancelled (deleted when it ends, never retried) and erased.v1 waits
// behind it; erased.v1 carries no contact to a destination that does not
// erase by contact.
func TestErasureReachesDestinationsWithoutThePersonsData(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	cfg := testConfig(t, pgURL, brokers)
	release := make(chan struct{})
	var released atomic.Bool
	ok := newReceiver(t, func(int, http.ResponseWriter, *http.Request) {})
	failing := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	hung := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		if !released.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	})
	defer func() {
		if released.CompareAndSwap(false, true) {
			close(release)
		}
	}()
	everything := mapping.Subscription{}
	cfg.Destinations = map[string]configs.DestinationConfig{
		"ok": webhookDestination(ok.URL, 2*time.Second), "failing": webhookDestination(failing.URL, 2*time.Second),
		"hung": webhookDestination(hung.URL, 30*time.Second),
	}
	for name, dc := range cfg.Destinations {
		dc.Subscribe = everything
		dc.Delivery.Lease = 40 * time.Second
		cfg.Destinations[name] = dc
	}
	d := startDaemon(t, cfg)
	if code, out := d.post("/hooks/form", "application/json", `{"email":"ana.sumida@example.com","first_name":"Quillon"}`); code != http.StatusAccepted {
		t.Fatalf("form: %d %v", code, out)
	}
	id := d.waitCustomer("ana.sumida@example.com")["id"].(string)
	waitFor(t, "a delivery of each kind", 10*time.Second, func() bool {
		n, _ := ok.delivered()
		return n > 0 && failing.requests() > 0 && hung.requests() > 0
	})

	req, _ := http.NewRequest(http.MethodDelete, "http://"+d.httpAddr+"/v1/customers/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if code, out := do(t, req); code != http.StatusOK {
		t.Fatalf("erase: %d %v", code, out)
	}
	for _, needle := range []string{"sumida", "quillon"} {
		for _, hit := range scanEveryColumn(t, pgURL, needle) {
			t.Errorf("%q is still in %s", needle, hit)
		}
	}
	const erased = `SELECT count(*) FROM deliveries WHERE event_type = 'cyclehub.customer.erased.v1'`
	if n := queryInt(t, pgURL, erased+` AND contact IS NULL`); n != 3 {
		t.Errorf("%d erased.v1 deliveries without a contact, want one per destination (3)", n)
	}
	if n := queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE event_type <> 'cyclehub.customer.erased.v1' AND NOT cancelled`); n != 0 {
		t.Errorf("%d deliveries of the person's events are left: %v", n, queryRows(t, pgURL,
			`SELECT destination, event_type, status, attempts, created_at FROM deliveries WHERE event_type <> 'cyclehub.customer.erased.v1' AND NOT cancelled`))
	}
	waitFor(t, "erased.v1 at the healthy destination", 10*time.Second, func() bool {
		return queryInt(t, pgURL, erased+` AND destination = 'ok' AND status = 'delivered'`) == 1
	})
	// The hung destination's erasure waits behind the attempt in flight.
	time.Sleep(300 * time.Millisecond)
	if n := queryInt(t, pgURL, erased+` AND destination = 'hung' AND status = 'pending'`); n != 1 {
		t.Errorf("the hung destination's erasure went ahead of the attempt in flight")
	}
	released.Store(true)
	close(release)
	waitFor(t, "erased.v1 at the hung destination, the cancelled attempt gone", 20*time.Second, func() bool {
		return queryInt(t, pgURL, erased+` AND destination = 'hung' AND status = 'delivered'`) == 1 &&
			queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE cancelled`) == 0
	})
}
