package configs_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/mapping"
)

func defaultModel(t testing.TB) *mapping.Model {
	t.Helper()
	m, err := configs.LoadRules("rules")
	if err != nil {
		t.Fatalf("configs/rules:\n%v", err)
	}
	return m
}

var day0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// step is one event of a journey, days after day0.
type step struct {
	day    float64
	typ    string
	traits map[string]string
	props  map[string]any
	// referrals, when set, is the customer's referral count from then on.
	referrals int
}

// journey plays steps through Apply and Evaluate as the pipeline does and
// returns the customer and every stage move, as "from>to (rule)".
func journey(t *testing.T, m *mapping.Model, steps []step) (*mapping.Customer, []string) {
	t.Helper()
	c := mapping.NewCustomer("c-1", &mapping.Event{OccurredAt: day0})
	var moves []string
	for i, s := range steps {
		at := day0.Add(time.Duration(s.day * 24 * float64(time.Hour)))
		ev := &mapping.Event{Source: "test", Type: s.typ, OccurredAt: at, Traits: s.traits, Properties: s.props}
		if ev.Traits == nil {
			ev.Traits = map[string]string{}
		}
		if e := ev.Traits["email"]; e != "" {
			ev.Identities = []mapping.Identity{{Type: mapping.IdentityEmail, Value: e}}
		}
		mapping.Enrich(ev)
		c.Apply(ev, fmt.Sprintf("r%d", i), mapping.DefaultSurvivorship())
		if s.referrals > 0 {
			c.Lifecycle.ReferralCount = s.referrals
		}
		ch := m.Evaluate(c, ev, at)
		if len(ch.RuleErrors) > 0 {
			t.Fatalf("step %d: rules failed: %v", i, ch.RuleErrors)
		}
		if ch.StageChanged() {
			moves = append(moves, fmt.Sprintf("%s>%s (%s)", ch.StageFrom, ch.StageTo, ch.StageRule))
		}
	}
	return c, moves
}

func checkMoves(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Fatalf("stage moves\n got %q\nwant %q", got, want)
	}
}

func TestABusinessEmailVPWhoRequestsADemoBecomesAnMQLThenACustomerThenAnEvangelist(t *testing.T) {
	m := defaultModel(t)
	vp := map[string]string{"email": "lena.berg@nordwind-logistik.de", "job_title": "VP of Operations", "company": "Nordwind Logistik", "country": "DE"}
	c, moves := journey(t, m, []step{
		{day: 0, typ: "form_submitted", traits: vp, props: map[string]any{"page_url": "https://www.example.com/demo", "form_name": "Request a demo"}},
		{day: 12, typ: "deal_won", props: map[string]any{"amount": json.Number("24000")}},
		{day: 40, typ: "survey_answered", props: map[string]any{"nps_score": json.Number("10"), "response_id": "r1"}},
		{day: 41, typ: "form_submitted", props: map[string]any{"form_name": "newsletter"}, referrals: 1},
	})
	checkMoves(t, moves, ">marketingqualifiedlead (mql)", "marketingqualifiedlead>customer (customer)", "customer>evangelist (evangelist)")
	if c.Lifecycle.Status != mapping.StatusActive || c.Lifecycle.Scores.NPSCategory != "promoter" {
		t.Fatalf("lifecycle %+v", c.Lifecycle)
	}
	checkLifecycleGolden(t, "vp-demo-customer-evangelist", c.Lifecycle)
}

func TestThreeUrgentTicketsAndAnNPSOfThreeMakeACustomerAtRisk(t *testing.T) {
	m := defaultModel(t)
	urgent := func(id string) map[string]any {
		return map[string]any{"ticket_id": id, "ticket_priority": "urgent", "ticket_status": "open"}
	}
	c, moves := journey(t, m, []step{
		{day: 0, typ: "deal_won", traits: map[string]string{"email": "ops@acme.example", "company": "Acme"}},
		{day: 5, typ: "ticket_created", props: urgent("1")},
		{day: 6, typ: "ticket_created", props: urgent("2")},
		{day: 7, typ: "ticket_created", props: urgent("3")},
		{day: 8, typ: "survey_answered", props: map[string]any{"nps_score": json.Number("3"), "response_id": "r2"}},
	})
	checkMoves(t, moves, ">customer (customer)")
	if c.Lifecycle.Status != mapping.StatusAtRisk || c.Lifecycle.Scores.Health > 50 {
		t.Fatalf("status %q health %v, want at_risk and red", c.Lifecycle.Status, c.Lifecycle.Scores.Health)
	}
	checkLifecycleGolden(t, "urgent-tickets-detractor-at-risk", c.Lifecycle)
}

func TestStagesMoveForwardOnlyUnlessARuleMayGoBackAndSaysWhy(t *testing.T) {
	m := defaultModel(t)
	c, moves := journey(t, m, []step{
		{day: 0, typ: "form_submitted", traits: map[string]string{"email": "sam@gmail.com"}},
		{day: 1, typ: "deal_created"},
		{day: 2, typ: "subscribed"}, // an earlier stage's signal moves nothing back
		{day: 3, typ: "deal_lost"},
		{day: 4, typ: "disqualified"},
		{day: 5, typ: "deal_won"}, // unranked "other" is never left automatically
	})
	checkMoves(t, moves, ">lead (lead)", "lead>opportunity (opportunity)", "opportunity>lead (deal_lost)", "lead>other (disqualified)")
	if c.Lifecycle.Stage != "other" {
		t.Fatalf("stage %q", c.Lifecycle.Stage)
	}
}

func TestEngagementIsCappedPerGroupAndFadesWithTime(t *testing.T) {
	m := defaultModel(t)
	var steps []step
	for i := range 15 {
		steps = append(steps, step{day: float64(i) / 100, typ: "page_viewed", traits: map[string]string{"email": "v@example.org"},
			props: map[string]any{"page_url": fmt.Sprintf("https://www.example.com/blog/%d", i)}})
	}
	steps = append(steps, step{day: 0.5, typ: "page_viewed", props: map[string]any{"page_url": "https://www.example.com/pricing"}})
	c, _ := journey(t, m, steps)
	if got := c.Lifecycle.Scores.Engagement; got < 19.8 || got > 20 {
		t.Fatalf("engagement %v, want 20 less half a day's fading (10 capped page views + 10 pricing)", got)
	}
	for _, tc := range []struct {
		days float64
		want float64
	}{{30, 10}, {60, 5}, {91, 0}} {
		at := day0.Add(time.Duration(tc.days * 24 * float64(time.Hour)))
		m.Evaluate(c, nil, at)
		if got := c.Lifecycle.Scores.Engagement; got < tc.want-0.2 || got > tc.want+0.2 {
			t.Errorf("after %v days engagement %v, want about %v", tc.days, got, tc.want)
		}
	}
	if len(c.Lifecycle.Signals.Engagement) != 0 {
		t.Errorf("contributions past the horizon were kept: %v", c.Lifecycle.Signals.Engagement)
	}
}

func TestAFreeMailStudentIsAPoorFitWhateverTheyDo(t *testing.T) {
	m := defaultModel(t)
	c, moves := journey(t, m, []step{
		{day: 0, typ: "form_submitted", traits: map[string]string{"email": "kim@gmail.com", "job_title": "Student"},
			props: map[string]any{"form_name": "Request a demo"}},
		{day: 1, typ: "webinar_attended"},
		{day: 2, typ: "email_clicked"},
	})
	checkMoves(t, moves, ">lead (lead)")
	if c.Lifecycle.Scores.Fit != 0 || !strings.HasPrefix(c.Lifecycle.Scores.Band, "C") {
		t.Fatalf("scores %+v", c.Lifecycle.Scores)
	}
}

func checkLifecycleGolden(t *testing.T, name string, lc mapping.Lifecycle) {
	t.Helper()
	checkJSONGolden(t, filepath.Join("rules", "testdata", name+".golden.json"), lc)
}

func BenchmarkDefaultRulesPerEvent(b *testing.B) {
	m := defaultModel(b)
	c := mapping.NewCustomer("c-1", &mapping.Event{OccurredAt: day0})
	ev := &mapping.Event{Source: "form", Type: "form_submitted", OccurredAt: day0,
		Traits:     map[string]string{"email": "lena.berg@nordwind-logistik.de", "job_title": "VP of Operations", "country": "DE"},
		Properties: map[string]any{"page_url": "https://www.example.com/demo"},
		Identities: []mapping.Identity{{Type: mapping.IdentityEmail, Value: "lena.berg@nordwind-logistik.de"}}}
	mapping.Enrich(ev)
	c.Apply(ev, "r", mapping.DefaultSurvivorship())
	base := c.Lifecycle
	b.ReportAllocs()
	for b.Loop() {
		c.Lifecycle = base // a person with a typical record, not one that grew for b.N events
		m.Evaluate(c, ev, ev.OccurredAt)
	}
}

// Broken rules are reported all at once, each with its file and key: a
// model with any problem is never half loaded.
func TestBrokenRulesAreReportedAllAtOnceWithTheirPlace(t *testing.T) {
	dir := t.TempDir()
	files, _ := filepath.Glob("rules/*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		switch filepath.Base(f) {
		case "stages.yaml":
			text = strings.Replace(text, "to: lead\n", "to: nowhere\n", 1)
		case "engagement.yaml":
			text = strings.Replace(text, `event.type == "email_clicked"`, `event.type == = "email_clicked"`, 1)
		case "fit.yaml":
			text = strings.Replace(text, "points: 20\n", "points: 20\n      weight: 2\n", 1)
		case "health.yaml":
			text = strings.Replace(text, "when: customer.days_since_seen > 60", "when: customer.days_since_seen", 1)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err := configs.LoadRules(dir)
	if err == nil {
		t.Fatal("broken rules loaded")
	}
	var errs configs.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("not a list of problems: %v", err)
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{"rules/fit.yaml", "weight", "nowhere", "email_click", "silent"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the problems do not mention %q", want)
		}
	}
}

// An event that arrives late (it happened before the current stage was
// entered) still moves the stage, but never dates the move into the past.
func TestALateEventNeverDatesAStageMoveBeforeTheCurrentStint(t *testing.T) {
	m := defaultModel(t)
	c, _ := journey(t, m, []step{{day: 10, typ: "form_submitted", traits: map[string]string{"email": "kai@example.org"}}})
	entered := c.Lifecycle.StageEnteredAt
	late := &mapping.Event{Source: "crm", Type: "deal_won", OccurredAt: entered.Add(-5 * 24 * time.Hour), Traits: map[string]string{}}
	ch := m.Evaluate(c, late, entered.Add(24*time.Hour))
	if ch.StageTo != "customer" || !c.Lifecycle.StageEnteredAt.Equal(entered) || ch.TimeInPrevious != 0 {
		t.Fatalf("stage %q entered %v (was %v), time in previous %v", ch.StageTo, c.Lifecycle.StageEnteredAt, entered, ch.TimeInPrevious)
	}
}

// Fit rules read the traits a lead has: a missing one falls back on the
// next (`??`), and titles are graded by their most specific words.
func TestFitGradesTitlesAndFallsBackOnTheTraitsALeadHas(t *testing.T) {
	m := defaultModel(t)
	for _, tc := range []struct {
		name   string
		traits map[string]string
		rule   string
		points float64
	}{
		{"a vice president is a VP, not a president", map[string]string{"job_title": "Vice President of Sales"}, "seniority", 20},
		{"a president is C-level", map[string]string{"job_title": "President"}, "seniority", 25},
		{"a head of is a VP", map[string]string{"job_title": "Head of Growth"}, "seniority", 20},
		{"an analyst is staff", map[string]string{"job_title": "Data Analyst"}, "seniority", 5},
		{"no country: the phone's country counts", map[string]string{"phone_country": "BR"}, "target_geography", 10},
		{"the country wins over the phone's", map[string]string{"country": "JP", "phone_country": "BR"}, "target_geography", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			traits := map[string]string{"email": "x@example.org"}
			for k, v := range tc.traits {
				traits[k] = v
			}
			c, _ := journey(t, m, []step{{day: 0, typ: "form_submitted", traits: traits}})
			got := 0.0
			for _, ct := range c.Lifecycle.Scores.Contributions["fit"] {
				if ct.Rule == tc.rule {
					got = ct.Points
				}
			}
			if got != tc.points {
				t.Fatalf("%s gave %v points, want %v (fit %+v)", tc.rule, got, tc.points, c.Lifecycle.Scores.Contributions["fit"])
			}
		})
	}
}
