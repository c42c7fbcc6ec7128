package pipeline_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// clock is a test clock: time moves only when the test says so.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// rescorer adapts the store to the sweeper's port (as cmd does).
type rescorer struct{ st *pgstore.Store }

func (a rescorer) ClaimQueued(ctx context.Context, n int) (pipeline.RescoreBatch, error) {
	r, err := a.st.ClaimQueued(ctx, n)
	if r == nil {
		return nil, err
	}
	return r, err
}

func (a rescorer) ClaimSweep(ctx context.Context, n int, now time.Time, every time.Duration) (pipeline.RescoreBatch, error) {
	r, err := a.st.ClaimSweep(ctx, n, now, every)
	if r == nil {
		return nil, err
	}
	return r, err
}

// lifecycleHarness runs the pipeline with the default rules on a test
// clock, with a sweeper the test drives by hand.
type lifecycleHarness struct {
	*harness
	clock   *clock
	sweeper *pipeline.Sweeper
	model   *mapping.Model
}

var day0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func newLifecycleHarness(t *testing.T, sweep pipeline.SweepConfig) *lifecycleHarness {
	t.Helper()
	model, err := configs.LoadRules("../configs/rules")
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: day0}
	sources := map[string]mapping.SourceSpec{}
	for _, s := range []string{"form", "zendesk", "typeform", "crm"} {
		sources[s] = mapping.SourceSpec{Provider: "journey"}
	}
	mapper := mapping.NewMapper(sources, map[string]*mapping.Compiled{"journey": journeySpec(t)})
	h, w := newHarnessWith(t, mapper, pipeline.DefaultConfig(), clk.Now, model)
	return &lifecycleHarness{harness: h, clock: clk, model: model,
		sweeper: pipeline.NewSweeper(sweep, rescorer{h.st}, w.Model, quietLog(), clk.Now)}
}

// at posts an event that happened at the given day, with the clock there.
func (h *lifecycleHarness) at(day int, source string, fields map[string]any) {
	h.t.Helper()
	when := day0.Add(time.Duration(day) * 24 * time.Hour)
	h.clock.Set(when)
	fields["at"] = when.Format(time.RFC3339)
	h.post(source, fields)
	h.settle()
}

// sweep runs the sweeper at the given day until it has nothing to do.
func (h *lifecycleHarness) sweep(day int) {
	h.t.Helper()
	h.clock.Set(day0.Add(time.Duration(day) * 24 * time.Hour))
	for range 100 {
		worked, err := h.sweeper.RunOnce(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		if !worked {
			return
		}
	}
	h.t.Fatal("the sweeper never ran out of work")
}

type stint struct {
	Stage, Rule, Direction string
	Entered                time.Time
	Exited                 *time.Time
}

func (h *lifecycleHarness) history(id string) []stint {
	h.t.Helper()
	conn := h.conn()
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT stage, coalesce(rule_id, ''), direction, entered_at, exited_at
		FROM stage_history WHERE customer_id = $1 ORDER BY entered_at, id`, id)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out []stint
	for rows.Next() {
		var s stint
		if err := rows.Scan(&s.Stage, &s.Rule, &s.Direction, &s.Entered, &s.Exited); err != nil {
			h.t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

type outboxEvent struct {
	Type     string
	Sequence int64
	Data     map[string]any
}

// events returns a customer's outbox events in order.
func (h *lifecycleHarness) events(id string) []outboxEvent {
	h.t.Helper()
	conn := h.conn()
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT type, sequence, payload FROM outbox WHERE customer_id = $1 ORDER BY id`, id)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxEvent
	for rows.Next() {
		var e outboxEvent
		var payload []byte
		if err := rows.Scan(&e.Type, &e.Sequence, &payload); err != nil {
			h.t.Fatal(err)
		}
		var ce struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(payload, &ce); err != nil {
			h.t.Fatal(err)
		}
		e.Data = ce.Data
		out = append(out, e)
	}
	return out
}

func (h *lifecycleHarness) customer(email string) (id, stage, status string, scores mapping.Scores) {
	h.t.Helper()
	conn := h.conn()
	defer conn.Close(context.Background())
	var raw []byte
	err := conn.QueryRow(context.Background(), `SELECT c.id::text, coalesce(c.stage, ''), coalesce(c.customer_status, ''), c.scores
		FROM customers c JOIN identities i ON i.customer_id = c.id WHERE i.type = 'email' AND i.value = $1`, email).
		Scan(&id, &stage, &status, &raw)
	if err != nil {
		h.t.Fatalf("customer %s: %v", email, err)
	}
	if err := json.Unmarshal(raw, &scores); err != nil {
		h.t.Fatal(err)
	}
	return id, stage, status, scores
}

// stageEvents lists the to_stage of each stage_changed event, checking on
// the way that the customer's sequence has no gap.
func stageEvents(t *testing.T, evs []outboxEvent) []string {
	t.Helper()
	var out []string
	for i, e := range evs {
		if e.Sequence != int64(i+1) {
			t.Fatalf("event %d (%s) has sequence %d: the sequence has a gap", i, e.Type, e.Sequence)
		}
		if e.Type == mapping.TypeStageChanged {
			out = append(out, e.Data["to_stage"].(string))
		}
	}
	return out
}

func stages(h []stint) []string {
	var out []string
	for _, s := range h {
		out = append(out, s.Stage)
	}
	return out
}

// A VP with a business email who requests a demo is an MQL; deal_won makes
// them a customer. Each move opens a stint (closing the one before) and
// publishes stage_changed, in the same order, with gapless sequences.
func TestAVPWhoRequestsADemoBecomesAnMQLAndADealWonMakesThemACustomer(t *testing.T) {
	h := newLifecycleHarness(t, pipeline.DefaultSweepConfig())
	h.at(0, "form", map[string]any{"email": "vera@acme-software.com", "title": "VP Marketing", "form_name": "Request a demo"})
	id, stage, _, scores := h.customer("vera@acme-software.com")
	if stage != "marketingqualifiedlead" {
		t.Fatalf("after the demo request: stage %q, scores %+v", stage, scores)
	}
	if !slices.ContainsFunc(scores.Contributions["engagement"], func(c mapping.Contribution) bool { return c.Rule == "demo_request" && c.Points == 30 }) ||
		!slices.ContainsFunc(scores.Contributions["fit"], func(c mapping.Contribution) bool { return c.Rule == "seniority" && c.Points == 20 }) {
		t.Errorf("contributions = %+v", scores.Contributions)
	}
	h.at(1, "crm", map[string]any{"email": "vera@acme-software.com", "type": "deal_won"})
	_, stage, status, _ := h.customer("vera@acme-software.com")
	if stage != "customer" || status != "active" {
		t.Fatalf("after deal_won: stage %q status %q", stage, status)
	}
	// A lost deal moves back only from sales stages: a customer stays.
	h.at(2, "crm", map[string]any{"email": "vera@acme-software.com", "type": "deal_lost"})

	hist := h.history(id)
	want := []string{"marketingqualifiedlead", "customer"}
	if got := stages(hist); !slices.Equal(got, want) {
		t.Fatalf("stage history %v, want %v", got, want)
	}
	switch {
	case hist[0].Rule != "mql" || hist[1].Rule != "customer" || hist[1].Direction != "forward":
		t.Errorf("rules %+v", hist)
	case hist[0].Exited == nil || !hist[0].Exited.Equal(day0.Add(24*time.Hour)) || hist[1].Exited != nil:
		t.Errorf("stints %+v", hist)
	}
	if got := stageEvents(t, h.events(id)); !slices.Equal(got, want) {
		t.Fatalf("stage_changed events %v, want %v", got, want)
	}
	last := h.events(id)
	for _, e := range last {
		if e.Type == mapping.TypeStageChanged && e.Data["to_stage"] == "customer" {
			if e.Data["from_stage"] != "marketingqualifiedlead" || e.Data["time_in_previous_stage_seconds"] != float64(86400) ||
				e.Data["phase"] != "retention" || e.Data["trigger"].(map[string]any)["event_type"] != "deal_won" {
				t.Errorf("stage_changed = %v", e.Data)
			}
		}
	}
}

// A referred lead counts on the referrer's record; a promoter customer
// with a referral becomes an evangelist (re-evaluated from the queue, as
// the referral arrived on someone else's event).
func TestAPromoterCustomerWithAReferralBecomesAnEvangelist(t *testing.T) {
	h := newLifecycleHarness(t, pipeline.DefaultSweepConfig())
	h.at(0, "form", map[string]any{"email": "vera@acme-software.com", "title": "VP Marketing", "form_name": "Request a demo"})
	h.at(1, "crm", map[string]any{"email": "vera@acme-software.com", "type": "deal_won"})
	h.at(2, "typeform", map[string]any{"email": "vera@acme-software.com", "type": "survey_answered", "nps": 10, "response_id": "r1"})
	id, stage, _, scores := h.customer("vera@acme-software.com")
	if stage != "customer" || scores.NPSCategory != "promoter" {
		t.Fatalf("a promoter without referrals: stage %q, nps %q", stage, scores.NPSCategory)
	}
	h.at(3, "form", map[string]any{"email": "li@acme-software.com", "referred_by": "Vera@Acme-Software.com"})
	referred, _, _, _ := h.customer("li@acme-software.com")
	if n := h.countArgs(`SELECT count(*) FROM referrals WHERE referrer_id = $1 AND referred_id = $2`, id, referred); n != 1 {
		t.Fatalf("referrals: %d", n)
	}
	if n := h.countArgs(`SELECT count(*) FROM customers WHERE id = $1 AND referred_by = $2 AND NOT traits ? 'referred_by'`, referred, id); n != 1 {
		t.Fatal("the referred customer does not point to the referrer (or kept referred_by as a trait)")
	}
	h.sweep(3)
	_, stage, _, _ = h.customer("vera@acme-software.com")
	if stage != "evangelist" {
		t.Fatalf("after the referral: stage %q", stage)
	}
	if n := h.countArgs(`SELECT count(*) FROM customers WHERE id = $1 AND referral_count = 1`, id); n != 1 {
		t.Fatal("referral_count is not 1")
	}
	evs := h.events(id)
	want := []string{"marketingqualifiedlead", "customer", "evangelist"}
	if got := stageEvents(t, evs); !slices.Equal(got, want) {
		t.Fatalf("stage_changed events %v, want %v", got, want)
	}
	if got := stages(h.history(id)); !slices.Equal(got, want) {
		t.Fatalf("stage history %v, want %v", got, want)
	}
	lastStage := evs[slices.IndexFunc(evs, func(e outboxEvent) bool { return e.Data["to_stage"] == "evangelist" })]
	if trig := lastStage.Data["trigger"].(map[string]any); trig["event_type"] != pipeline.TriggerReferral || lastStage.Data["rule_id"] != "evangelist" {
		t.Errorf("the evangelist move: %v", lastStage.Data)
	}
	if h.count(`SELECT count(*) FROM rescore_queue`) != 0 {
		t.Error("the queue was not emptied")
	}

	// The stored history replays to the same place (what rules backtest
	// relies on): the NPS answer read back from storage included.
	hs, err := h.st.Histories(context.Background(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, hc := range hs {
		if hc.Customer.ID != id {
			continue
		}
		lc := pipeline.Replay(h.model, hc.Customer, hc.Events, h.clock.Now())
		if lc.Stage != "evangelist" || lc.Scores.NPSCategory != "promoter" || lc.Scores.Band != hc.Customer.Lifecycle.Scores.Band {
			t.Fatalf("replayed: stage %q nps %q band %q (stored band %q)", lc.Stage, lc.Scores.NPSCategory, lc.Scores.Band, hc.Customer.Lifecycle.Scores.Band)
		}
		return
	}
	t.Fatal("the referrer has no history")
}

// Three urgent tickets and an NPS of 3 put a customer at risk, published
// as score_changed with the status change.
func TestUrgentTicketsAndADetractorAnswerPutACustomerAtRisk(t *testing.T) {
	h := newLifecycleHarness(t, pipeline.DefaultSweepConfig())
	h.at(0, "crm", map[string]any{"email": "ops@bigco.com", "type": "deal_won"})
	for i, tid := range []string{"t1", "t2", "t3"} {
		h.at(1+i, "zendesk", map[string]any{"email": "ops@bigco.com", "type": "ticket_created", "ticket_id": tid, "priority": "urgent", "ticket_status": "open"})
	}
	h.at(5, "typeform", map[string]any{"email": "ops@bigco.com", "type": "survey_answered", "nps": 3, "response_id": "r3"})
	id, stage, status, scores := h.customer("ops@bigco.com")
	if stage != "customer" || status != "at_risk" || scores.Health > 50 || scores.NPSCategory != "detractor" {
		t.Fatalf("stage %q status %q scores %+v", stage, status, scores)
	}
	var atRisk []outboxEvent
	for _, e := range h.events(id) {
		if e.Type == mapping.TypeScoreChanged && e.Data["customer_status_to"] == "at_risk" {
			atRisk = append(atRisk, e)
		}
	}
	if len(atRisk) != 1 || atRisk[0].Data["customer_status_from"] != "active" {
		t.Fatalf("score_changed to at_risk: %+v", atRisk)
	}
}

// Time alone changes scores: the sweeper decays engagement (half after 30
// days, gone after 90) and applies silence, publishing score_changed only
// on band or threshold crossings, one sweep per interval, in batches that
// resume from a cursor.
func TestTheSweeperDecaysScoresAndPublishesOnlyCrossings(t *testing.T) {
	h := newLifecycleHarness(t, pipeline.SweepConfig{Interval: time.Hour, BatchSize: 1, QueueInterval: time.Second})
	h.at(0, "form", map[string]any{"email": "dana@acme-software.com", "title": "Director of IT", "form_name": "Request a demo"})
	h.at(0, "crm", map[string]any{"email": "sam@shop.com", "type": "deal_won"})
	dana, _, _, s0 := h.customer("dana@acme-software.com")
	sam, _, _, h0 := h.customer("sam@shop.com")
	if s0.Engagement != 30 || h0.Health != 80 {
		t.Fatalf("day 0: dana engagement %v, sam health %v", s0.Engagement, h0.Health)
	}
	before := len(h.events(dana))

	h.sweep(0) // nothing has changed yet
	if n := len(h.events(dana)); n != before {
		t.Fatalf("a sweep with no change published %d events", n-before)
	}
	if h.count(`SELECT count(*) FROM lifecycle_sweep WHERE after_id IS NULL AND finished_at IS NOT NULL`) != 1 {
		t.Fatal("the sweep did not finish")
	}

	h.sweep(30)
	_, _, _, s30 := h.customer("dana@acme-software.com")
	if s30.Engagement != 15 || s30.Band[1:] != "3" {
		t.Fatalf("day 30: engagement %v band %s, want 15 and level 3", s30.Engagement, s30.Band)
	}
	evs := h.events(dana)
	last := evs[len(evs)-1]
	if len(evs) != before+1 || last.Type != mapping.TypeScoreChanged || last.Data["band_to"] != s30.Band ||
		last.Data["trigger"].(map[string]any)["event_type"] != pipeline.TriggerSweep {
		t.Fatalf("day 30 events: %+v", evs[before:])
	}
	h.sweep(30) // not due again within the interval
	if n := len(h.events(dana)); n != before+1 {
		t.Fatal("a second sweep ran within the interval")
	}

	h.sweep(61)
	_, _, _, s61 := h.customer("dana@acme-software.com")
	_, _, _, h61 := h.customer("sam@shop.com")
	if h61.Health != 60 || !slices.ContainsFunc(h61.Contributions["health"], func(c mapping.Contribution) bool { return c.Rule == "silent" }) {
		t.Fatalf("day 61: a silent customer's health %v (%+v)", h61.Health, h61.Contributions)
	}
	samEvents := h.events(sam)
	if e := samEvents[len(samEvents)-1]; e.Type != mapping.TypeScoreChanged || !slices.Contains(e.Data["crossed"].([]any), any("health")) {
		t.Fatalf("day 61: sam's last event %+v", e)
	}
	if s61.Engagement >= s30.Engagement {
		t.Fatalf("day 61: engagement %v did not decay from %v", s61.Engagement, s30.Engagement)
	}

	h.sweep(91)
	_, _, _, s91 := h.customer("dana@acme-software.com")
	if s91.Engagement != 0 || len(s91.Contributions["engagement"]) != 0 {
		t.Fatalf("day 91: engagement %v (%+v), want 0", s91.Engagement, s91.Contributions)
	}
	if n := h.countArgs(`SELECT count(*) FROM customers WHERE id = $1 AND signals ? 'engagement'`, dana); n != 0 {
		t.Fatal("day 91: points past the horizon are still kept")
	}
}

// When two records of one person merge, the survivor takes the stage of
// higher rank (a move attributed to the merge, dated at it); the merged
// record's stints join the survivor's history, closed at the merge.
func TestAMergeKeepsTheFurthestStageAndBothHistories(t *testing.T) {
	h := newLifecycleHarness(t, pipeline.DefaultSweepConfig())
	h.at(0, "form", map[string]any{"email": "ana@acme-software.com", "title": "VP Sales", "form_name": "Request a demo"})
	h.at(1, "crm", map[string]any{"phone": "+14155550100", "type": "deal_won"})
	older, stage, _, _ := h.customer("ana@acme-software.com")
	younger := h.str(`SELECT customer_id::text FROM identities WHERE type = 'phone'`)
	if stage != "marketingqualifiedlead" || older == younger {
		t.Fatalf("before the merge: %q, %s / %s", stage, older, younger)
	}
	h.at(2, "form", map[string]any{"email": "ana@acme-software.com", "phone": "+1 415 555 0100"})
	if n := h.countArgs(`SELECT count(*) FROM customers WHERE id = $1 AND merged_into = $2`, younger, older); n != 1 {
		t.Fatal("not merged into the older record")
	}
	_, stage, status, _ := h.customer("ana@acme-software.com")
	if stage != "customer" || status != "active" {
		t.Fatalf("after the merge: stage %q status %q", stage, status)
	}
	merge := day0.Add(48 * time.Hour)
	var got []string
	for _, s := range h.history(older) {
		exited := "open"
		if s.Exited != nil {
			exited = s.Exited.Sub(day0).String()
		}
		got = append(got, s.Stage+" "+s.Rule+" "+s.Entered.Sub(day0).String()+"–"+exited)
	}
	want := []string{
		"marketingqualifiedlead mql 0s–" + merge.Sub(day0).String(),
		"customer customer 24h0m0s–48h0m0s",
		"customer merge 48h0m0s–open",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("history\n got %q\nwant %q", got, want)
	}
	if n := h.countArgs(`SELECT count(*) FROM stage_history WHERE customer_id = $1`, younger); n != 0 {
		t.Fatal("the merged record kept stints")
	}
	stages := stageEvents(t, h.events(older))
	if stages[len(stages)-1] != "customer" {
		t.Fatalf("the survivor's stage_changed events: %v", stages)
	}
}

// Erasing a referred person takes their referral off the referrer's
// count; erasing a referrer unlinks the people they referred.
func TestErasureUnlinksReferrals(t *testing.T) {
	h := newLifecycleHarness(t, pipeline.DefaultSweepConfig())
	h.at(0, "form", map[string]any{"email": "vera@acme-software.com"})
	h.at(1, "form", map[string]any{"email": "li@acme-software.com", "referred_by": "vera@acme-software.com"})
	h.at(1, "form", map[string]any{"email": "bo@acme-software.com", "referred_by": "vera@acme-software.com"})
	h.sweep(1)
	vera, _, _, _ := h.customer("vera@acme-software.com")
	li, _, _, _ := h.customer("li@acme-software.com")
	bo, _, _, _ := h.customer("bo@acme-software.com")
	if n := h.countArgs(`SELECT referral_count FROM customers WHERE id = $1`, vera); n != 2 {
		t.Fatalf("referral_count %d, want 2", n)
	}
	key := []byte("test-suppression-key-0123")
	if _, err := h.st.Erase(context.Background(), li, key, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	h.sweep(2)
	if n := h.countArgs(`SELECT referral_count FROM customers WHERE id = $1`, vera); n != 1 {
		t.Fatalf("after erasing a referred person: referral_count %d, want 1", n)
	}
	if _, err := h.st.Erase(context.Background(), vera, key, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if n := h.countArgs(`SELECT count(*) FROM customers WHERE id = $1 AND referred_by IS NULL`, bo); n != 1 {
		t.Fatal("the erased referrer is still linked from the person they referred")
	}
	if h.count(`SELECT count(*) FROM referrals`) != 0 {
		t.Fatal("referrals of erased people remain")
	}
}
