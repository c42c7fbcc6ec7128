package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
)

// journeySpec reads a small JSON contract with every kind of identifier,
// so tests can say exactly which identifiers each event carries.
func journeySpec(t *testing.T) *mapping.Compiled {
	t.Helper()
	c, errs := (&mapping.Spec{
		Provider: "journey",
		Body:     mapping.BodySpec{Format: "json"},
		Dedup:    mapping.ValueSpec{Path: "id"},
		Event: mapping.EventSpec{
			Type:       mapping.ValueSpec{Path: "type", Default: "form_submitted"},
			OccurredAt: mapping.ValueSpec{Path: "at", Transforms: []string{"time"}},
		},
		Identities: map[string]mapping.ValueSpec{
			"user_id": {Path: "uid"}, "email": {Path: "email"}, "phone": {Path: "phone"}, "external_id": {Path: "ext"},
		},
		Traits: map[string]mapping.ValueSpec{"company": {Path: "company"}, "job_title": {Path: "title"}, "referred_by": {Path: "referred_by"}},
		Properties: map[string]mapping.ValueSpec{
			"ticket_id": {Path: "ticket_id"}, "ticket_subject": {Path: "ticket_subject"}, "ticket_status": {Path: "ticket_status"},
			"nps_score": {Path: "nps", Transforms: []string{"nps"}}, "response_id": {Path: "response_id"},
			"ticket_priority": {Path: "priority"}, "form_name": {Path: "form_name"},
		},
		Consent: map[string]mapping.ConsentSpec{"email_marketing": {ValueSpec: mapping.ValueSpec{Path: "opt_in"}, Method: "form_checkbox"}},
	}).Compile()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return c
}

// journeyHarness runs the pipeline with journey sources (form, zendesk,
// typeform, hubspot).
func journeyHarness(t *testing.T, cfg pipeline.Config) *harness {
	t.Helper()
	sources := map[string]mapping.SourceSpec{}
	for _, s := range []string{"form", "zendesk", "typeform", "hubspot"} {
		sources[s] = mapping.SourceSpec{Provider: "journey"}
	}
	h, _ := newHarness(t, mapping.NewMapper(sources, map[string]*mapping.Compiled{"journey": journeySpec(t)}), cfg)
	return h
}

// post stores one event of source; fields become its JSON body.
func (h *harness) post(source string, fields map[string]any) {
	h.t.Helper()
	if _, ok := fields["id"]; !ok {
		fields["id"] = uuid.NewString()
	}
	body, _ := json.Marshal(fields)
	if _, err := h.writer.Append(context.Background(), &mapping.RawRequest{
		RequestID: uuid.NewString(), Source: source, Provider: "journey", Method: "POST", Path: "/hooks/" + source,
		Headers: map[string]string{"Content-Type": "application/json"}, Body: body, ReceivedAt: time.Now().UTC(),
		DedupKey: fmt.Sprint(fields["id"]),
	}); err != nil {
		h.t.Fatal(err)
	}
}

// settle waits until every stored request is processed.
func (h *harness) settle() {
	h.t.Helper()
	h.waitFor("processing", `SELECT count(*) FROM inbox WHERE status = 'pending'`, 0)
}

func (h *harness) str(sql string, args ...any) string {
	h.t.Helper()
	conn := h.conn()
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return s
}

const (
	t1 = "2025-03-01T10:00:00Z"
	t2 = "2025-03-02T10:00:00Z"
	t3 = "2025-03-03T10:00:00Z"
)

func TestAJourneyAcrossThreeSourcesWithDifferentIdentifiersEndsAsOneCustomer(t *testing.T) {
	h := journeyHarness(t, pipeline.DefaultConfig())
	h.post("form", map[string]any{"email": "Ana.Lima@Example.com", "company": "Lima Consultoria", "opt_in": "yes", "at": t1})
	h.settle()
	h.post("zendesk", map[string]any{"email": "ana.lima@example.com", "phone": "+55 11 98765-4321", "ticket_id": "48250",
		"ticket_subject": "Fatura duplicada", "ticket_status": "open", "type": "ticket_created", "at": t2})
	h.settle()
	h.post("typeform", map[string]any{"phone": "+5511987654321", "nps": 9, "response_id": "r-1", "type": "survey_answered", "at": t3})
	h.settle()

	if n := h.count(`SELECT count(*) FROM customers WHERE merged_into IS NULL`); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
	id := h.str(`SELECT id::text FROM customers`)
	checks := map[string]int{
		`SELECT count(*) FROM identities WHERE customer_id = $1`:                                                        2,
		`SELECT count(*) FROM timeline WHERE customer_id = $1`:                                                          3,
		`SELECT count(*) FROM tickets WHERE customer_id = $1 AND ticket_id = '48250' AND status = 'open'`:               1,
		`SELECT count(*) FROM survey_responses WHERE customer_id = $1 AND score = 9 AND kind = 'nps'`:                   1,
		`SELECT count(*) FROM consent_ledger WHERE customer_id = $1 AND purpose = 'email_marketing'`:                    1,
		`SELECT count(*) FROM customers WHERE id = $1 AND consent->'email_marketing'->>'status' = 'granted'`:            1,
		`SELECT count(*) FROM customers WHERE id = $1 AND traits->'company'->>'value' = 'Lima Consultoria'`:             1,
		`SELECT count(*) FROM customers WHERE id = $1 AND traits->'company_domain'->>'value' = 'example.com'`:           1,
		`SELECT count(*) FROM customers WHERE id = $1 AND traits->'phone_country'->>'value' = 'BR'`:                     1,
		`SELECT count(*) FROM customers WHERE id = $1 AND traits->'company'->>'source' = 'form'`:                        1,
		`SELECT count(*) FROM outbox WHERE customer_id = $1 AND type = 'cyclehub.customer.created.v1' AND sequence = 1`: 1,
	}
	for sql, want := range checks {
		if n := h.countArgs(sql, id); n != want {
			t.Errorf("%s = %d, want %d", sql, n, want)
		}
	}
}

func TestAnEventLinkingTwoCustomersMergesTheYoungerIntoTheOlder(t *testing.T) {
	h := journeyHarness(t, pipeline.DefaultConfig())
	h.post("form", map[string]any{"email": "bo@example.com", "title": "CTO", "at": t1})
	h.settle()
	h.post("typeform", map[string]any{"phone": "+14155550123", "company": "Bo Corp", "nps": 10, "response_id": "r-9", "at": t2})
	h.settle()
	older := h.str(`SELECT customer_id::text FROM identities WHERE type = 'email'`)
	younger := h.str(`SELECT customer_id::text FROM identities WHERE type = 'phone'`)
	if older == younger {
		t.Fatal("two unlinked events made one customer")
	}
	h.post("zendesk", map[string]any{"email": "bo@example.com", "phone": "+1 415 555 0123", "ticket_id": "7", "at": t3})
	h.settle()

	checks := map[string]int{
		`SELECT count(*) FROM customers WHERE merged_into IS NULL`:                                                                                        1,
		`SELECT count(*) FROM customers WHERE id = '` + younger + `' AND merged_into = '` + older + `' AND traits = '{}'`:                                 1,
		`SELECT count(*) FROM identities WHERE customer_id = '` + older + `'`:                                                                             2,
		`SELECT count(*) FROM timeline WHERE customer_id = '` + older + `'`:                                                                               3,
		`SELECT count(*) FROM survey_responses WHERE customer_id = '` + older + `'`:                                                                       1,
		`SELECT count(*) FROM merges WHERE survivor_id = '` + older + `' AND merged_id = '` + younger + `' AND identity_type = 'phone'`:                   1,
		`SELECT count(*) FROM customers WHERE id = '` + older + `' AND traits->'company'->>'value' = 'Bo Corp' AND traits->'job_title'->>'value' = 'CTO'`: 1,
		// merged.v1 on both keys; the merged record's last event is it.
		`SELECT count(*) FROM outbox WHERE type = 'cyclehub.customer.merged.v1'`:                                                      2,
		`SELECT count(*) FROM outbox WHERE customer_id = '` + younger + `' AND type = 'cyclehub.customer.merged.v1' AND sequence = 2`: 1,
	}
	for sql, want := range checks {
		if n := h.count(sql); n != want {
			t.Errorf("%s = %d, want %d", sql, n, want)
		}
	}
	// Each key's sequence stays gapless.
	for _, id := range []string{older, younger} {
		if gaps := h.count(`SELECT count(*) FROM (SELECT sequence - row_number() OVER (ORDER BY sequence) AS d FROM outbox
			WHERE customer_id = '` + id + `') s WHERE d <> 0`); gaps != 0 {
			t.Errorf("customer %s: its event sequence has gaps", id)
		}
	}
}

func TestAMergeThatWouldGiveOnePersonTwoUserIDsIsRefusedAndRecorded(t *testing.T) {
	h := journeyHarness(t, pipeline.DefaultConfig())
	h.post("form", map[string]any{"uid": "u-1", "email": "cy@example.com", "at": t1})
	h.post("typeform", map[string]any{"uid": "u-2", "phone": "+14155550199", "at": t1})
	h.settle()
	h.post("zendesk", map[string]any{"email": "cy@example.com", "phone": "+14155550199", "at": t2})
	h.settle()
	h.post("hubspot", map[string]any{"uid": "u-3", "email": "cy@example.com", "at": t3})
	h.settle()
	checks := map[string]int{
		`SELECT count(*) FROM customers WHERE merged_into IS NULL`:                                                                                      3,
		`SELECT count(*) FROM merges`:                                                                                                                   0,
		`SELECT count(*) FROM merge_conflicts WHERE array_length(customer_ids, 1) = 2`:                                                                  1,
		`SELECT count(*) FROM merge_conflicts WHERE array_length(customer_ids, 1) = 1`:                                                                  1,
		`SELECT count(DISTINCT customer_id) FROM identities WHERE type = 'user_id'`:                                                                     3,
		`SELECT count(*) FROM identities i JOIN identities j USING (customer_id) WHERE i.type = 'user_id' AND j.type = 'user_id' AND i.value < j.value`: 0,
	}
	for sql, want := range checks {
		if n := h.count(sql); n != want {
			t.Errorf("%s = %d, want %d", sql, n, want)
		}
	}
}

func TestTraitsKeepTheirSurvivorsAndConsentTheMostRecentChoice(t *testing.T) {
	h := journeyHarness(t, pipeline.DefaultConfig())
	h.post("hubspot", map[string]any{"email": "di@example.com", "company": "Diaz Holdings S.A.", "title": "VP Sales", "opt_in": "true", "at": t1})
	h.settle()
	// A later form says otherwise: the CRM's firmographics win, the latest
	// job title wins, and the later opt-out wins.
	h.post("form", map[string]any{"email": "di@example.com", "company": "diaz", "title": "CRO", "opt_in": "false", "at": t3})
	h.settle()
	// An older choice arriving late changes nothing.
	h.post("form", map[string]any{"email": "di@example.com", "opt_in": "true", "at": t2})
	h.settle()
	checks := map[string]int{
		`SELECT count(*) FROM customers WHERE traits->'company'->>'value' = 'Diaz Holdings S.A.'`: 1,
		`SELECT count(*) FROM customers WHERE traits->'job_title'->>'value' = 'CRO'`:              1,
		`SELECT count(*) FROM customers WHERE consent->'email_marketing'->>'status' = 'denied'`:   1,
		`SELECT count(*) FROM consent_ledger WHERE purpose = 'email_marketing'`:                   3,
	}
	for sql, want := range checks {
		if n := h.count(sql); n != want {
			t.Errorf("%s = %d, want %d", sql, n, want)
		}
	}
}

// Hundreds of events about one person, carrying every combination of
// their identifiers, stored at once and processed by concurrent workers in
// small batches: the person ends as one customer holding every identifier
// and every interaction, and every other record made on the way points to
// it.
func TestHundredsOfConcurrentEventsForOnePersonYieldOneCustomer(t *testing.T) {
	cfg := pipeline.DefaultConfig()
	cfg.Workers, cfg.BatchSize = 6, 4
	h := journeyHarness(t, cfg)
	ids := []struct{ key, value string }{{"uid", "u-42"}, {"email", "eve@example.com"}, {"phone", "+442079460018"}, {"ext", "crm:42"}}
	var events []map[string]any
	for round := range 20 {
		for mask := 1; mask < 1<<len(ids); mask++ {
			ev := map[string]any{"id": fmt.Sprintf("e-%d-%d", round, mask), "at": t1, "title": fmt.Sprintf("t%d", mask)}
			for i, id := range ids {
				if mask&(1<<i) != 0 {
					ev[id.key] = id.value
				}
			}
			events = append(events, ev)
		}
	}
	rand.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
	// First one record per identifier, so the concurrent events must merge.
	for _, id := range ids {
		h.post("form", map[string]any{id.key: id.value, "at": t1})
	}
	h.settle()
	if n := h.count(`SELECT count(*) FROM customers`); n != len(ids) {
		t.Fatalf("%d customers before the burst, want %d", n, len(ids))
	}
	var wg sync.WaitGroup
	sources := []string{"form", "zendesk", "typeform", "hubspot"}
	for i, ev := range events {
		wg.Go(func() { h.post(sources[i%len(sources)], ev) })
	}
	wg.Wait()
	h.settle()

	if n := h.count(`SELECT count(*) FROM customers WHERE merged_into IS NULL`); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
	survivor := h.str(`SELECT id::text FROM customers WHERE merged_into IS NULL`)
	if n := h.count(`SELECT count(*) FROM merges`); n < len(ids)-1 {
		t.Errorf("%d merges, want at least %d", n, len(ids)-1)
	}
	checks := map[string]int{
		`SELECT count(*) FROM identities WHERE customer_id = '` + survivor + `'`: len(ids),
		`SELECT count(*) FROM timeline WHERE customer_id = '` + survivor + `'`:   len(events) + len(ids),
		`SELECT count(*) FROM timeline`:                                          len(events) + len(ids),
		`SELECT count(*) FROM merge_conflicts`:                                   0,
		// Every record made on the way was merged, into the survivor in the end.
		`SELECT count(*) FROM customers WHERE merged_into IS NOT NULL`: h.count(`SELECT count(*) FROM merges`),
	}
	for sql, want := range checks {
		if n := h.count(sql); n != want {
			t.Errorf("%s = %d, want %d", sql, n, want)
		}
	}
	if n := h.count(`WITH RECURSIVE chain(id, root) AS (
			SELECT id, id FROM customers WHERE merged_into IS NULL
			UNION ALL SELECT c.id, chain.root FROM customers c JOIN chain ON c.merged_into = chain.id)
		SELECT count(*) FROM chain WHERE root <> '` + survivor + `'`); n != 0 {
		t.Errorf("%d records do not lead to the survivor", n)
	}
}

func (h *harness) conn() *pgx.Conn {
	h.t.Helper()
	conn, err := pgx.Connect(context.Background(), h.url)
	if err != nil {
		h.t.Fatal(err)
	}
	return conn
}

func (h *harness) countArgs(sql string, args ...any) int {
	h.t.Helper()
	conn := h.conn()
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// enrichFunc adapts a function to the pipeline's Enricher.
type enrichFunc func(ctx context.Context, evs []*mapping.Event)

func (f enrichFunc) Enrich(ctx context.Context, evs []*mapping.Event) { f(ctx, evs) }

func TestEnrichedTraitsAreRecordedAsTheEnrichmentsAndNeverReplaceTheEventsOwn(t *testing.T) {
	sources := map[string]mapping.SourceSpec{"form": {Provider: "journey"}}
	mapper := mapping.NewMapper(sources, map[string]*mapping.Compiled{"journey": journeySpec(t)})
	h, w := newHarness(t, mapper, pipeline.DefaultConfig())
	w.Enricher = enrichFunc(func(_ context.Context, evs []*mapping.Event) {
		for _, ev := range evs {
			if ev.Traits["company_domain"] == "fern.example" {
				ev.Enrichment = map[string]string{"company": "Fern Labs Inc.", "industry": "Biotech"}
			}
		}
	})
	h.post("form", map[string]any{"email": "ivy@fern.example", "company": "Fern", "at": t1})
	h.settle()
	checks := map[string]int{
		`SELECT count(*) FROM customers WHERE traits->'industry'->>'value' = 'Biotech' AND traits->'industry'->>'source' = 'enrichment'`: 1,
		`SELECT count(*) FROM customers WHERE traits->'company'->>'value' = 'Fern' AND traits->'company'->>'source' = 'form'`:            1,
	}
	for sql, want := range checks {
		if n := h.count(sql); n != want {
			t.Errorf("%s = %d, want %d", sql, n, want)
		}
	}
}

func TestTestAddressesIdentifyAndDescribeNoOne(t *testing.T) {
	sources := map[string]mapping.SourceSpec{"form": {Provider: "journey"}}
	mapper := mapping.NewMapper(sources, map[string]*mapping.Compiled{"journey": journeySpec(t)})
	h, w := newHarness(t, mapper, pipeline.DefaultConfig())
	w.Identity.TestEmails = []string{"@qa.example", "demo@example.com"}
	h.post("form", map[string]any{"email": "bot@qa.example", "at": t1})
	h.post("form", map[string]any{"email": "demo@example.com", "phone": "+14155550111", "at": t1})
	h.settle()
	checks := map[string]int{
		`SELECT count(*) FROM customers`:                                                   1,
		`SELECT count(*) FROM identities WHERE type = 'email'`:                             0,
		`SELECT count(*) FROM customers WHERE traits ? 'email' OR traits ? 'email_domain'`: 0,
		`SELECT count(*) FROM inbox WHERE status = 'done'`:                                 2,
	}
	for sql, want := range checks {
		if n := h.count(sql); n != want {
			t.Errorf("%s = %d, want %d", sql, n, want)
		}
	}
}
