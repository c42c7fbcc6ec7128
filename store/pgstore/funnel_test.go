package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/store/pgstore"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// Funnel fixture ids: one letter per person (see seedFunnel).
const (
	fA = "0198f3a0-0000-7000-8000-00000000000a"
	fB = "0198f3a0-0000-7000-8000-00000000000b"
	fC = "0198f3a0-0000-7000-8000-00000000000c"
	fD = "0198f3a0-0000-7000-8000-00000000000d"
	fE = "0198f3a0-0000-7000-8000-00000000000e"
	fF = "0198f3a0-0000-7000-8000-00000000000f"
	fG = "0198f3a0-0000-7000-8000-000000000010"
	fH = "0198f3a0-0000-7000-8000-000000000011"
	fI = "0198f3a0-0000-7000-8000-000000000012"
	fJ = "0198f3a0-0000-7000-8000-000000000013"
	fK = "0198f3a0-0000-7000-8000-000000000014"
	fL = "0198f3a0-0000-7000-8000-000000000015"
	fM = "0198f3a0-0000-7000-8000-000000000016"
	fN = "0198f3a0-0000-7000-8000-000000000017"
)

// The funnel period of the fixture: March 2026.
var (
	funnelFrom = day("2026-03-01")
	funnelTo   = day("2026-04-01")
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func execAll(t *testing.T, url string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
	}
}

// seedFunnel stores a small world whose March 2026 funnel is worked out
// by hand in the tests (every stint dated at midnight UTC):
//
//	A  new 03-02 (google/paid_search): lead 03-02, mql 03-05, sql 03-10, opportunity 03-12, customer 03-22
//	B  new 03-03 (google/paid_search, referred by D): lead 03-03, mql 03-20
//	C  new 03-10 (no touch): subscriber 03-10, lead 03-15
//	D  customer since 01-10, churn event 03-15, churned
//	E  customer since 2025-12-01, churn event 04-10 (after the period), churned
//	F  customer since 2025-11-01, churn event 02-01 (before the period), churned
//	G  new 03-05 (facebook/paid_social): lead 03-05, opportunity 03-08, lead 03-18 (deal lost)
//	H  new 03-04, merged into A (not counted)
//	I  new 03-06, erased (not counted)
//	J  lead 01-01, opportunity 02-01, customer 03-05 (won)
//	K  lead 01-15, customer 02-01, lead 03-20 (moved back out of the customer stages)
//	L  new 03-25 (organic_search, no utm source): lead 03-25, other 03-26 (disqualified)
//	M  customer since 01-01, churn event 03-10, won back 03-12: active
//	N  customer since 01-01, churned, but no churn event recorded
//
// NPS answers in March: 10, 9, 9, 8, 3; outside it or not counted: a 9
// in February, a CSAT 5, an NPS 11 (bad input) and one without a score.
func seedFunnel(t *testing.T, url string) {
	t.Helper()
	execAll(t, url, `
		INSERT INTO customers (id, version, created_at, updated_at, stage, stage_entered_at, customer_status, first_touch, referred_by, merged_into, erased_at) VALUES
		('`+fD+`', 1, '2025-12-01', '2026-03-15', 'customer', '2026-01-10', 'churned', NULL, NULL, NULL, NULL),
		('`+fA+`', 1, '2026-03-02', '2026-03-22', 'customer', '2026-03-22', 'active', '{"source":"google","channel":"paid_search","at":"2026-03-02T00:00:00Z"}', NULL, NULL, NULL),
		('`+fB+`', 1, '2026-03-03', '2026-03-20', 'marketingqualifiedlead', '2026-03-20', NULL, '{"source":"google","channel":"paid_search","at":"2026-03-03T00:00:00Z"}', '`+fD+`', NULL, NULL),
		('`+fC+`', 1, '2026-03-10', '2026-03-15', 'lead', '2026-03-15', NULL, NULL, NULL, NULL, NULL),
		('`+fE+`', 1, '2025-11-01', '2026-04-10', 'customer', '2025-12-01', 'churned', NULL, NULL, NULL, NULL),
		('`+fF+`', 1, '2025-10-01', '2026-02-01', 'customer', '2025-11-01', 'churned', NULL, NULL, NULL, NULL),
		('`+fG+`', 1, '2026-03-05', '2026-03-18', 'lead', '2026-03-18', NULL, '{"source":"facebook","channel":"paid_social","at":"2026-03-05T00:00:00Z"}', NULL, NULL, NULL),
		('`+fH+`', 2, '2026-03-04', '2026-03-04', 'lead', '2026-03-04', NULL, '{"source":"bing","channel":"paid_search","at":"2026-03-04T00:00:00Z"}', NULL, '`+fA+`', NULL),
		('`+fI+`', 2, '2026-03-06', '2026-03-06', NULL, NULL, NULL, NULL, NULL, NULL, '2026-03-07'),
		('`+fJ+`', 1, '2026-01-01', '2026-03-05', 'customer', '2026-03-05', 'active', NULL, NULL, NULL, NULL),
		('`+fK+`', 1, '2026-01-15', '2026-03-20', 'lead', '2026-03-20', NULL, NULL, NULL, NULL, NULL),
		('`+fL+`', 1, '2026-03-25', '2026-03-26', 'other', '2026-03-26', NULL, '{"channel":"organic_search","at":"2026-03-25T00:00:00Z"}', NULL, NULL, NULL),
		('`+fM+`', 1, '2025-12-01', '2026-03-12', 'customer', '2026-01-01', 'active', NULL, NULL, NULL, NULL),
		('`+fN+`', 1, '2025-12-01', '2026-03-12', 'customer', '2026-01-01', 'churned', NULL, NULL, NULL, NULL)`,
		`INSERT INTO stage_history (customer_id, stage, entered_at, exited_at, direction) VALUES
		('`+fA+`', 'lead', '2026-03-02', '2026-03-05', 'forward'),
		('`+fA+`', 'marketingqualifiedlead', '2026-03-05', '2026-03-10', 'forward'),
		('`+fA+`', 'salesqualifiedlead', '2026-03-10', '2026-03-12', 'forward'),
		('`+fA+`', 'opportunity', '2026-03-12', '2026-03-22', 'forward'),
		('`+fA+`', 'customer', '2026-03-22', NULL, 'forward'),
		('`+fB+`', 'lead', '2026-03-03', '2026-03-20', 'forward'),
		('`+fB+`', 'marketingqualifiedlead', '2026-03-20', NULL, 'forward'),
		('`+fC+`', 'subscriber', '2026-03-10', '2026-03-15', 'forward'),
		('`+fC+`', 'lead', '2026-03-15', NULL, 'forward'),
		('`+fD+`', 'lead', '2025-12-01', '2026-01-10', 'forward'),
		('`+fD+`', 'customer', '2026-01-10', NULL, 'forward'),
		('`+fE+`', 'lead', '2025-11-01', '2025-12-01', 'forward'),
		('`+fE+`', 'customer', '2025-12-01', NULL, 'forward'),
		('`+fF+`', 'lead', '2025-10-01', '2025-11-01', 'forward'),
		('`+fF+`', 'customer', '2025-11-01', NULL, 'forward'),
		('`+fG+`', 'lead', '2026-03-05', '2026-03-08', 'forward'),
		('`+fG+`', 'opportunity', '2026-03-08', '2026-03-18', 'forward'),
		('`+fG+`', 'lead', '2026-03-18', NULL, 'backward'),
		('`+fJ+`', 'lead', '2026-01-01', '2026-02-01', 'forward'),
		('`+fJ+`', 'opportunity', '2026-02-01', '2026-03-05', 'forward'),
		('`+fJ+`', 'customer', '2026-03-05', NULL, 'forward'),
		('`+fK+`', 'lead', '2026-01-15', '2026-02-01', 'forward'),
		('`+fK+`', 'customer', '2026-02-01', '2026-03-20', 'forward'),
		('`+fK+`', 'lead', '2026-03-20', NULL, 'backward'),
		('`+fL+`', 'lead', '2026-03-25', '2026-03-26', 'forward'),
		('`+fL+`', 'other', '2026-03-26', NULL, 'backward'),
		('`+fM+`', 'lead', '2025-12-01', '2026-01-01', 'forward'),
		('`+fM+`', 'customer', '2026-01-01', NULL, 'forward'),
		('`+fN+`', 'lead', '2025-12-01', '2026-01-01', 'forward'),
		('`+fN+`', 'customer', '2026-01-01', NULL, 'forward')`,
		`INSERT INTO timeline (customer_id, inbox_id, source, type, occurred_at) VALUES
		('`+fD+`', 1, 'billing', 'subscription_cancelled', '2026-03-15'),
		('`+fD+`', 2, 'billing', 'invoice_paid', '2026-02-15'),
		('`+fE+`', 3, 'billing', 'subscription_cancelled', '2026-04-10'),
		('`+fE+`', 4, 'billing', 'invoice_paid', '2026-03-10'),
		('`+fF+`', 5, 'billing', 'churned', '2026-02-01'),
		('`+fA+`', 6, 'crm', 'deal_won', '2026-03-22'),
		('`+fM+`', 7, 'billing', 'subscription_cancelled', '2026-03-10'),
		('`+fM+`', 8, 'billing', 'subscription_started', '2026-03-12'),
		('`+fN+`', 9, 'billing', 'invoice_failed', '2026-03-12')`,
		`INSERT INTO survey_responses (customer_id, source, response_id, kind, score, answered_at) VALUES
		('`+fA+`', 'delighted', 'r1', 'nps', 10, '2026-03-23'),
		('`+fD+`', 'delighted', 'r2', 'nps', 9, '2026-03-02'),
		('`+fE+`', 'delighted', 'r3', 'nps', 9, '2026-03-31T23:59:59Z'),
		('`+fJ+`', 'delighted', 'r4', 'nps', 8, '2026-03-06'),
		('`+fK+`', 'delighted', 'r5', 'nps', 3, '2026-03-01'),
		('`+fF+`', 'delighted', 'r6', 'nps', 9, '2026-02-15'),
		('`+fA+`', 'zendesk', 'r7', 'csat', 5, '2026-03-10'),
		('`+fB+`', 'delighted', 'r8', 'nps', 11, '2026-03-10'),
		('`+fC+`', 'delighted', 'r9', 'nps', NULL, '2026-03-10'),
		('`+fG+`', 'delighted', 'r10', 'nps', 0, '2026-04-01')`,
	)
}

func ptr[T any](v T) *T { return &v }

func approx(t *testing.T, what string, got, want *float64) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s = %v, want %v", what, fmtPtr(got), fmtPtr(want))
	case math.Abs(*got-*want) > 1e-9:
		t.Errorf("%s = %v, want %v", what, *got, *want)
	}
}

func fmtPtr(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}

func TestFunnelOfASeededMonthMatchesTheHandCount(t *testing.T) {
	st, url := pgtest.Open(t)
	seedFunnel(t, url)
	f, err := st.Funnel(context.Background(), pgstore.FunnelQuery{From: funnelFrom, To: funnelTo, Horizon: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the period is echoed, with the horizon in days", func(t *testing.T) {
		p := f.Period
		if !p.From.Equal(funnelFrom) || !p.To.Equal(funnelTo) || p.HorizonDays != 30 {
			t.Errorf("period %+v", p)
		}
		if want := !funnelTo.Add(30 * 24 * time.Hour).After(p.AsOf); p.HorizonComplete != want {
			t.Errorf("horizon_complete %v with as_of %s", p.HorizonComplete, p.AsOf)
		}
	})

	t.Run("stages count live customers now and the period's entries", func(t *testing.T) {
		want := []pgstore.StageCount{
			{Stage: "subscriber", Current: 0, Entries: 1, Entered: 1},
			{Stage: "lead", Current: 3, Entries: 7, Entered: 6}, // G entered twice
			{Stage: "marketingqualifiedlead", Current: 1, Entries: 2, Entered: 2},
			{Stage: "salesqualifiedlead", Current: 0, Entries: 1, Entered: 1},
			{Stage: "opportunity", Current: 0, Entries: 2, Entered: 2},
			{Stage: "customer", Current: 7, Entries: 2, Entered: 2}, // H merged and I erased are not counted
			{Stage: "evangelist"},
			{Stage: "other", Current: 1, Entries: 1, Entered: 1}, // off the ladder: after it
		}
		if len(f.Stages) != len(want) {
			t.Fatalf("stages %+v", f.Stages)
		}
		for i := range want {
			if f.Stages[i] != want[i] {
				t.Errorf("stage %d = %+v, want %+v", i, f.Stages[i], want[i])
			}
		}
	})

	t.Run("cohorts convert to the next stage or beyond within the horizon", func(t *testing.T) {
		want := []struct {
			from, to          string
			cohort, converted int64
			rate              *float64
		}{
			{"subscriber", "lead", 1, 1, ptr(1.0)},
			// A (mql), B (mql after 17 days), G (skipped to opportunity); not C, K, L.
			{"lead", "marketingqualifiedlead", 6, 3, ptr(0.5)},
			{"marketingqualifiedlead", "salesqualifiedlead", 2, 1, ptr(0.5)},
			{"salesqualifiedlead", "opportunity", 1, 1, ptr(1.0)},
			{"opportunity", "customer", 2, 1, ptr(0.5)},
			{"customer", "evangelist", 2, 0, ptr(0.0)},
		}
		if len(f.Conversions) != len(want) {
			t.Fatalf("conversions %+v", f.Conversions)
		}
		for i, w := range want {
			c := f.Conversions[i]
			if c.FromStage != w.from || c.ToStage != w.to || c.Cohort != w.cohort || c.Converted != w.converted {
				t.Errorf("conversion %d = %+v, want %+v", i, c, w)
			}
			approx(t, w.from+" rate", c.Rate, w.rate)
		}
	})

	t.Run("time in stage is the median and p90 of the stints that ended in the period", func(t *testing.T) {
		want := []struct {
			stage       string
			n           int64
			median, p90 float64
		}{
			{"subscriber", 1, 120, 120},
			{"lead", 4, 72, 72 + 0.7*336}, // 24, 72, 72, 408
			{"marketingqualifiedlead", 1, 120, 120},
			{"salesqualifiedlead", 1, 48, 48},
			{"opportunity", 3, 240, 240 + 0.8*528}, // 240, 240, 768 (J's began in February)
			{"customer", 1, 1128, 1128},            // K's, 47 days
		}
		if len(f.TimeInStage) != len(want) {
			t.Fatalf("time in stage %+v", f.TimeInStage)
		}
		for i, w := range want {
			s := f.TimeInStage[i]
			if s.Stage != w.stage || s.CompletedStints != w.n {
				t.Errorf("time in stage %d = %+v, want %s with %d stints", i, s, w.stage, w.n)
			}
			approx(t, w.stage+" median", s.MedianHours, &w.median)
			approx(t, w.stage+" p90", s.P90Hours, &w.p90)
		}
	})

	t.Run("leads are the period's new live records by first-touch source and channel", func(t *testing.T) {
		want := []pgstore.LeadSource{
			{Source: ptr("google"), Channel: "paid_search", Leads: 2},
			{Source: ptr("facebook"), Channel: "paid_social", Leads: 1},
			{Source: nil, Channel: "direct", Leads: 1},
			{Source: nil, Channel: "organic_search", Leads: 1},
		}
		if f.Leads.Total != 5 || len(f.Leads.BySource) != len(want) {
			t.Fatalf("leads %+v", f.Leads)
		}
		for i, w := range want {
			g := f.Leads.BySource[i]
			if (g.Source == nil) != (w.Source == nil) || g.Source != nil && *g.Source != *w.Source || g.Channel != w.Channel || g.Leads != w.Leads {
				t.Errorf("source %d = %+v, want %+v", i, g, w)
			}
		}
	})

	t.Run("referral rate is referred new records over new records", func(t *testing.T) {
		r := f.Referrals
		if r.New != 5 || r.Referred != 1 {
			t.Errorf("referrals %+v", r)
		}
		approx(t, "referral rate", r.Rate, ptr(0.2))
	})

	t.Run("win rate counts opportunity stints closed forward to customer or backward", func(t *testing.T) {
		w := f.WinRate
		if w.Won != 2 || w.Lost != 1 { // A and J won, G lost
			t.Errorf("win rate %+v", w)
		}
		approx(t, "win rate", w.Rate, ptr(2.0/3))
	})

	t.Run("sales cycle is the mean days from opportunity to a won close", func(t *testing.T) {
		s := f.SalesCycle
		if s.Won != 2 {
			t.Errorf("sales cycle %+v", s)
		}
		approx(t, "sales cycle", s.MeanDays, ptr((10.0+32)/2)) // A 10 days, J 32
	})

	t.Run("churn is customers lost over customers at period start", func(t *testing.T) {
		// At start: D, E, K, M (F churned before the period, N's churn
		// has no date); lost: D (churn event) and K (moved back to lead);
		// E churned only in April, M was won back.
		c := f.Churn
		if c.CustomersAtStart != 4 || c.Lost != 2 {
			t.Errorf("churn %+v", c)
		}
		approx(t, "churn rate", c.Rate, ptr(0.5))
	})

	t.Run("nps counts the period's answers on the 0 to 10 scale", func(t *testing.T) {
		n := f.NPS
		if n.Responses != 5 || n.Promoters != 3 || n.Passives != 1 || n.Detractors != 1 {
			t.Errorf("nps %+v", n)
		}
		approx(t, "nps", n.Score, ptr(40.0))
	})
}

func TestFunnelEdgeCases(t *testing.T) {
	st, url := pgtest.Open(t)
	seedFunnel(t, url)
	ctx := context.Background()

	t.Run("a shorter horizon converts fewer of the cohort", func(t *testing.T) {
		f, err := st.Funnel(ctx, pgstore.FunnelQuery{From: funnelFrom, To: funnelTo, Horizon: 10 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		c := f.Conversions[1] // lead: B reached mql only after 17 days
		if c.FromStage != "lead" || c.Cohort != 6 || c.Converted != 2 {
			t.Errorf("lead conversion with a 10-day horizon %+v", c)
		}
	})

	t.Run("an empty period has counts of zero and null rates, never NaN", func(t *testing.T) {
		f, err := st.Funnel(ctx, pgstore.FunnelQuery{From: day("2020-01-01"), To: day("2020-02-01")})
		if err != nil {
			t.Fatal(err)
		}
		if f.Period.HorizonDays != 90 || !f.Period.HorizonComplete {
			t.Errorf("period %+v (default horizon 90 days)", f.Period)
		}
		for _, s := range f.Stages {
			if s.Entries != 0 || s.Entered != 0 {
				t.Errorf("stage %+v has entries in an empty period", s)
			}
		}
		if f.Stages[1].Current != 3 {
			t.Errorf("current counts are as of now, whatever the period: %+v", f.Stages[1])
		}
		for _, c := range f.Conversions {
			if c.Cohort != 0 || c.Rate != nil {
				t.Errorf("conversion %+v, want an empty cohort and a null rate", c)
			}
		}
		if len(f.TimeInStage) != 0 || f.Leads.Total != 0 || len(f.Leads.BySource) != 0 {
			t.Errorf("time in stage %+v, leads %+v", f.TimeInStage, f.Leads)
		}
		if f.WinRate.Rate != nil || f.SalesCycle.MeanDays != nil || f.Churn.Rate != nil || f.NPS.Score != nil || f.Referrals.Rate != nil {
			t.Errorf("rates %+v %+v %+v %+v %+v, want null", f.WinRate, f.SalesCycle, f.Churn, f.NPS, f.Referrals)
		}
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatalf("an empty funnel must encode: %v", err)
		}
		for _, want := range []string{`"score":null`, `"rate":null`, `"mean_days":null`, `"time_in_stage":[]`, `"by_source":[]`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("JSON lacks %s: %s", want, b)
			}
		}
	})

	t.Run("a period without surveys has a null NPS", func(t *testing.T) {
		f, err := st.Funnel(ctx, pgstore.FunnelQuery{From: day("2026-03-03"), To: day("2026-03-05")})
		if err != nil {
			t.Fatal(err)
		}
		if f.NPS.Responses != 0 || f.NPS.Score != nil {
			t.Errorf("nps %+v", f.NPS)
		}
		if f.Leads.Total != 1 { // B (H, merged, is not)
			t.Errorf("leads %+v", f.Leads)
		}
	})

	t.Run("the ladder passed in decides the conversions", func(t *testing.T) {
		f, err := st.Funnel(ctx, pgstore.FunnelQuery{From: funnelFrom, To: funnelTo, Horizon: 30 * 24 * time.Hour,
			Ladder: []string{"lead", "opportunity", "customer"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Conversions) != 2 || f.Conversions[0].ToStage != "opportunity" || f.Conversions[0].Converted != 2 {
			t.Errorf("conversions %+v, want lead→opportunity converting A and G", f.Conversions)
		}
		var names []string
		for _, s := range f.Stages {
			names = append(names, s.Stage)
		}
		if got := strings.Join(names, ","); got != "lead,opportunity,customer,marketingqualifiedlead,other,salesqualifiedlead,subscriber" {
			t.Errorf("stages %s: the ladder first, then the others by name", got)
		}
	})

	t.Run("a ladder without the deal stages has no win rate", func(t *testing.T) {
		f, err := st.Funnel(ctx, pgstore.FunnelQuery{From: funnelFrom, To: funnelTo, Ladder: []string{"lead", "marketingqualifiedlead"}})
		if err != nil {
			t.Fatal(err)
		}
		if f.WinRate.Rate != nil || f.Churn.Rate != nil || f.WinRate.Won != 0 {
			t.Errorf("win rate %+v, churn %+v", f.WinRate, f.Churn)
		}
	})

	for _, tt := range []struct {
		name string
		q    pgstore.FunnelQuery
	}{
		{"a query without a period is refused", pgstore.FunnelQuery{}},
		{"a period that ends before it starts is refused", pgstore.FunnelQuery{From: funnelTo, To: funnelFrom}},
		{"an empty period of no length is refused", pgstore.FunnelQuery{From: funnelFrom, To: funnelFrom}},
		{"a negative horizon is refused", pgstore.FunnelQuery{From: funnelFrom, To: funnelTo, Horizon: -time.Hour}},
		{"a ladder naming a stage twice is refused", pgstore.FunnelQuery{From: funnelFrom, To: funnelTo, Ladder: []string{"lead", "lead"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := st.Funnel(ctx, tt.q); !errors.Is(err, pgstore.ErrInvalidFunnel) {
				t.Errorf("err %v, want ErrInvalidFunnel", err)
			}
		})
	}
}
