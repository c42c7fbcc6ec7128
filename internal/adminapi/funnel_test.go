package adminapi_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/internal/adminapi"
	"github.com/cyclehub/cyclehub/mapping"
)

func TestFunnelRefusesBadParameters(t *testing.T) {
	e := newAPIEnv(t, nil)
	for _, tt := range []struct {
		name, query, code string
	}{
		{"a from that is not a time", "from=yesterday", "invalid_from"},
		{"a to that is not a time", "to=2026-13-01", "invalid_to"},
		{"a time without a zone", "from=2026-01-01T00:00:00", "invalid_from"},
		{"a period that ends before it starts", "from=2026-03-01&to=2026-02-01", "invalid_period"},
		{"a period of no length", "from=2026-03-01&to=2026-03-01T00:00:00Z", "invalid_period"},
		{"a from after the default to (now)", "from=2999-01-01", "invalid_period"},
		{"a horizon that is not a duration", "horizon=soon", "invalid_horizon"},
		{"a horizon of zero days", "horizon=0", "invalid_horizon"},
		{"a negative horizon", "horizon=-5d", "invalid_horizon"},
		{"a negative duration", "horizon=-24h", "invalid_horizon"},
		{"a horizon over ten years", "horizon=3651d", "invalid_horizon"},
	} {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			code, body := e.doJSON("GET", "/v1/funnel?"+tt.query, "")
			if code != http.StatusBadRequest || body["error"] != tt.code || body["message"] == "" {
				t.Errorf("%d %v, want 400 %s with a reason", code, body, tt.code)
			}
		})
	}
}

func TestFunnelAnswersThePeriodWithTheConfiguredLadder(t *testing.T) {
	now := time.Date(2026, 4, 15, 12, 0, 0, 0, time.UTC)
	// Stages named otherwise than HubSpot's: the deal stages come from
	// the phases.
	e := newAPIEnv(t, func(a *adminapi.API) {
		a.Now = func() time.Time { return now }
		a.Ladder = func() []mapping.StageDef {
			return []mapping.StageDef{
				{Name: "partner", Rank: 0}, {Name: "client", Rank: 60, Phase: mapping.PhaseRetention},
				{Name: "lead", Rank: 10, Phase: mapping.PhaseAcquisition}, {Name: "deal", Rank: 50, Phase: mapping.PhaseConversion},
			}
		}
	})
	const a, b = "0198f3a0-0000-7000-8000-0000000000a1", "0198f3a0-0000-7000-8000-0000000000b1"
	e.exec(`INSERT INTO customers (id, version, created_at, updated_at, stage, stage_entered_at, customer_status, first_touch) VALUES
		('`+a+`', 1, '2026-03-02', '2026-03-20', 'client', '2026-03-20', 'active', '{"source":"google","channel":"paid_search","at":"2026-03-02T00:00:00Z"}'),
		('`+b+`', 1, '2026-03-03', '2026-03-03', 'lead', '2026-03-03', NULL, NULL)`,
		`INSERT INTO stage_history (customer_id, stage, entered_at, exited_at, direction) VALUES
		('`+a+`', 'lead', '2026-03-02', '2026-03-05', 'forward'), ('`+a+`', 'deal', '2026-03-05', '2026-03-20', 'forward'),
		('`+a+`', 'client', '2026-03-20', NULL, 'forward'), ('`+b+`', 'lead', '2026-03-03', NULL, 'forward')`,
		`INSERT INTO survey_responses (customer_id, source, response_id, kind, score, answered_at)
		 VALUES ('`+a+`', 'delighted', 'r1', 'nps', 10, '2026-03-25')`)

	t.Run("dates and a horizon in days", func(t *testing.T) {
		code, f := e.doJSON("GET", "/v1/funnel?from=2026-03-01&to=2026-04-01&horizon=30d", "")
		if code != http.StatusOK {
			t.Fatalf("%d %v", code, f)
		}
		period := f["period"].(map[string]any)
		if period["from"] != "2026-03-01T00:00:00Z" || period["to"] != "2026-04-01T00:00:00Z" || period["horizon_days"] != 30.0 {
			t.Errorf("period %v", period)
		}
		if ladder := fmt.Sprint(f["ladder"]); ladder != "[lead deal client]" {
			t.Errorf("ladder %s, want the configured ranked stages in rank order", ladder)
		}
		conv := f["conversions"].([]any)
		if len(conv) != 2 {
			t.Fatalf("conversions %v", conv)
		}
		c := conv[0].(map[string]any)
		if c["from_stage"] != "lead" || c["to_stage"] != "deal" || c["cohort"] != 2.0 || c["converted"] != 1.0 || c["rate"] != 0.5 {
			t.Errorf("conversion %v, want lead→deal 1 of 2", c)
		}
		if w := f["win_rate"].(map[string]any); w["won"] != 1.0 || w["lost"] != 0.0 || w["rate"] != 1.0 {
			t.Errorf("win rate %v, want the deal won into client", w)
		}
		if s := f["sales_cycle"].(map[string]any); s["mean_days"] != 15.0 {
			t.Errorf("sales cycle %v, want 15 days", s)
		}
		if nps := f["nps"].(map[string]any); nps["score"] != 100.0 {
			t.Errorf("nps %v", nps)
		}
		if leads := f["leads"].(map[string]any); leads["total"] != 2.0 {
			t.Errorf("leads %v", leads)
		}
		for _, key := range []string{"stages", "time_in_stage", "win_rate", "sales_cycle", "churn", "referrals"} {
			if _, ok := f[key]; !ok {
				t.Errorf("the answer lacks %s", key)
			}
		}
	})

	t.Run("the default period is the last 30 days before now", func(t *testing.T) {
		code, f := e.doJSON("GET", "/v1/funnel", "")
		if code != http.StatusOK {
			t.Fatalf("%d %v", code, f)
		}
		period := f["period"].(map[string]any)
		if period["from"] != "2026-03-16T12:00:00Z" || period["to"] != "2026-04-15T12:00:00Z" || period["horizon_days"] != 90.0 {
			t.Errorf("period %v, want 30 days to now and a 90-day horizon", period)
		}
	})

	t.Run("RFC 3339 times and a horizon as a duration", func(t *testing.T) {
		code, f := e.doJSON("GET", "/v1/funnel?from=2026-03-02T12:00:00%2B02:00&to=2026-03-03T00:00:00Z&horizon=48h", "")
		if code != http.StatusOK {
			t.Fatalf("%d %v", code, f)
		}
		period := f["period"].(map[string]any)
		if period["from"] != "2026-03-02T10:00:00Z" || period["horizon_days"] != 2.0 {
			t.Errorf("period %v", period)
		}
		if nps := f["nps"].(map[string]any); nps["score"] != nil || nps["responses"] != 0.0 {
			t.Errorf("nps %v, want null without answers", nps)
		}
		if r := f["referrals"].(map[string]any); r["rate"] != nil {
			t.Errorf("referrals %v, want a null rate without new customers", r)
		}
	})
}
