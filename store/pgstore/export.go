package pgstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// defaultExportPage is how many customers an export reads at a time.
const defaultExportPage = 500

// ExportFilter selects the customers an export streams: live ones (not
// merged into another, not erased), optionally in one stage and updated
// since a time.
type ExportFilter struct {
	// Stage keeps the customers in this stage ("": any).
	Stage string
	// UpdatedSince keeps the customers whose record's updated_at (its
	// latest event) is at or after it (zero: any).
	UpdatedSince time.Time
	// PageSize is how many customers are read (and held) at a time
	// (zero: 500).
	PageSize int
}

// exportWhere is the filter of live customers (aliased c): $1 stage ("":
// any), $2 updated since (NULL: any).
const exportWhere = `c.merged_into IS NULL AND c.erased_at IS NULL
	AND ($1 = '' OR c.stage = $1) AND ($2::timestamptz IS NULL OR c.updated_at >= $2)`

func (f ExportFilter) args() []any {
	var since *time.Time
	if !f.UpdatedSince.IsZero() {
		since = &f.UpdatedSince
	}
	return []any{f.Stage, since}
}

// ExportCustomers streams every customer f selects, in id order, to page:
// the customers are read by keyset pagination (id after the last one of
// the previous page, over the primary key), PageSize at a time, each with
// what GetCustomer reads (identities, merges, merge conflicts, the latest
// tickets and survey answers, the stage history), and page is called with
// each page before the next is read, so memory holds one page whatever
// the table's size. The pages are separate reads, not one snapshot (a
// long export must not hold back vacuum): a customer is exported as it
// was when its page was read, and one merged away or erased before then
// is left out. An error from page stops the export and is returned.
func (s *Store) ExportCustomers(ctx context.Context, f ExportFilter, page func([]*CustomerView) error) error {
	size := f.PageSize
	if size <= 0 {
		size = defaultExportPage
	}
	after := ""
	for {
		views, err := s.exportPage(ctx, f, after, size)
		if err != nil {
			return fmt.Errorf("export customers after %q: %w", after, err)
		}
		if len(views) == 0 {
			return nil
		}
		if err := page(views); err != nil {
			return err
		}
		if len(views) < size {
			return nil
		}
		after = views[len(views)-1].Customer.ID
	}
}

// ExportTraitKeys returns the names of the traits the customers f
// selects hold, sorted (a CSV export's trait columns). It reads every
// selected record's traits once.
func (s *Store) ExportTraitKeys(ctx context.Context, f ExportFilter) ([]string, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT DISTINCT k FROM customers c, jsonb_object_keys(c.traits) AS k
		WHERE `+exportWhere+` ORDER BY k`, f.args()...)
	if err != nil {
		return nil, fmt.Errorf("export trait keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("export trait keys: %w", err)
	}
	return keys, nil
}

// exportPage reads the page of customers after the id after, with their
// related rows: one query per kind, for the whole page.
func (s *Store) exportPage(ctx context.Context, f ExportFilter, after string, size int) ([]*CustomerView, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+customerColumns+` FROM customers c
		WHERE c.id > $3::uuid AND `+exportWhere+`
		ORDER BY c.id LIMIT $4`, append(f.args(), orFirstID(after), size)...)
	if err != nil {
		return nil, err
	}
	var views []*CustomerView
	byID := map[string]*CustomerView{}
	var ids []string
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		// Empty lists, not nil: the same view GetCustomer returns.
		v := &CustomerView{Customer: *c, Identities: []IdentityView{}, Merges: []MergeView{}, Conflicts: []ConflictView{},
			Tickets: []TicketView{}, Responses: []ResponseView{}, StageHistory: []StageStint{}}
		views = append(views, v)
		byID[c.ID] = v
		ids = append(ids, c.ID)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// Each read scans (owner ids..., the row) and appends the row to
	// each owner's view in the page, in the order GetCustomer lists them.
	reads := []struct {
		name string
		sql  string
		add  func(pgx.CollectableRow) error
	}{
		{"identities", `SELECT ARRAY[customer_id::text], type, value, source, first_seen, last_seen FROM identities
			WHERE customer_id = ANY($1::uuid[]) ORDER BY customer_id, type, value`, func(r pgx.CollectableRow) error {
			var i IdentityView
			return scanOwned(r, byID, func(v *CustomerView) { v.Identities = append(v.Identities, i) },
				&i.Type, &i.Value, &i.Source, &i.FirstSeen, &i.LastSeen)
		}},
		{"merges", `SELECT ARRAY[survivor_id::text, merged_id::text], survivor_id::text, merged_id::text, identity_type, source, merged_at
			FROM merges WHERE survivor_id = ANY($1::uuid[]) OR merged_id = ANY($1::uuid[]) ORDER BY id`, func(r pgx.CollectableRow) error {
			var m MergeView
			return scanOwned(r, byID, func(v *CustomerView) { v.Merges = append(v.Merges, m) },
				&m.SurvivorID, &m.MergedID, &m.IdentityType, &m.Source, &m.MergedAt)
		}},
		{"merge conflicts", `SELECT customer_ids::text[], customer_ids::text[], reason, source, detected_at FROM merge_conflicts
			WHERE customer_ids && $1::uuid[] ORDER BY id`, func(r pgx.CollectableRow) error {
			var c ConflictView
			return scanOwned(r, byID, func(v *CustomerView) { v.Conflicts = append(v.Conflicts, c) },
				&c.CustomerIDs, &c.Reason, &c.Source, &c.DetectedAt)
		}},
		{"tickets", `SELECT ARRAY[customer_id::text], source, ticket_id, subject, status, priority, channel, url, opened_at, updated_at
			FROM (SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC, id DESC) AS n
			      FROM tickets WHERE customer_id = ANY($1::uuid[])) t
			WHERE n <= ` + strconv.Itoa(recentRows) + ` ORDER BY customer_id, n`, func(r pgx.CollectableRow) error {
			var t TicketView
			return scanOwned(r, byID, func(v *CustomerView) { v.Tickets = append(v.Tickets, t) },
				&t.Source, &t.TicketID, &t.Subject, &t.Status, &t.Priority, &t.Channel, &t.URL, &t.OpenedAt, &t.Updated)
		}},
		{"survey responses", `SELECT ARRAY[customer_id::text], source, response_id, kind, score::text, category, comment, answered_at
			FROM (SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY answered_at DESC, id DESC) AS n
			      FROM survey_responses WHERE customer_id = ANY($1::uuid[])) s
			WHERE n <= ` + strconv.Itoa(recentRows) + ` ORDER BY customer_id, n`, func(r pgx.CollectableRow) error {
			var s ResponseView
			return scanOwned(r, byID, func(v *CustomerView) { v.Responses = append(v.Responses, s) },
				&s.Source, &s.ResponseID, &s.Kind, &s.Score, &s.Category, &s.Comment, &s.AnsweredAt)
		}},
		{"stage history", `SELECT ARRAY[customer_id::text], stage, entered_at, exited_at, direction, coalesce(rule_id, ''), coalesce(reason, ''),
			coalesce(request_id::text, ''), coalesce(trigger, ''), coalesce(model, '') FROM stage_history
			WHERE customer_id = ANY($1::uuid[]) ORDER BY customer_id, entered_at, id`, func(r pgx.CollectableRow) error {
			var h StageStint
			return scanOwned(r, byID, func(v *CustomerView) { v.StageHistory = append(v.StageHistory, h) },
				&h.Stage, &h.EnteredAt, &h.ExitedAt, &h.Direction, &h.RuleID, &h.Reason, &h.RequestID, &h.Trigger, &h.Model)
		}},
	}
	for _, rd := range reads {
		rows, err := s.pool.Query(ctx, rd.sql, ids)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rd.name, err)
		}
		if _, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{}, error) { return struct{}{}, rd.add(r) }); err != nil {
			return nil, fmt.Errorf("%s: %w", rd.name, err)
		}
	}
	return views, nil
}

// scanOwned scans a row whose first column is the ids of the customers
// it belongs to, then dest, and calls add for each of those customers in
// the page.
func scanOwned(r pgx.CollectableRow, byID map[string]*CustomerView, add func(*CustomerView), dest ...any) error {
	var owners []string
	if err := r.Scan(append([]any{&owners}, dest...)...); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, id := range owners {
		if v, ok := byID[id]; ok && !seen[id] {
			seen[id] = true
			add(v)
		}
	}
	return nil
}
