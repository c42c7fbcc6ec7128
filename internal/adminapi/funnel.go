package adminapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// maxHorizon bounds ?horizon= (ten years).
const maxHorizon = 3650 * 24 * time.Hour

// funnelWriteWindow is how long computing a funnel may take before its
// answer is written (the server's write timeout is for ordinary
// requests).
const funnelWriteWindow = 2 * time.Minute

// funnel answers GET /v1/funnel?from=&to=&horizon= with the funnel of the
// period [from, to) (pgstore.Funnel; docs/funnel.md defines each metric).
// from and to are RFC 3339 times or dates (YYYY-MM-DD, midnight UTC);
// to defaults to now and from to 30 days before to. horizon, how long a
// cohort has to reach the next stage, is days (90 or 90d) or a Go
// duration (2160h); 90 days by default. Conversions follow the ladder of
// the current rules (API.Ladder; funnelLadder), DOMAIN.md's without it.
// 400 with the reason when a parameter is bad.
func (a *API) funnel(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fq := pgstore.FunnelQuery{To: a.clock().UTC(), Horizon: pgstore.DefaultFunnelHorizon}
	var err error
	if v := q.Get("to"); v != "" {
		if fq.To, err = parseTimeParam(v); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_to", "to "+err.Error())
			return
		}
	}
	fq.From = fq.To.Add(-pgstore.DefaultFunnelPeriod)
	if v := q.Get("from"); v != "" {
		if fq.From, err = parseTimeParam(v); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_from", "from "+err.Error())
			return
		}
	}
	if !fq.From.Before(fq.To) {
		writeError(w, http.StatusBadRequest, "invalid_period", "from must be before to (the period is [from, to))")
		return
	}
	if v := q.Get("horizon"); v != "" {
		if fq.Horizon, err = parseHorizon(v); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_horizon", "horizon "+err.Error())
			return
		}
	}
	if a.Ladder != nil {
		fq.Ladder, fq.OpportunityStage, fq.WonStage = funnelLadder(a.Ladder())
	}
	// A long period over a large base takes seconds; the answer must
	// still get out.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(funnelWriteWindow))
	f, err := a.store.Funnel(r.Context(), fq)
	switch {
	case errors.Is(err, pgstore.ErrInvalidFunnel):
		writeError(w, http.StatusBadRequest, "invalid_query", err.Error())
		return
	case err != nil:
		a.unavailable(w, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

// funnelLadder reads the rules' ladder for a funnel: its ranked stages
// in order (unranked ones, such as other, are off the ladder), the first
// stage of the conversion phase as the one that opens a deal and the
// first of the retention phase as the one a won deal lands in (DOMAIN.md:
// opportunity and customer). A phase the ladder lacks leaves the store's
// default.
func funnelLadder(defs []mapping.StageDef) (ranked []string, opportunity, won string) {
	defs = slices.Clone(defs)
	slices.SortStableFunc(defs, func(a, b mapping.StageDef) int { return a.Rank - b.Rank })
	for _, d := range defs {
		if d.Rank <= 0 {
			continue
		}
		ranked = append(ranked, d.Name)
		if d.Phase == mapping.PhaseConversion && opportunity == "" {
			opportunity = d.Name
		}
		if d.Phase == mapping.PhaseRetention && won == "" {
			won = d.Name
		}
	}
	return ranked, opportunity, won
}

// parseTimeParam reads an RFC 3339 time or a date (YYYY-MM-DD, midnight
// UTC). Its error completes a sentence that starts with the parameter's
// name.
func parseTimeParam(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("must be an RFC 3339 time (2026-01-31T00:00:00Z) or a date (2026-01-31), got %q", v)
}

// parseHorizon reads a number of days (90, 90d) or a Go duration
// (2160h), positive and at most ten years.
func parseHorizon(v string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.Atoi(strings.TrimSuffix(v, "d")); err == nil {
		if n < 1 || n > int(maxHorizon/(24*time.Hour)) {
			return 0, fmt.Errorf("must be between 1 and 3650 days, got %q", v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, fmt.Errorf("must be days (90 or 90d) or a duration (2160h), got %q", v)
	}
	if d <= 0 || d > maxHorizon {
		return 0, fmt.Errorf("must be positive and at most 3650 days, got %q", v)
	}
	return d, nil
}

// clock is the API's time (Now, or time.Now).
func (a *API) clock() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
