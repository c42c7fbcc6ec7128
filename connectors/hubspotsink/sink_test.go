package hubspotsink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/connectors/conformance"
	"github.com/cyclehub/cyclehub/connectors/hubspotsink"
	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/mapping"
)

const token = "pat-eu1-0a1b2c3d-4e5f-6789-abcd-ef0123456789"

var ctx = context.Background()

// config is a valid config writing to url, without in-call retries (the
// tests see every answer).
func config(url string) hubspotsink.Config {
	cfg := hubspotsink.DefaultConfig()
	cfg.BaseURL = url
	cfg.Token = token
	cfg.HTTP.Retries = 0
	return cfg
}

func newSink(t *testing.T, cfg hubspotsink.Config) connectors.Connector {
	t.Helper()
	c, err := hubspotsink.Kind.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(ctx) })
	return c
}

// customer is a customer at version 1 with a contact's traits.
func customer(email, stage string) *mapping.Customer {
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	traits := map[string]mapping.TraitValue{}
	for k, v := range map[string]string{"email": email, "first_name": "Ana", "last_name": "Lima",
		"company": "Lima Consultoria", "job_title": "CTO", "country": "BR", "plan": "pro"} {
		if v != "" {
			traits[k] = mapping.TraitValue{Value: v, Source: "form", ObservedAt: at}
		}
	}
	c := &mapping.Customer{ID: uuid.NewString(), Version: 1, Traits: traits}
	c.Lifecycle.Stage, c.Lifecycle.StageEnteredAt = stage, at
	return c
}

// record is the delivery of ce about c.
func record(t *testing.T, c *mapping.Customer, ce *mapping.CloudEvent, err error) mapping.OutboxRecord {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	payload, err := mapping.MarshalCloudEvent(ce)
	if err != nil {
		t.Fatal(err)
	}
	return mapping.OutboxRecord{EventID: ce.ID, CustomerID: c.ID, Type: ce.Type, Sequence: c.Version, Time: ce.Time,
		Payload: payload, IdempotencyKey: "hubspot:" + ce.ID, Attempt: 1, Contact: mapping.ContactOf(c)}
}

var trig = mapping.Trigger{Source: "form", EventType: "form_submitted", OccurredAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}

func updated(t *testing.T, c *mapping.Customer) mapping.OutboxRecord {
	c.Version++
	ce, err := mapping.ChangedEvent(c, mapping.Change{ChangedTraits: []string{"company"}}, trig)
	return record(t, c, ce, err)
}

func stageChanged(t *testing.T, c *mapping.Customer, from, to, direction string) mapping.OutboxRecord {
	c.Version++
	c.Lifecycle.Stage = to
	ce, err := mapping.StageChangedEvent(c, mapping.LifecycleChange{StageFrom: from, StageTo: to, StageRule: "r",
		Direction: direction}, mapping.PhaseQualification, trig)
	return record(t, c, ce, err)
}

func merged(t *testing.T, keyedBy *mapping.Customer, survivorID, mergedID string) mapping.OutboxRecord {
	keyedBy.Version++
	ce, err := mapping.MergedEvent(keyedBy, survivorID, mergedID, mapping.IdentityEmail, nil, trig)
	return record(t, keyedBy, ce, err)
}

func erased(t *testing.T, c *mapping.Customer) mapping.OutboxRecord {
	c.Version++
	ce, err := mapping.ErasedEvent(c, "", trig.OccurredAt)
	return record(t, c, ce, err)
}

// inputs decodes a batch upsert request's inputs.
func inputs(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var req struct {
		Inputs []map[string]any `json:"inputs"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatalf("upsert body %s: %v", body, err)
	}
	return req.Inputs
}

func recordErrs(t *testing.T, err error, n int) []error {
	t.Helper()
	var be *connectors.BatchError
	if !errors.As(err, &be) || len(be.RecordErrors()) != n {
		t.Fatalf("Write = %v, want a BatchError of %d records", err, n)
	}
	return be.RecordErrors()
}

const (
	upsertPath = "/crm/v3/objects/contacts/batch/upsert"
	searchPath = "/crm/v3/objects/contacts/search"
	mergePath  = "/crm/v3/objects/contacts/merge"
	gdprPath   = "/crm/v3/objects/contacts/gdpr-delete"
)

func TestConformance(t *testing.T) {
	// The records' emails name their events: the fake destination reads
	// the upsert inputs back to event ids, and fails records by id.
	var mu sync.Mutex
	eventOf, emailOf := map[string]string{}, map[string]string{}
	records := func(n int) []mapping.OutboxRecord {
		recs := conformance.Records(n)
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			eventOf[r.Contact.Email], emailOf[r.EventID] = r.EventID, r.Contact.Email
		}
		return recs
	}
	events := func(r *http.Request, body []byte) []string {
		if r.URL.Path != upsertPath {
			return nil
		}
		var req struct {
			Inputs []struct {
				ID         string            `json:"id"`
				Properties map[string]string `json:"properties"`
			} `json:"inputs"`
		}
		if json.Unmarshal(body, &req) != nil {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		var ids []string
		for _, in := range req.Inputs {
			if id, ok := eventOf[in.ID]; ok && in.Properties["cyclehub_customer_id"] != "" {
				ids = append(ids, id)
			}
		}
		return ids
	}
	partial := func(w http.ResponseWriter, ids []string, failing map[string]conformance.Class) {
		mu.Lock()
		defer mu.Unlock()
		var results, errs []map[string]any
		for _, id := range ids {
			switch failing[id] {
			case conformance.Permanent:
				errs = append(errs, map[string]any{"status": "error", "category": "VALIDATION_ERROR",
					"message": "Property values were not valid (test)", "context": map[string][]string{"ids": {emailOf[id]}}})
			case conformance.Retryable:
				errs = append(errs, map[string]any{"status": "error", "category": "RATE_LIMITS",
					"message": "rate limited (test)", "context": map[string][]string{"ids": {emailOf[id]}}})
			default:
				results = append(results, map[string]any{"id": "1", "properties": map[string]string{"email": emailOf[id]}})
			}
		}
		writeJSON(w, http.StatusMultiStatus, map[string]any{"status": "COMPLETE", "results": results, "errors": errs,
			"numErrors": len(errs)})
	}
	conformance.Run(t, conformance.Features{
		MaxBatch: hubspotsink.Kind.MaxBatch,
		Records:  records,
		New: func(t *testing.T) (connectors.Connector, conformance.Destination) {
			d := conformance.NewHTTPDestination(t, events)
			d.Partial = partial
			c, err := hubspotsink.Kind.New(config(d.URL))
			if err != nil {
				t.Fatal(err)
			}
			return c, d
		},
	})
}

func TestTheKindTakesAConfigOrAPointerToOne(t *testing.T) {
	cfg := config("http://127.0.0.1:1")
	if _, err := hubspotsink.Kind.New(cfg); err != nil {
		t.Fatalf("Config: %v", err)
	}
	if _, err := hubspotsink.Kind.New(&cfg); err != nil {
		t.Fatalf("*Config: %v", err)
	}
	for _, bad := range []any{nil, (*hubspotsink.Config)(nil), "hubspot"} {
		if _, err := hubspotsink.Kind.New(bad); err == nil {
			t.Fatalf("New(%#v) accepted", bad)
		}
	}
	if k := hubspotsink.Kind; k.Name != "hubspot" || k.MaxBatch != 100 || !k.NeedsContact {
		t.Fatalf("kind %+v", k)
	}
}

func TestAnUpsertSendsTheMappedPropertiesAndTheCustomerIDProperty(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	cfg := config(hs.URL)
	cfg.Properties["traits.plan"] = "plan"
	cfg.Properties["phone"] = "" // not synced
	cfg.StatusProperty = "customer_status"
	sink := newSink(t, cfg)

	c := customer("Ana.Lima@Example.com", "customer")
	c.Traits["phone"] = mapping.TraitValue{Value: "+5511999990000"}
	c.Lifecycle.Status = "active"
	rec := updated(t, c)
	if err := sink.Write(ctx, []mapping.OutboxRecord{rec}); err != nil {
		t.Fatalf("Write: %v", err)
	}

	reqs := hs.seen("")
	if len(reqs) != 1 || reqs[0].Method != http.MethodPost || reqs[0].Path != upsertPath {
		t.Fatalf("requests %+v, want one batch upsert", reqs)
	}
	if got := reqs[0].Header.Get("Authorization"); got != "Bearer "+token {
		t.Errorf("Authorization %q", got)
	}
	if got := reqs[0].Header.Get("Idempotency-Key"); got != rec.IdempotencyKey {
		t.Errorf("Idempotency-Key %q, want %q", got, rec.IdempotencyKey)
	}
	in := inputs(t, reqs[0].Body)
	if len(in) != 1 || in[0]["idProperty"] != "email" || in[0]["id"] != "Ana.Lima@Example.com" {
		t.Fatalf("inputs %v", in)
	}
	want := map[string]any{"email": "Ana.Lima@Example.com", "firstname": "Ana", "lastname": "Lima",
		"company": "Lima Consultoria", "jobtitle": "CTO", "country": "BR", "lifecyclestage": "customer",
		"plan": "pro", "customer_status": "active", "cyclehub_customer_id": c.ID}
	props, _ := in[0]["properties"].(map[string]any)
	if fmt.Sprint(props) != fmt.Sprint(want) {
		t.Fatalf("properties\n got %v\nwant %v", props, want)
	}
	if got := hs.contact(hs.byEmail("ana.lima@example.com")); got["cyclehub_customer_id"] != c.ID || got["plan"] != "pro" {
		t.Fatalf("HubSpot contact %v", got)
	}
}

func TestRecordsOfOneContactInABatchAreSentOnceTheLaterWinning(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	sink := newSink(t, config(hs.URL))
	c := customer("dup@example.com", "lead")
	first := updated(t, c)
	c.Traits["company"] = mapping.TraitValue{Value: "Lima Holding"}
	second := updated(t, c)
	other := updated(t, customer("other@example.com", "lead"))
	if err := sink.Write(ctx, []mapping.OutboxRecord{first, other, second}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	reqs := hs.seen(upsertPath)
	if len(reqs) != 1 {
		t.Fatalf("%d upserts, want 1", len(reqs))
	}
	in := inputs(t, reqs[0].Body)
	if len(in) != 2 || in[0]["id"] != "dup@example.com" || in[0]["properties"].(map[string]any)["company"] != "Lima Holding" {
		t.Fatalf("inputs %v", in)
	}
	if !strings.HasPrefix(reqs[0].Header.Get("Idempotency-Key"), "batch:") {
		t.Errorf("Idempotency-Key %q of a batch", reqs[0].Header.Get("Idempotency-Key"))
	}
}

func TestABackwardStageMoveClearsThenSetsLifecycleStage(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	sink := newSink(t, config(hs.URL))
	back := customer("back@example.com", "salesqualifiedlead")
	id := hs.seed(map[string]string{"email": "back@example.com", "lifecyclestage": "salesqualifiedlead"})
	fwd := customer("fwd@example.com", "lead")
	hs.seed(map[string]string{"email": "fwd@example.com", "lifecyclestage": "lead"})

	recs := []mapping.OutboxRecord{
		stageChanged(t, back, "salesqualifiedlead", "lead", "backward"),
		stageChanged(t, fwd, "lead", "marketingqualifiedlead", "forward"),
	}
	if err := sink.Write(ctx, recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	reqs := hs.seen(upsertPath)
	if len(reqs) != 2 {
		t.Fatalf("%d upserts, want the clear then the set", len(reqs))
	}
	clear, set := inputs(t, reqs[0].Body), inputs(t, reqs[1].Body)
	if len(clear) != 1 || clear[0]["id"] != "back@example.com" ||
		fmt.Sprint(clear[0]["properties"]) != fmt.Sprint(map[string]any{"lifecyclestage": ""}) {
		t.Fatalf("first request %v, want lifecyclestage cleared for the backward move only", clear)
	}
	if len(set) != 2 || set[0]["properties"].(map[string]any)["lifecyclestage"] != "lead" {
		t.Fatalf("second request %v", set)
	}
	if got := hs.contact(id)["lifecyclestage"]; got != "lead" {
		t.Fatalf("lifecyclestage %q, want lead", got)
	}
	if got := reqs[0].Header.Get("Idempotency-Key"); got != recs[0].IdempotencyKey+":clear" {
		t.Errorf("the clear's Idempotency-Key %q", got)
	}
}

func TestARecordWithoutEmailIsDeadAndTheRestOfTheBatchGoesThrough(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	sink := newSink(t, config(hs.URL))
	recs := []mapping.OutboxRecord{
		updated(t, customer("a@example.com", "lead")),
		updated(t, customer("", "lead")),
		updated(t, customer("c@example.com", "lead")),
	}
	errs := recordErrs(t, sink.Write(ctx, recs), 3)
	if o, _ := connectors.Classify(errs[1]); errs[0] != nil || errs[2] != nil || o != connectors.Dead ||
		!strings.Contains(errs[1].Error(), "no email to match the HubSpot contact by") {
		t.Fatalf("record errors %v", errs)
	}
	if hs.count() != 2 || hs.byEmail("a@example.com") == "" || hs.byEmail("c@example.com") == "" {
		t.Fatalf("HubSpot has %d contacts", hs.count())
	}
}

func TestHubSpotsPerRecordErrorsAreMappedByID(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	cfg := config(hs.URL)
	cfg.Properties["traits.plan"] = "no_such_property"
	sink := newSink(t, cfg)
	withPlan, noPlan := customer("plan@example.com", "lead"), customer("noplan@example.com", "lead")
	delete(noPlan.Traits, "plan")
	errs := recordErrs(t, sink.Write(ctx, []mapping.OutboxRecord{updated(t, withPlan), updated(t, noPlan)}), 2)
	if o, _ := connectors.Classify(errs[0]); o != connectors.Dead || errs[1] != nil ||
		!strings.Contains(errs[0].Error(), "VALIDATION_ERROR") {
		t.Fatalf("record errors %v", errs)
	}

	// A rate-limited record is retried, and holds back its customer's
	// later events in the batch.
	hs.setIntercept(func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.URL.Path != upsertPath {
			return false
		}
		writeJSON(w, http.StatusMultiStatus, map[string]any{"status": "COMPLETE", "results": []any{},
			"errors": []any{map[string]any{"status": "error", "category": "RATE_LIMITS", "message": "slow down",
				"context": map[string][]string{"ids": {"NOPLAN@example.com"}}}}})
		return true
	})
	errs = recordErrs(t, sink.Write(ctx, []mapping.OutboxRecord{updated(t, noPlan), erased(t, noPlan)}), 2)
	for i, err := range errs {
		if o, _ := connectors.Classify(err); o != connectors.Retry {
			t.Fatalf("record %d: %v, want retry", i, err)
		}
	}
	if len(hs.seen(gdprPath)) != 0 {
		t.Fatal("the erasure went ahead of its customer's failed update")
	}
}

func TestAMergeFindsBothContactsAndMergesTheMergedIntoTheSurvivor(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	sink := newSink(t, config(hs.URL))
	survivor, gone := customer("ana@example.com", "customer"), customer("ana.work@example.com", "lead")
	sID := hs.seed(map[string]string{"email": "ana@example.com", "cyclehub_customer_id": survivor.ID})
	mID := hs.seed(map[string]string{"email": "ana.work@example.com", "cyclehub_customer_id": gone.ID, "phone": "+351"})
	unrelated := hs.seed(map[string]string{"email": "x@example.com", "cyclehub_customer_id": uuid.NewString()})

	recs := []mapping.OutboxRecord{merged(t, survivor, survivor.ID, gone.ID), merged(t, gone, survivor.ID, gone.ID)}
	if err := sink.Write(ctx, recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if n := len(hs.seen(searchPath)); n != 1 {
		t.Fatalf("%d searches, want 1 (nothing to do on the merged record's key)", n)
	}
	merges := hs.seen(mergePath)
	if len(merges) != 1 {
		t.Fatalf("%d merges, want 1", len(merges))
	}
	var body map[string]string
	_ = json.Unmarshal(merges[0].Body, &body)
	if body["primaryObjectId"] != sID || body["objectIdToMerge"] != mID {
		t.Fatalf("merge %v, want %s into %s", body, mID, sID)
	}
	if got := merges[0].Header.Get("Idempotency-Key"); got != recs[0].IdempotencyKey {
		t.Errorf("merge Idempotency-Key %q", got)
	}
	if hs.contact(mID) != nil || hs.contact(sID)["phone"] != "+351" || hs.contact(unrelated) == nil {
		t.Fatalf("contacts after the merge: survivor %v, merged %v", hs.contact(sID), hs.contact(mID))
	}
}

func TestAMergeWhoseMergedContactIsUnknownSucceedsWithoutCallingMerge(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	sink := newSink(t, config(hs.URL))
	survivor := customer("ana@example.com", "customer")
	hs.seed(map[string]string{"email": "ana@example.com", "cyclehub_customer_id": survivor.ID})
	if err := sink.Write(ctx, []mapping.OutboxRecord{merged(t, survivor, survivor.ID, uuid.NewString())}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(hs.seen(searchPath)) != 1 || len(hs.seen(mergePath)) != 0 {
		t.Fatalf("requests %d, want one search and no merge", len(hs.seen("")))
	}
}

func TestAMergeIntoASurvivorWithoutAContactReKeysTheMergedOnesContact(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	sink := newSink(t, config(hs.URL))
	// The survivor (an anonymous visitor until now) has the merged
	// customer's email: its upsert finds that contact, nothing to merge.
	survivor, gone := customer("ana@example.com", "lead"), customer("ana@example.com", "lead")
	mID := hs.seed(map[string]string{"email": "ana@example.com", "cyclehub_customer_id": gone.ID})
	if err := sink.Write(ctx, []mapping.OutboxRecord{merged(t, survivor, survivor.ID, gone.ID)}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if len(hs.seen(mergePath)) != 0 || hs.contact(mID)["cyclehub_customer_id"] != survivor.ID || hs.count() != 1 {
		t.Fatalf("contact %v after %d merges", hs.contact(mID), len(hs.seen(mergePath)))
	}

	// Without an email, the merged customer's contact is re-keyed.
	anon, other := customer("", ""), customer("bob@example.com", "lead")
	oID := hs.seed(map[string]string{"email": "bob@example.com", "cyclehub_customer_id": other.ID})
	if err := sink.Write(ctx, []mapping.OutboxRecord{merged(t, anon, anon.ID, other.ID)}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if got := hs.contact(oID)["cyclehub_customer_id"]; got != anon.ID {
		t.Fatalf("customer id %q, want the survivor's", got)
	}
}

func TestAnErasureGDPRDeletesByEmailAndA404CountsAsDone(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	sink := newSink(t, config(hs.URL))
	c := customer("erase.me@example.com", "customer")
	id := hs.seed(map[string]string{"email": "erase.me@example.com", "cyclehub_customer_id": c.ID})
	// A contact left behind by an email change holds the customer id too.
	old := hs.seed(map[string]string{"email": "old.me@example.com", "cyclehub_customer_id": c.ID})
	keep := hs.seed(map[string]string{"email": "keep@example.com", "cyclehub_customer_id": uuid.NewString()})

	rec := erased(t, c)
	if err := sink.Write(ctx, []mapping.OutboxRecord{rec}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	dels := hs.seen(gdprPath)
	if len(dels) != 2 {
		t.Fatalf("%d GDPR deletes, want 2", len(dels))
	}
	var body map[string]string
	_ = json.Unmarshal(dels[0].Body, &body)
	if body["objectId"] != "erase.me@example.com" || body["idProperty"] != "email" ||
		dels[0].Header.Get("Idempotency-Key") != rec.IdempotencyKey {
		t.Fatalf("first GDPR delete %v", body)
	}
	if hs.contact(id) != nil || hs.contact(old) != nil || hs.contact(keep) == nil {
		t.Fatalf("contacts left: %d", hs.count())
	}

	// Already gone: HubSpot answers 404, which is done.
	if err := sink.Write(ctx, []mapping.OutboxRecord{erased(t, c)}); err != nil {
		t.Fatalf("erasing again: %v", err)
	}
}

func TestAnErasureWithoutEmailFindsTheContactByCustomerID(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	sink := newSink(t, config(hs.URL))
	c := customer("", "lead")
	id := hs.seed(map[string]string{"email": "known.to.hubspot@example.com", "cyclehub_customer_id": c.ID})
	rec := erased(t, c)
	rec.Contact = nil
	if err := sink.Write(ctx, []mapping.OutboxRecord{rec}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	dels := hs.seen(gdprPath)
	if len(dels) != 1 || !strings.Contains(string(dels[0].Body), `"objectId":"`+id+`"`) || hs.contact(id) != nil {
		t.Fatalf("GDPR deletes %d", len(dels))
	}
}

func TestA429WithRetryAfterIsRetriedAfterTheHint(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	cfg := config(hs.URL)
	cfg.HTTP.Retries = 2 // a 10 s wait is the durable schedule's, not the call's
	sink := newSink(t, cfg)
	hs.setIntercept(func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		w.Header().Set("Retry-After", "10")
		w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
		w.Header().Set("X-HubSpot-RateLimit-Max", "190")
		w.Header().Set("X-HubSpot-RateLimit-Remaining", "0")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": "error",
			"message": "You have reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT",
			"policyName": "TEN_SECONDLY_ROLLING"})
		return true
	})
	c := customer("later@example.com", "lead")
	err := sink.Write(ctx, []mapping.OutboxRecord{updated(t, c), updated(t, customer("b@example.com", "lead")), erased(t, c)})
	if o, after := connectors.Classify(err); o != connectors.Retry || after != 10*time.Second {
		t.Fatalf("Write = %v: %v after %s, want retry after 10s", err, o, after)
	}
	if n := len(hs.seen("")); n != 1 {
		t.Fatalf("%d requests, want 1: the batch stops at a rate limit", n)
	}
}

func TestA401IsDead(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	cfg := config(hs.URL)
	cfg.Token = "pat-eu1-revoked"
	sink := newSink(t, cfg)
	err := sink.Write(ctx, []mapping.OutboxRecord{updated(t, customer("a@example.com", "lead")),
		erased(t, customer("b@example.com", "lead"))})
	if o, _ := connectors.Classify(err); o != connectors.Dead || !strings.Contains(err.Error(), "401") {
		t.Fatalf("Write = %v (%v), want dead", err, o)
	}
	if n := len(hs.seen("")); n != 1 {
		t.Fatalf("%d requests after a refused token, want 1", n)
	}
}

func TestTheTokenNeverAppearsInAnErrorString(t *testing.T) {
	hs := newFakeHubSpot(t, token)
	cfg := config(hs.URL)
	sink := newSink(t, cfg)
	// A (careless) destination echoing the request's headers in errors,
	// whole and cut short.
	hs.setIntercept(func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		auth := r.Header.Get("Authorization")
		switch r.URL.Path {
		case upsertPath:
			in := inputs(t, body)
			writeJSON(w, http.StatusMultiStatus, map[string]any{"status": "COMPLETE", "errors": []any{
				map[string]any{"category": "VALIDATION_ERROR", "message": "bad header " + auth,
					"context": map[string]any{"ids": []any{in[0]["id"]}}}}})
		case gdprPath:
			http.Error(w, strings.Repeat("x", 170)+" header: "+auth, http.StatusBadRequest)
		default:
			http.Error(w, "refused "+auth, http.StatusInternalServerError)
		}
		return true
	})
	err := sink.Write(ctx, []mapping.OutboxRecord{updated(t, customer("a@example.com", "lead")),
		erased(t, customer("b@example.com", "lead"))})
	errs := recordErrs(t, err, 2)
	for _, s := range []string{err.Error(), errs[0].Error(), errs[1].Error(), fmt.Sprintf("%+v", cfg),
		fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", sink), fmt.Sprintf("%#v", sink), fmt.Sprintf("%d", sink)} {
		if strings.Contains(s, token) || strings.Contains(s, token[:12]) {
			t.Fatalf("the token leaked: %s", s)
		}
	}
	if o, _ := connectors.Classify(errs[0]); o != connectors.Dead {
		t.Fatalf("redacting changed the class: %v", errs[0])
	}
	var pe *connectors.PermanentError
	if !errors.As(errs[1], &pe) || pe.Status != http.StatusBadRequest {
		t.Fatalf("erasure error %#v", errs[1])
	}
}

func TestConfigValidationListsEveryProblemAtOnce(t *testing.T) {
	if errs := config("https://api.hubapi.com").Validate(); len(errs) != 0 {
		t.Fatalf("a valid config: %v", errs)
	}
	if errs := hubspotsink.DefaultConfig().Validate(); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "token:") {
		t.Fatalf("the defaults lack only the token: %v", errs)
	}
	cfg := hubspotsink.Config{
		BaseURL:            "api.hubapi.com",
		Token:              secret.Secret("pat with spaces"),
		HTTP:               connectors.HTTPConfig{Timeout: 0, Retries: 9},
		IDProperty:         "Email",
		CustomerIDProperty: "",
		Properties: map[string]string{"email": "mail", "nickname": "nick", "traits.": "x", "first_name": "First Name",
			"last_name": "mail", "company": "customer_status"},
		StatusProperty: "customer_status",
	}
	errs := cfg.Validate()
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	all := strings.Join(got, "\n")
	for _, key := range []string{"base_url:", "token: must not contain whitespace", "http.timeout:", "http.retries:",
		"customer_id_property:", "id_property:", "properties.nickname:", "properties.traits.:", "properties.first_name:",
		"properties.last_name:", "properties.company:"} {
		if !strings.Contains(all, key) {
			t.Errorf("no %q among:\n%s", key, all)
		}
	}
	if strings.Contains(all, "pat with spaces") {
		t.Error("validation printed the token")
	}
	if _, err := hubspotsink.New(cfg); err == nil || !strings.Contains(err.Error(), "base_url") {
		t.Fatalf("New with a bad config: %v", err)
	}
}
