package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// defaultLadder is DOMAIN.md's ranked stages (HubSpot's values), lowest
// first: the ladder of a FunnelQuery that names none. The rules config
// may rank others (configs/rules/stages.yaml); pass its ladder.
var defaultLadder = []string{"subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist"}

// defaultChurnEvents are the event types that make a customer churned in
// the default status rules (configs/rules/status.yaml, rule churned).
var defaultChurnEvents = []string{"subscription_cancelled", "churned"}

// Defaults of a FunnelQuery (DOMAIN.md, Funnel metrics).
const (
	DefaultFunnelPeriod  = 30 * 24 * time.Hour
	DefaultFunnelHorizon = 90 * 24 * time.Hour
	// DefaultOpportunityStage opens a deal; DefaultWonStage is where a
	// won deal lands.
	DefaultOpportunityStage = "opportunity"
	DefaultWonStage         = "customer"
)

// ErrInvalidFunnel wraps what is wrong with a FunnelQuery.
var ErrInvalidFunnel = errors.New("invalid funnel query")

// FunnelQuery selects a funnel: the period [From, To), the cohort horizon,
// and the lifecycle model's ladder and deal stages.
type FunnelQuery struct {
	From, To time.Time
	// Horizon is how long after entering a stage a cohort member may
	// reach the next one and still count as converted (zero: 90 days).
	Horizon time.Duration
	// Ladder is the ranked stages, lowest first (the rules' ladder
	// without unranked stages such as other). Empty: DOMAIN.md's ladder
	// (subscriber … evangelist).
	Ladder []string
	// OpportunityStage and WonStage bound the deal pipeline on the
	// ladder: a deal opens when a person enters OpportunityStage and
	// closes when they leave the stages from it up to (not including)
	// WonStage. Empty: opportunity and customer. WonStage and everything
	// above it are "customers" for churn.
	OpportunityStage, WonStage string
	// ChurnEvents are the event types that churn a customer (the events
	// the status rules mark churned on). Empty: subscription_cancelled
	// and churned, as in configs/rules/status.yaml.
	ChurnEvents []string
}

func (q FunnelQuery) withDefaults() (FunnelQuery, error) {
	if q.Horizon == 0 {
		q.Horizon = DefaultFunnelHorizon
	}
	if len(q.Ladder) == 0 {
		q.Ladder = defaultLadder
	}
	if q.OpportunityStage == "" {
		q.OpportunityStage = DefaultOpportunityStage
	}
	if q.WonStage == "" {
		q.WonStage = DefaultWonStage
	}
	if len(q.ChurnEvents) == 0 {
		q.ChurnEvents = defaultChurnEvents
	}
	switch {
	case q.From.IsZero() || q.To.IsZero():
		return q, fmt.Errorf("%w: from and to are required", ErrInvalidFunnel)
	case !q.From.Before(q.To):
		return q, fmt.Errorf("%w: from must be before to", ErrInvalidFunnel)
	case q.Horizon < 0:
		return q, fmt.Errorf("%w: the horizon must be positive", ErrInvalidFunnel)
	}
	for i, s := range q.Ladder {
		if s == "" || slices.Contains(q.Ladder[:i], s) {
			return q, fmt.Errorf("%w: the ladder must list distinct stage names, got %q", ErrInvalidFunnel, q.Ladder)
		}
	}
	q.Ladder = slices.Clone(q.Ladder)
	return q, nil
}

// Funnel is the funnel of a period (DOMAIN.md, Funnel metrics; each
// metric is defined on its type and in docs/funnel.md). A rate whose
// denominator is zero is null, never NaN. Records merged into another or
// erased are not counted (their history belongs to the survivor, or is
// gone).
type Funnel struct {
	Period FunnelPeriod `json:"period"`
	// Ladder is the ranked stages the conversions follow, lowest first.
	Ladder []string `json:"ladder"`
	// Stages lists every stage of the ladder, in its order, then any
	// other stage that has customers or entries (other), by name.
	Stages []StageCount `json:"stages"`
	// Conversions go from each stage of the ladder to the next.
	Conversions []StageConversion `json:"conversions"`
	// TimeInStage lists the stages with completed stints in the period,
	// in the order of Stages.
	TimeInStage []StageTime  `json:"time_in_stage"`
	Leads       LeadVolume   `json:"leads"`
	WinRate     WinRate      `json:"win_rate"`
	SalesCycle  SalesCycle   `json:"sales_cycle"`
	Churn       Churn        `json:"churn"`
	NPS         NPS          `json:"nps"`
	Referrals   ReferralRate `json:"referrals"`
}

// FunnelPeriod is the period [From, To) a funnel covers.
type FunnelPeriod struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	HorizonDays float64   `json:"horizon_days"`
	// AsOf is when the funnel was read: current stage counts are as of
	// then.
	AsOf time.Time `json:"as_of"`
	// HorizonComplete says every cohort member has had the whole horizon
	// (To + horizon ≤ AsOf); until then conversions can still grow.
	HorizonComplete bool `json:"horizon_complete"`
}

// StageCount is a stage's population. Current counts live customers in
// the stage now (whatever the period); Entries counts stints in the
// stage that began in the period, and Entered the distinct customers who
// began them (the stage's cohort: a customer who entered twice counts
// once).
type StageCount struct {
	Stage   string `json:"stage"`
	Current int64  `json:"current"`
	Entries int64  `json:"entries"`
	Entered int64  `json:"entered"`
}

// StageConversion is the cohort conversion from one stage of the ladder
// to the next: of the Cohort customers who entered FromStage in the
// period (dated by their first entry in it), Converted entered ToStage or
// any stage above it (a skipped stage counts as passed) within the
// horizon after that entry. Rate = Converted ÷ Cohort (0..1), null for an
// empty cohort.
type StageConversion struct {
	FromStage string   `json:"from_stage"`
	ToStage   string   `json:"to_stage"`
	Cohort    int64    `json:"cohort"`
	Converted int64    `json:"converted"`
	Rate      *float64 `json:"rate"`
}

// StageTime is how long completed stints in a stage lasted: the stints
// of the stage that ended (exited_at) in the period, however long ago
// they began. Median and p90 are continuous percentiles (interpolated),
// in hours; null without completed stints. A stint ended by a merge
// (the merged record's) counts as ended at the merge.
type StageTime struct {
	Stage           string   `json:"stage"`
	CompletedStints int64    `json:"completed_stints"`
	MedianHours     *float64 `json:"median_hours"`
	P90Hours        *float64 `json:"p90_hours"`
}

// LeadVolume is the new customer records of the period (created_at in
// it: the first event about the person), by first-touch attribution.
type LeadVolume struct {
	Total    int64        `json:"total"`
	BySource []LeadSource `json:"by_source"`
}

// LeadSource is the leads of one first-touch source and channel, most
// leads first. Source is the first touch's utm source (null when the
// first touch had none, or the record has no touch); Channel its
// marketing channel (paid_search, …, direct; direct without a touch).
type LeadSource struct {
	Source  *string `json:"source"`
	Channel string  `json:"channel"`
	Leads   int64   `json:"leads"`
}

// WinRate is won ÷ (won + lost) over the deals closed in the period. The
// model keeps no deal objects: a deal is a stint in the pipeline stages
// (from OpportunityStage up to, not including, WonStage) and it closes
// when the next stint begins: won when that stint is WonStage or above,
// lost when it is a backward move below OpportunityStage (the deal_lost
// and disqualified rules). Each closing counts, so a person who lost a
// deal and won a later one counts once each. Rate is null when nothing
// closed.
type WinRate struct {
	Won  int64    `json:"won"`
	Lost int64    `json:"lost"`
	Rate *float64 `json:"rate"`
}

// SalesCycle is the mean time from opportunity to close of the deals won
// in the period: from the person's latest entry into OpportunityStage to
// the move to WonStage (or above), in days; null when none was won. Won
// counts the deals averaged (a won deal that skipped OpportunityStage,
// possible only with several pipeline stages, has no start).
type SalesCycle struct {
	Won      int64    `json:"won"`
	MeanDays *float64 `json:"mean_days"`
}

// Churn is customers lost ÷ customers at period start. Customers at
// period start were in WonStage or above at From (by their stints) and
// not churned then. customer_status keeps no history, so a churn is
// dated by the customer's latest churn event in the timeline
// (ChurnEvents: the events the status rules churn on): a customer
// churned now whose latest churn event is before From, or who has none,
// churned before the period and is not counted. Lost are those of them
// who are churned now with their latest churn event in the period, or
// who left the customer stages in the period (a backward move below
// WonStage). So churn is net of win-backs: a customer who churned in the
// period and is active again now is not lost, and one who churned in the
// period and again after it counts for the later period. Rate is null
// without customers at period start.
type Churn struct {
	CustomersAtStart int64    `json:"customers_at_start"`
	Lost             int64    `json:"lost"`
	Rate             *float64 `json:"rate"`
}

// NPS is the Net Promoter Score of the NPS answers given in the period
// (every answer counts; scores outside 0–10 are bad input and are left
// out): promoters score 9–10, passives 7–8, detractors 0–6; Score =
// %promoters − %detractors (−100..100), null without answers.
type NPS struct {
	Responses  int64    `json:"responses"`
	Promoters  int64    `json:"promoters"`
	Passives   int64    `json:"passives"`
	Detractors int64    `json:"detractors"`
	Score      *float64 `json:"score"`
}

// ReferralRate is new customers from referrals ÷ all new customers: of
// the New records of the period (as LeadVolume), Referred carry a
// referrer (referred_by). Rate is null without new records.
type ReferralRate struct {
	New      int64    `json:"new"`
	Referred int64    `json:"referred"`
	Rate     *float64 `json:"rate"`
}

// ratio is n ÷ d, or nil when d is zero (never NaN).
func ratio(n, d int64) *float64 {
	if d == 0 {
		return nil
	}
	r := float64(n) / float64(d)
	return &r
}

// Funnel computes the funnel of q's period in one read-only snapshot
// with seven queries (current stages, cohorts, time in stage, leads,
// deals, churn, NPS), each reading its period through an index on the
// period's column (migration 0007); docs/funnel.md says what each costs.
// ErrInvalidFunnel when the query is invalid.
func (s *Store) Funnel(ctx context.Context, q FunnelQuery) (*Funnel, error) {
	q, err := q.withDefaults()
	if err != nil {
		return nil, err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("funnel: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	f := &Funnel{
		Period: FunnelPeriod{From: q.From.UTC(), To: q.To.UTC(), HorizonDays: q.Horizon.Hours() / 24},
		Ladder: q.Ladder, Conversions: []StageConversion{}, TimeInStage: []StageTime{},
		Leads: LeadVolume{BySource: []LeadSource{}},
	}
	// For this transaction only: sorts and hashes of a period's rows fit
	// in memory instead of spilling to disk (4MB by default); and no JIT,
	// which the planner picks for scans of a million rows and which then
	// spends about half a second compiling each query that runs in one or
	// two (docs/funnel.md, Performance).
	if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '64MB'`); err != nil {
		return nil, fmt.Errorf("funnel: %w", err)
	}
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return nil, fmt.Errorf("funnel: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&f.Period.AsOf); err != nil {
		return nil, fmt.Errorf("funnel: %w", err)
	}
	f.Period.AsOf = f.Period.AsOf.UTC()
	f.Period.HorizonComplete = !q.To.Add(q.Horizon).After(f.Period.AsOf)
	for _, step := range []struct {
		name string
		run  func(context.Context, pgx.Tx, FunnelQuery, *Funnel) error
	}{
		{"stages", funnelStages},
		{"time in stage", funnelTimeInStage},
		{"leads", funnelLeads},
		{"deals", funnelDeals},
		{"churn", funnelChurn},
		{"nps", funnelNPS},
	} {
		if err := step.run(ctx, tx, q, f); err != nil {
			return nil, fmt.Errorf("funnel %s: %w", step.name, err)
		}
	}
	return f, nil
}

// ladderCTE numbers the ladder ($1) from 1, lowest first.
const ladderCTE = `ladder AS (SELECT stage, pos FROM unnest($1::text[]) WITH ORDINALITY AS l(stage, pos))`

// funnelStages reads the current population of each stage, the entries
// of the period and the cohort conversions (two queries).
func funnelStages(ctx context.Context, tx pgx.Tx, q FunnelQuery, f *Funnel) error {
	byStage := map[string]*StageCount{}
	stage := func(name string) *StageCount {
		if c, ok := byStage[name]; ok {
			return c
		}
		c := &StageCount{Stage: name}
		byStage[name] = c
		return c
	}
	for _, s := range q.Ladder {
		stage(s)
	}
	rows, err := tx.Query(ctx, `
		SELECT stage, count(*) FROM customers
		WHERE merged_into IS NULL AND erased_at IS NULL AND stage IS NOT NULL
		GROUP BY stage`)
	if err != nil {
		return err
	}
	var name string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		stage(name).Current = n
		return nil
	}); err != nil {
		return err
	}
	// The cohort of a stage: who entered it in the period, dated by
	// their first entry in it. Converted: entered any stage above it on
	// the ladder within the horizon after that. Every stint that matters
	// began in [from, to + horizon): one range scan; a window over each
	// customer's stints gives the highest stage reached within the
	// horizon after each (no lookup per cohort member, no self-join).
	rows, err = tx.Query(ctx, `
		WITH `+ladderCTE+`,
		span AS (
		    SELECT h.customer_id, h.stage, h.entered_at, l.pos,
		           max(l.pos) OVER (PARTITION BY h.customer_id ORDER BY h.entered_at
		                            RANGE BETWEEN CURRENT ROW AND $4::interval FOLLOWING) AS reach
		    FROM stage_history h LEFT JOIN ladder l ON l.stage = h.stage
		    WHERE h.entered_at >= $2 AND h.entered_at < $3::timestamptz + $4::interval
		),
		entered AS (
		    SELECT stage, min(pos) AS pos, (array_agg(reach ORDER BY entered_at))[1] AS reach, count(*) AS stints
		    FROM span WHERE entered_at < $3
		    GROUP BY stage, customer_id
		)
		SELECT stage, sum(stints)::bigint, count(*), count(*) FILTER (WHERE reach > pos)
		FROM entered
		GROUP BY stage`, q.Ladder, q.From, q.To, q.Horizon)
	if err != nil {
		return err
	}
	var entries, entered, converted int64
	conv := map[string]int64{}
	if _, err := pgx.ForEachRow(rows, []any{&name, &entries, &entered, &converted}, func() error {
		c := stage(name)
		c.Entries, c.Entered = entries, entered
		conv[name] = converted
		return nil
	}); err != nil {
		return err
	}
	f.Stages = make([]StageCount, 0, len(byStage))
	for _, s := range q.Ladder {
		f.Stages = append(f.Stages, *byStage[s])
		delete(byStage, s)
	}
	others := slices.Sorted(maps.Keys(byStage))
	for _, s := range others {
		f.Stages = append(f.Stages, *byStage[s])
	}
	for i := 0; i+1 < len(q.Ladder); i++ {
		from := f.Stages[i]
		f.Conversions = append(f.Conversions, StageConversion{
			FromStage: from.Stage, ToStage: q.Ladder[i+1], Cohort: from.Entered, Converted: conv[from.Stage],
			Rate: ratio(conv[from.Stage], from.Entered),
		})
	}
	return nil
}

// funnelTimeInStage reads the percentiles of the stints that ended in
// the period.
func funnelTimeInStage(ctx context.Context, tx pgx.Tx, q FunnelQuery, f *Funnel) error {
	rows, err := tx.Query(ctx, `
		SELECT stage, count(*),
		       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM exited_at - entered_at)::float8) / 3600,
		       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM exited_at - entered_at)::float8) / 3600
		FROM stage_history
		WHERE exited_at >= $1 AND exited_at < $2
		GROUP BY stage`, q.From, q.To)
	if err != nil {
		return err
	}
	times, err := pgx.CollectRows(rows, pgx.RowToStructByPos[StageTime])
	if err != nil {
		return err
	}
	order := make(map[string]int, len(f.Stages))
	for i, s := range f.Stages {
		order[s.Stage] = i
	}
	slices.SortFunc(times, func(a, b StageTime) int {
		ia, oka := order[a.Stage]
		ib, okb := order[b.Stage]
		switch {
		case oka && okb:
			return ia - ib
		case oka != okb: // a stage only seen here (no current, no entries) goes last
			if oka {
				return -1
			}
			return 1
		}
		if a.Stage < b.Stage {
			return -1
		}
		return 1
	})
	f.TimeInStage = times
	return nil
}

// funnelLeads reads the period's new records by first-touch source and
// channel, and how many were referred (lead volume and referral rate).
func funnelLeads(ctx context.Context, tx pgx.Tx, q FunnelQuery, f *Funnel) error {
	rows, err := tx.Query(ctx, `
		SELECT nullif(first_touch->>'source', ''), coalesce(nullif(first_touch->>'channel', ''), 'direct'),
		       count(*), count(*) FILTER (WHERE referred_by IS NOT NULL)
		FROM customers
		WHERE merged_into IS NULL AND erased_at IS NULL AND created_at >= $1 AND created_at < $2
		GROUP BY 1, 2
		ORDER BY 3 DESC, 1 NULLS LAST, 2`, q.From, q.To)
	if err != nil {
		return err
	}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var ls LeadSource
		var referred int64
		if err := row.Scan(&ls.Source, &ls.Channel, &ls.Leads, &referred); err != nil {
			return struct{}{}, err
		}
		f.Leads.BySource = append(f.Leads.BySource, ls)
		f.Leads.Total += ls.Leads
		f.Referrals.Referred += referred
		return struct{}{}, nil
	})
	if err != nil {
		return err
	}
	f.Referrals.New = f.Leads.Total
	f.Referrals.Rate = ratio(f.Referrals.Referred, f.Referrals.New)
	return nil
}

// funnelDeals reads the deals closed in the period: win rate and sales
// cycle. A pipeline stint's close is the stint that begins when it ends
// (same customer, entered_at = its exited_at); a stint ended by a merge
// has none and is no close.
func funnelDeals(ctx context.Context, tx pgx.Tx, q FunnelQuery, f *Funnel) error {
	oppPos, wonPos := slices.Index(q.Ladder, q.OpportunityStage)+1, slices.Index(q.Ladder, q.WonStage)+1
	if oppPos == 0 || wonPos == 0 || oppPos >= wonPos {
		return nil // no pipeline on this ladder: nothing closes
	}
	var cycleDays *float64
	// A close and its next stint are both in the period (the next one
	// begins when the close ends): two range scans and a hash join.
	err := tx.QueryRow(ctx, `
		WITH `+ladderCTE+`,
		ended AS (
		    SELECT h.id, h.customer_id, h.stage, h.entered_at, h.exited_at
		    FROM stage_history h JOIN ladder hl ON hl.stage = h.stage AND hl.pos >= $4 AND hl.pos < $5
		    WHERE h.exited_at >= $2 AND h.exited_at < $3
		),
		began AS (
		    SELECT n.id, n.customer_id, n.entered_at, n.direction, nl.pos
		    FROM stage_history n LEFT JOIN ladder nl ON nl.stage = n.stage
		    WHERE n.entered_at >= $2 AND n.entered_at < $3
		),
		closes AS (
		    SELECT DISTINCT ON (e.id) e.customer_id, e.stage, e.entered_at, e.exited_at,
		           coalesce(b.pos >= $5, false) AS won,
		           b.direction = 'backward' AND coalesce(b.pos, 0) < $4 AS lost
		    FROM ended e JOIN began b ON b.customer_id = e.customer_id AND b.entered_at = e.exited_at AND b.id <> e.id
		    ORDER BY e.id, b.id
		),
		won AS (
		    SELECT c.exited_at,
		           CASE WHEN c.stage = $6 THEN c.entered_at
		                ELSE (SELECT max(o.entered_at) FROM stage_history o
		                      WHERE o.customer_id = c.customer_id AND o.stage = $6 AND o.entered_at <= c.exited_at)
		           END AS opened_at
		    FROM closes c WHERE c.won
		)
		SELECT (SELECT count(*) FROM won), (SELECT count(*) FROM closes WHERE lost),
		       (SELECT count(opened_at) FROM won),
		       (SELECT avg(extract(epoch FROM exited_at - opened_at)::float8) / 86400 FROM won)`,
		q.Ladder, q.From, q.To, oppPos, wonPos, q.OpportunityStage).
		Scan(&f.WinRate.Won, &f.WinRate.Lost, &f.SalesCycle.Won, &cycleDays)
	if err != nil {
		return err
	}
	f.WinRate.Rate = ratio(f.WinRate.Won, f.WinRate.Won+f.WinRate.Lost)
	f.SalesCycle.MeanDays = cycleDays
	return nil
}

// funnelChurn reads the customers at period start and those of them lost
// in the period.
func funnelChurn(ctx context.Context, tx pgx.Tx, q FunnelQuery, f *Funnel) error {
	wonPos := slices.Index(q.Ladder, q.WonStage) + 1
	if wonPos == 0 {
		return nil // no customer stages on this ladder
	}
	// Who was a customer at the start and at the end: one scan of the
	// customer stages' stints; only the churned ones (by status now) are
	// looked up in the timeline, for the date of their churn.
	err := tx.QueryRow(ctx, `
		WITH `+ladderCTE+`,
		stints AS (
		    SELECT customer_id,
		           bool_or(entered_at <= $2 AND (exited_at IS NULL OR exited_at > $2)) AS at_start,
		           bool_or(exited_at IS NULL OR exited_at >= $3) AS at_end
		    FROM stage_history
		    WHERE stage IN (SELECT stage FROM ladder WHERE pos >= $4) AND entered_at < $3
		    GROUP BY customer_id
		),
		at_start AS (SELECT customer_id, at_end FROM stints WHERE at_start),
		live AS (
		    SELECT s.customer_id, s.at_end, c.customer_status IS NOT DISTINCT FROM 'churned' AS churned, c.updated_at
		    FROM at_start s JOIN customers c ON c.id = s.customer_id
		    WHERE c.merged_into IS NULL AND c.erased_at IS NULL
		),
		-- A record's updated_at is at or after every event it holds (each
		-- event widens it; merges span both records; re-scoring only moves
		-- it later): one quiet since before from churned before the
		-- period, with no lookup.
		churn AS (
		    SELECT l.customer_id,
		           (SELECT t.occurred_at FROM timeline t WHERE t.customer_id = l.customer_id AND t.type = ANY($5::text[])
		            ORDER BY t.occurred_at DESC LIMIT 1) AS at
		    FROM live l WHERE l.churned AND l.updated_at >= $2
		),
		counted AS (
		    SELECT l.customer_id, ch.at AS churned_at, l.at_end AS customer_at_end
		    FROM live l LEFT JOIN churn ch ON ch.customer_id = l.customer_id
		    WHERE NOT l.churned OR ch.at >= $2
		)
		SELECT count(*), count(*) FILTER (WHERE churned_at < $3 OR NOT customer_at_end)
		FROM counted`, q.Ladder, q.From, q.To, wonPos, q.ChurnEvents).
		Scan(&f.Churn.CustomersAtStart, &f.Churn.Lost)
	if err != nil {
		return err
	}
	f.Churn.Rate = ratio(f.Churn.Lost, f.Churn.CustomersAtStart)
	return nil
}

// funnelNPS reads the NPS answers of the period.
func funnelNPS(ctx context.Context, tx pgx.Tx, q FunnelQuery, f *Funnel) error {
	n := &f.NPS
	err := tx.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE score >= 9), count(*) FILTER (WHERE score >= 7 AND score < 9),
		       count(*) FILTER (WHERE score < 7)
		FROM survey_responses
		WHERE kind = 'nps' AND answered_at >= $1 AND answered_at < $2 AND score BETWEEN 0 AND 10`, q.From, q.To).
		Scan(&n.Responses, &n.Promoters, &n.Passives, &n.Detractors)
	if err != nil {
		return err
	}
	if n.Responses > 0 {
		score := 100 * float64(n.Promoters-n.Detractors) / float64(n.Responses)
		n.Score = &score
	}
	return nil
}
