package mapping

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// LifecycleChange says what an evaluation changed.
type LifecycleChange struct {
	StageFrom, StageTo   string
	StageRule, Reason    string
	Direction            string // forward or backward
	TimeInPrevious       time.Duration
	StatusFrom, StatusTo string
	StatusRule           string
	BandFrom, BandTo     string
	// Crossed names the scores that crossed a threshold.
	Crossed []string
	// Changed says the lifecycle state (scores, signals, stage, status)
	// differs and must be stored.
	Changed bool
	// RuleErrors are rules that failed at run time (treated as not
	// holding), by rule id.
	RuleErrors map[string]string
}

// StageChanged reports a stage move.
func (ch LifecycleChange) StageChanged() bool { return ch.StageFrom != ch.StageTo }

// ScoreEvent reports a change worth publishing: a band change, a
// threshold crossing or a status change (not every point). A first
// scoring that moves the stage is published by stage_changed alone (it
// carries the scores and status).
func (ch LifecycleChange) ScoreEvent() bool {
	if ch.BandFrom == "" && ch.StageChanged() {
		return false
	}
	return ch.BandFrom != ch.BandTo || len(ch.Crossed) > 0 || ch.StatusFrom != ch.StatusTo
}

// signalHorizon is how long tickets count for support load.
const signalHorizon = 90 * 24 * time.Hour

// Evaluate folds ev (nil for a time-based re-evaluation) into c's
// signals, recomputes its scores at now, and moves its stage and status by
// the rules. A stage move is dated at the event, or at now without one.
func (m *Model) Evaluate(c *Customer, ev *Event, now time.Time) LifecycleChange {
	lc := &c.Lifecycle
	ch := LifecycleChange{StageFrom: lc.Stage, StatusFrom: lc.Status, BandFrom: lc.Scores.Band}
	at := now
	signalsChanged := false
	if ev != nil {
		at = ev.OccurredAt
		signalsChanged = lc.Signals.observe(ev)
	}
	if lc.Signals.prune(now, m.horizon) {
		signalsChanged = true
	}

	env := ruleEnv{Now: now, Customer: m.customerEnv(c, now)}
	if ev != nil {
		env.Event = eventEnv{Type: ev.Type, Source: ev.Source, Provider: ev.Provider,
			Properties: plainProperties(ev.Properties), Traits: traitValues(ev.Traits)}
	}
	env.Scores = scoresEnv{Fit: lc.Scores.Fit, Engagement: lc.Scores.Engagement, Health: lc.Scores.Health, HealthZone: lc.Scores.HealthZone,
		Band: lc.Scores.Band, NPSCategory: lc.Scores.NPSCategory}
	fail := func(id string, err error) {
		if ch.RuleErrors == nil {
			ch.RuleErrors = map[string]string{}
		}
		ch.RuleErrors[id] = err.Error()
	}
	old := lc.Scores
	scores := Scores{Model: m.Version, Contributions: map[string][]Contribution{}}

	// Engagement: the event earns points (capped per group), all fade.
	if ev != nil {
		for _, r := range m.engagement {
			pts, ok := m.points(r, &env, fail)
			if !ok {
				continue
			}
			env.Event.Matched = append(env.Event.Matched, r.id)
			if pts == 0 {
				continue
			}
			if pts = m.capped(lc.Signals.Engagement, r.group, pts, ev.OccurredAt); pts != 0 {
				lc.Signals.Engagement = append(lc.Signals.Engagement, Earned{Rule: r.id, Group: r.group, Points: pts, At: ev.OccurredAt})
				signalsChanged = true
			}
		}
	}
	byRule := map[string]float64{}
	for _, e := range lc.Signals.Engagement {
		v := e.Points * m.decay(now.Sub(e.At))
		scores.Engagement += v
		byRule[e.Rule] += v
	}
	scores.Contributions["engagement"] = contributions(byRule)
	scores.Engagement = clamp(scores.Engagement)
	env.Scores.Engagement = scores.Engagement

	// Fit: who they are now.
	scores.Fit, scores.Contributions["fit"] = m.sum(m.fit, &env, fail)
	scores.Fit = clamp(scores.Fit)
	env.Scores.Fit = scores.Fit

	if n := lc.Signals.NPS; n != nil {
		scores.NPSCategory = NPSCategory(strconv.Itoa(int(n.Score)))
	}
	env.Scores.NPSCategory = scores.NPSCategory

	// Health: a base less support load, unhappy answers, silence.
	h, hc := m.sum(m.health, &env, fail)
	scores.Health, scores.Contributions["health"] = clamp(m.healthBase+h), hc
	env.Scores.Health = scores.Health
	scores.HealthZone = m.healthZone(scores.Health)
	env.Scores.HealthZone = scores.HealthZone

	scores.Band = band(m.fitBands, scores.Fit) + band(m.engBands, scores.Engagement)
	env.Scores.Band = scores.Band
	lc.Scores = scores
	ch.BandTo = scores.Band
	for _, name := range []string{"fit", "engagement", "health"} {
		for _, t := range m.thresholds[name] {
			a, b := old.value(name), scores.value(name)
			if (a < t) != (b < t) && old.Model != "" {
				ch.Crossed = append(ch.Crossed, name)
				break
			}
		}
	}

	// Stage: explicit backward moves first, else the furthest forward.
	cur := m.ladder[lc.Stage]
	var forward, back *stageRule
	for i := range m.stageRules {
		r := &m.stageRules[i]
		if r.To == lc.Stage || !m.holds(r.when, &env, r.ID, fail) {
			continue
		}
		switch to := m.ladder[r.To]; {
		case r.Backward && back == nil:
			back = r
		case lc.Stage != "" && cur.Rank == 0:
			// Unranked (other): no automatic move out of it.
		case to.Rank > cur.Rank && (forward == nil || to.Rank > m.ladder[forward.To].Rank):
			forward = r
		}
	}
	move := back
	if move == nil {
		move = forward
	}
	if move != nil {
		ch.StageTo, ch.StageRule, ch.Reason = move.To, move.ID, move.Reason
		ch.Direction = "forward"
		if m.ladder[move.To].Rank < cur.Rank {
			ch.Direction = "backward"
		}
		// A late event cannot date a move before the current stint began.
		entered := at
		if entered.Before(lc.StageEnteredAt) {
			entered = lc.StageEnteredAt
		}
		if !lc.StageEnteredAt.IsZero() {
			ch.TimeInPrevious = entered.Sub(lc.StageEnteredAt)
		}
		lc.Stage, lc.StageEnteredAt = move.To, entered
		env.Customer.Stage = move.To
	} else {
		ch.StageTo = lc.Stage
	}

	// Status: first rule that holds; customers default to active.
	status := ""
	if m.ladder[lc.Stage].Phase == PhaseRetention || m.ladder[lc.Stage].Phase == PhaseAdvocacy {
		status = StatusActive
	}
	for _, r := range m.status {
		if m.holds(r.when, &env, r.ID, fail) {
			status, ch.StatusRule = r.To, r.ID
			break
		}
	}
	lc.Status, ch.StatusTo = status, status
	// A customer's health zone change is news (a lead's health is not).
	if ph := m.ladder[lc.Stage].Phase; (ph == PhaseRetention || ph == PhaseAdvocacy) && old.HealthZone != "" &&
		old.HealthZone != scores.HealthZone && !slices.Contains(ch.Crossed, "health") {
		ch.Crossed = append(ch.Crossed, "health")
	}
	ch.Changed = signalsChanged || ch.StageChanged() || ch.StatusFrom != ch.StatusTo || !old.equal(scores)
	return ch
}

// healthZone grades a health score by the model's bounds.
func (m *Model) healthZone(h float64) string {
	switch {
	case h <= m.healthRed:
		return "red"
	case h <= m.healthYel:
		return "yellow"
	}
	return "green"
}

// equal compares two scores, their explanations included.
func (s Scores) equal(o Scores) bool {
	if s.Fit != o.Fit || s.Engagement != o.Engagement || s.Health != o.Health || s.HealthZone != o.HealthZone || s.Band != o.Band ||
		s.NPSCategory != o.NPSCategory || s.Model != o.Model || len(s.Contributions) != len(o.Contributions) {
		return false
	}
	for k, v := range s.Contributions {
		if !slices.Equal(v, o.Contributions[k]) {
			return false
		}
	}
	return true
}

// value returns a score by name.
func (s Scores) value(name string) float64 {
	switch name {
	case "fit":
		return s.Fit
	case "engagement":
		return s.Engagement
	}
	return s.Health
}

func (m *Model) holds(p *vm.Program, env *ruleEnv, id string, fail func(string, error)) bool {
	if p == nil {
		return false
	}
	out, err := expr.Run(p, env)
	if err != nil {
		fail(id, err)
		return false
	}
	b, _ := out.(bool)
	return b
}

// points returns a rule's points when it holds.
func (m *Model) points(r scoreRule, env *ruleEnv, fail func(string, error)) (float64, bool) {
	if !m.holds(r.when, env, r.id, fail) {
		return 0, false
	}
	out, err := expr.Run(r.points, env)
	if err != nil {
		fail(r.id, err)
		return 0, false
	}
	f, _ := out.(float64)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		fail(r.id, fmt.Errorf("points are not a number"))
		return 0, false
	}
	return f, true
}

// sum adds the points of every rule that holds.
func (m *Model) sum(rules []scoreRule, env *ruleEnv, fail func(string, error)) (float64, []Contribution) {
	total, byRule := 0.0, map[string]float64{}
	for _, r := range rules {
		if pts, ok := m.points(r, env, fail); ok && pts != 0 {
			total += pts
			byRule[r.id] += pts
		}
	}
	return total, contributions(byRule)
}

// capped limits positive points by the group's daily and total caps.
func (m *Model) capped(earned []Earned, group string, pts float64, at time.Time) float64 {
	g, ok := m.groups[group]
	if !ok || pts <= 0 {
		return pts
	}
	day, total := 0.0, 0.0
	y, mo, d := at.UTC().Date()
	for _, e := range earned {
		if e.Group != group || e.Points <= 0 {
			continue
		}
		total += e.Points
		if ey, em, ed := e.At.UTC().Date(); ey == y && em == mo && ed == d {
			day += e.Points
		}
	}
	if g.PerDay > 0 {
		pts = min(pts, g.PerDay-day)
	}
	if g.Total > 0 {
		pts = min(pts, g.Total-total)
	}
	return max(pts, 0)
}

// decay is the share of its points an earned contribution keeps at age.
func (m *Model) decay(age time.Duration) float64 {
	switch {
	case age >= m.horizon:
		return 0
	case m.halfLife <= 0 || age <= 0:
		return 1
	}
	return math.Pow(0.5, float64(age)/float64(m.halfLife))
}

func (m *Model) customerEnv(c *Customer, now time.Time) customerEnv {
	lc := &c.Lifecycle
	days := func(t time.Time) float64 {
		if t.IsZero() {
			return -1
		}
		return now.Sub(t).Hours() / 24
	}
	e := customerEnv{
		ID: c.ID, Stage: lc.Stage, Status: lc.Status, Traits: traitValues(c.TraitMap()),
		DaysSinceCreated: days(c.CreatedAt), DaysSinceSeen: days(lc.Signals.LastSeenAt), DaysInStage: days(lc.StageEnteredAt),
		ReferralCount: lc.ReferralCount, Referred: lc.ReferredBy != "", NPS: -1, CSAT: -1,
	}
	for _, t := range lc.Signals.Tickets {
		e.Tickets90d++
		if p := strings.ToLower(t.Priority); p == "urgent" || p == "high" {
			e.UrgentTickets90d++
		}
		if s := strings.ToLower(t.Status); !slices.Contains([]string{"solved", "closed", "resolved"}, s) {
			e.OpenTickets++
		}
	}
	if n := lc.Signals.NPS; n != nil {
		e.NPS, e.HasNPS = n.Score, true
	}
	if s := lc.Signals.CSAT; s != nil {
		e.CSAT, e.HasCSAT = s.Score, true
	}
	return e
}

// observe folds an event into the signals: when the person was last seen,
// their tickets, their latest NPS and CSAT answers.
// It reports whether they changed.
func (s *Signals) observe(ev *Event) bool {
	changed := false
	if ev.OccurredAt.After(s.LastSeenAt) {
		s.LastSeenAt, changed = ev.OccurredAt, true
	}
	if t := TicketOf(ev); t != nil {
		i := slices.IndexFunc(s.Tickets, func(x TicketSignal) bool { return x.ID == t.Source+":"+t.TicketID })
		if i < 0 {
			s.Tickets = append(s.Tickets, TicketSignal{ID: t.Source + ":" + t.TicketID, At: t.At})
			i, changed = len(s.Tickets)-1, true
		}
		if t.Priority != "" && s.Tickets[i].Priority != t.Priority {
			s.Tickets[i].Priority, changed = t.Priority, true
		}
		if t.Status != "" && s.Tickets[i].Status != t.Status {
			s.Tickets[i].Status, changed = t.Status, true
		}
	}
	if r := SurveyResponseOf(ev, ""); r != nil {
		score, err := strconv.ParseFloat(r.Score, 64)
		switch {
		case err != nil:
		case r.Kind == "nps" && (s.NPS == nil || !ev.OccurredAt.Before(s.NPS.At)):
			s.NPS, changed = &ScoreSignal{Score: score, At: ev.OccurredAt}, true
		case r.Kind == "csat" && (s.CSAT == nil || !ev.OccurredAt.Before(s.CSAT.At)):
			s.CSAT, changed = &ScoreSignal{Score: score, At: ev.OccurredAt}, true
		}
	}
	return changed
}

// prune drops what no longer counts: tickets past 90 days, engagement past
// the horizon. It reports whether anything was dropped.
func (s *Signals) prune(now time.Time, horizon time.Duration) bool {
	nt, ne := len(s.Tickets), len(s.Engagement)
	s.Tickets = slices.DeleteFunc(s.Tickets, func(t TicketSignal) bool { return now.Sub(t.At) > signalHorizon })
	s.Engagement = slices.DeleteFunc(s.Engagement, func(e Earned) bool { return now.Sub(e.At) >= horizon })
	if len(s.Tickets) == 0 {
		s.Tickets = nil
	}
	if len(s.Engagement) == 0 {
		s.Engagement = nil
	}
	return len(s.Tickets) != nt || len(s.Engagement) != ne
}

func contributions(byRule map[string]float64) []Contribution {
	out := make([]Contribution, 0, len(byRule))
	for _, id := range sortedKeys(byRule) {
		if v := math.Round(byRule[id]*100) / 100; v != 0 {
			out = append(out, Contribution{Rule: id, Points: v})
		}
	}
	return out
}

func clamp(v float64) float64 { return math.Round(min(max(v, 0), 100)*100) / 100 }

func band(steps []BandStep, v float64) string {
	for _, s := range steps {
		if v >= s.Min {
			return s.Name
		}
	}
	if len(steps) > 0 {
		return steps[len(steps)-1].Name
	}
	return ""
}

// AbsorbLifecycle folds m's lifecycle into c's (c survives a merge): the
// stage of higher rank wins, with its entry time (DOMAIN.md: stage takes
// the highest rank); signals are unioned; referrals add up. It returns the
// change of c's stage, if any, attributed to the rule "merge".
func (m *Model) AbsorbLifecycle(c, merged *Customer) LifecycleChange {
	a, b := &c.Lifecycle, &merged.Lifecycle
	ch := LifecycleChange{StageFrom: a.Stage, StageTo: a.Stage, StatusFrom: a.Status, StatusTo: a.Status, BandFrom: a.Scores.Band, BandTo: a.Scores.Band}
	if b.Stage != "" && (a.Stage == "" || m.ladder[b.Stage].Rank > m.ladder[a.Stage].Rank) {
		if !a.StageEnteredAt.IsZero() {
			ch.TimeInPrevious = max(b.StageEnteredAt.Sub(a.StageEnteredAt), 0)
		}
		a.Stage, a.StageEnteredAt = b.Stage, b.StageEnteredAt
		ch.StageTo, ch.StageRule, ch.Direction, ch.Reason = b.Stage, "merge", "forward", "merged with a record further on"
		ch.Changed = true
	}
	s, o := &a.Signals, &b.Signals
	s.Engagement = append(s.Engagement, o.Engagement...)
	for _, t := range o.Tickets {
		if !slices.ContainsFunc(s.Tickets, func(x TicketSignal) bool { return x.ID == t.ID }) {
			s.Tickets = append(s.Tickets, t)
		}
	}
	if o.NPS != nil && (s.NPS == nil || o.NPS.At.After(s.NPS.At)) {
		s.NPS = o.NPS
	}
	if o.CSAT != nil && (s.CSAT == nil || o.CSAT.At.After(s.CSAT.At)) {
		s.CSAT = o.CSAT
	}
	if o.LastSeenAt.After(s.LastSeenAt) {
		s.LastSeenAt = o.LastSeenAt
	}
	a.ReferralCount += b.ReferralCount
	if a.ReferredBy == "" {
		a.ReferredBy = b.ReferredBy
	}
	if a.ReferredBy == c.ID || a.ReferredBy == merged.ID {
		a.ReferredBy = ""
	}
	return ch
}
