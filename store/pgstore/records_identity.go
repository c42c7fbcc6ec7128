package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// writeMerges moves everything the merged records hold to their
// survivors, then records the merges in the identity graph.
func writeMerges(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	if len(e.Merges) == 0 {
		return nil
	}
	n := len(e.Merges)
	survivors, merged, kinds, sources := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	inbox := make([]int64, n)
	at := make([]time.Time, n)
	for i, m := range e.Merges {
		survivors[i], merged[i], kinds[i], sources[i], inbox[i], at[i] = m.SurvivorID, m.MergedID, string(m.IdentityType), m.Source, m.InboxID, m.At
	}
	// A merged record's stage stint ends with it: the survivor's stage is
	// the record's stage from now on.
	if _, err := tx.Exec(ctx, `
		UPDATE stage_history h SET exited_at = m.at
		FROM unnest($1::uuid[], $2::timestamptz[]) AS m(id, at)
		WHERE h.customer_id = m.id AND h.exited_at IS NULL`, merged, at); err != nil {
		return err
	}
	// In batch order, so a chain (A into B, then B into C) lands on C.
	for _, table := range []string{"identities", "timeline", "tickets", "survey_responses", "consent_ledger", "stage_history"} {
		for i := range merged {
			if _, err := tx.Exec(ctx, `UPDATE `+table+` SET customer_id = $1 WHERE customer_id = $2`, survivors[i], merged[i]); err != nil {
				return err
			}
		}
	}
	// Referrals: the survivor keeps its own referrer if it has one, takes
	// the merged record's referred people, and is re-evaluated.
	for i := range merged {
		survivor, gone := survivors[i], merged[i]
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`UPDATE referrals SET referrer_id = $1 WHERE referrer_id = $2`, []any{survivor, gone}},
			{`DELETE FROM referrals WHERE referred_id = $2 AND EXISTS (SELECT 1 FROM referrals WHERE referred_id = $1)`, []any{survivor, gone}},
			{`UPDATE referrals SET referred_id = $1 WHERE referred_id = $2`, []any{survivor, gone}},
			{`DELETE FROM referrals WHERE referred_id = $1 AND referrer_id = $1`, []any{survivor}},
			{`DELETE FROM rescore_queue WHERE customer_id = $1`, []any{gone}},
			{`INSERT INTO rescore_queue (customer_id) SELECT $1::uuid WHERE EXISTS (SELECT 1 FROM referrals WHERE referrer_id = $1)
			 ON CONFLICT DO NOTHING`, []any{survivor}},
		} {
			if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO merges (survivor_id, merged_id, identity_type, inbox_id, source, merged_at)
		SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[])`,
		survivors, merged, kinds, inbox, sources, at)
	return err
}

func writeConflicts(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	for _, c := range e.Conflicts {
		if _, err := tx.Exec(ctx, `
			INSERT INTO merge_conflicts (customer_ids, reason, inbox_id, source, detected_at)
			VALUES ($1::uuid[], $2, $3, $4, $5)`, c.CustomerIDs, c.Reason, c.InboxID, c.Source, c.At); err != nil {
			return err
		}
	}
	return nil
}

func writeConsent(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	if len(e.Consent) == 0 {
		return nil
	}
	n := len(e.Consent)
	customers, purposes, statuses, sources, methods := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	inbox := make([]int64, n)
	at := make([]time.Time, n)
	for i, c := range e.Consent {
		customers[i], purposes[i], statuses[i], sources[i], methods[i], inbox[i], at[i] = c.CustomerID, c.Purpose, c.Status, c.Source, c.Method, c.InboxID, c.At
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO consent_ledger (customer_id, purpose, status, source, method, inbox_id, recorded_at)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::timestamptz[])`,
		customers, purposes, statuses, sources, methods, inbox, at)
	return err
}

// writeTickets upserts tickets: a later event updates what it says and
// moves the ticket to its customer (a requester change).
func writeTickets(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	var batch pgx.Batch
	for _, t := range e.Tickets {
		batch.Queue(`
			INSERT INTO tickets (customer_id, source, ticket_id, subject, status, priority, channel, url, opened_at, updated_at)
			VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), NULLIF($6, ''), NULLIF($7, ''), NULLIF($8, ''), $9, $9)
			ON CONFLICT (source, ticket_id) DO UPDATE SET
			     customer_id = CASE WHEN EXCLUDED.updated_at >= tickets.updated_at THEN EXCLUDED.customer_id ELSE tickets.customer_id END,
			     subject  = CASE WHEN EXCLUDED.updated_at >= tickets.updated_at THEN coalesce(EXCLUDED.subject, tickets.subject) ELSE coalesce(tickets.subject, EXCLUDED.subject) END,
			     status   = CASE WHEN EXCLUDED.updated_at >= tickets.updated_at THEN coalesce(EXCLUDED.status, tickets.status) ELSE coalesce(tickets.status, EXCLUDED.status) END,
			     priority = CASE WHEN EXCLUDED.updated_at >= tickets.updated_at THEN coalesce(EXCLUDED.priority, tickets.priority) ELSE coalesce(tickets.priority, EXCLUDED.priority) END,
			     channel  = coalesce(tickets.channel, EXCLUDED.channel),
			     url      = coalesce(tickets.url, EXCLUDED.url),
			     opened_at = least(tickets.opened_at, EXCLUDED.opened_at),
			     updated_at = greatest(tickets.updated_at, EXCLUDED.updated_at)`,
			t.CustomerID, t.Source, t.TicketID, t.Subject, t.Status, t.Priority, t.Channel, t.URL, t.At)
	}
	return sendInOrder(ctx, tx, &batch)
}

// sendInOrder runs queued statements in one round trip, in order (a
// multi-row upsert cannot touch one row twice; these may).
func sendInOrder(ctx context.Context, tx pgx.Tx, batch *pgx.Batch) error {
	if batch.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, batch).Close()
}

// writeResponses upserts survey responses: a later event of the same
// response (Delighted's comment added) updates it.
func writeResponses(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	var batch pgx.Batch
	for _, r := range e.Responses {
		batch.Queue(`
			INSERT INTO survey_responses (customer_id, source, response_id, kind, score, category, comment, answered_at)
			VALUES ($1, $2, $3, $4, NULLIF($5, '')::numeric, NULLIF($6, ''), NULLIF($7, ''), $8)
			ON CONFLICT (source, response_id) DO UPDATE SET
			     customer_id = CASE WHEN EXCLUDED.answered_at >= survey_responses.answered_at
			                        THEN EXCLUDED.customer_id ELSE survey_responses.customer_id END,
			     kind = EXCLUDED.kind,
			     score = coalesce(EXCLUDED.score, survey_responses.score),
			     category = coalesce(EXCLUDED.category, survey_responses.category),
			     comment = coalesce(EXCLUDED.comment, survey_responses.comment),
			     answered_at = least(survey_responses.answered_at, EXCLUDED.answered_at)`,
			r.CustomerID, r.Source, r.ResponseID, r.Kind, r.Score, r.Category, r.Comment, r.At)
	}
	return sendInOrder(ctx, tx, &batch)
}

// Suppressed returns which hashes are on the suppression list.
func (b *Batch) Suppressed(ctx context.Context, hashes [][]byte) (map[string]bool, error) {
	out := map[string]bool{}
	if len(hashes) == 0 {
		return out, nil
	}
	rows, err := b.tx.Query(ctx, `SELECT hash FROM suppressions WHERE hash = ANY($1::bytea[])`, hashes)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out[string(h)] = true
	}
	return out, rows.Err()
}

// writeStageMoves closes each customer's open stint and opens the next.
func writeStageMoves(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	n := len(e.StageMoves)
	if n == 0 {
		return nil
	}
	// A customer's moves are in order: each one's row is closed by the
	// next one of the same customer; the first closes the open row.
	exited := make([]*time.Time, n)
	last := map[string]int{}
	var firstIDs []string
	var firstAt []time.Time
	for i, m := range e.StageMoves {
		if j, ok := last[m.CustomerID]; ok {
			at := m.At
			exited[j] = &at
		} else {
			firstIDs, firstAt = append(firstIDs, m.CustomerID), append(firstAt, m.At)
		}
		last[m.CustomerID] = i
	}
	if _, err := tx.Exec(ctx, `
		UPDATE stage_history h SET exited_at = f.at
		FROM unnest($1::uuid[], $2::timestamptz[]) AS f(id, at)
		WHERE h.customer_id = f.id AND h.exited_at IS NULL`, firstIDs, firstAt); err != nil {
		return err
	}
	ids, stages, rules, reasons, dirs, triggers, models := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	entered := make([]time.Time, n)
	reqs := make([]*string, n)
	for i, m := range e.StageMoves {
		ids[i], stages[i], entered[i], rules[i], reasons[i] = m.CustomerID, m.To, m.At, m.Rule, m.Reason
		dirs[i], triggers[i], models[i] = m.Direction, m.Trigger, m.Model
		if m.RequestID != "" {
			reqs[i] = &m.RequestID
		}
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO stage_history (customer_id, stage, entered_at, exited_at, rule_id, reason, direction, request_id, trigger, model)
		SELECT c, s, en, ex, NULLIF(r, ''), NULLIF(re, ''), d, q, NULLIF(tr, ''), NULLIF(mo, '')
		FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::text[], $6::text[], $7::text[],
		            $8::uuid[], $9::text[], $10::text[]) WITH ORDINALITY AS x(c, s, en, ex, r, re, d, q, tr, mo, o)
		ORDER BY o`, ids, stages, entered, exited, rules, reasons, dirs, reqs, triggers, models)
	return err
}

// writeReferrals links referred customers to their referrer (the first
// referrer wins) and queues the referrers to be re-evaluated.
func writeReferrals(ctx context.Context, tx pgx.Tx, e *mapping.Effects) error {
	for _, r := range e.Referrals {
		tag, err := tx.Exec(ctx, `
			INSERT INTO referrals (referred_id, referrer_id, source, referred_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (referred_id) DO NOTHING`, r.ReferredID, r.ReferrerID, r.Source, r.At)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO rescore_queue (customer_id) VALUES ($1)
			ON CONFLICT (customer_id) DO UPDATE SET queued_at = excluded.queued_at`, r.ReferrerID); err != nil {
			return err
		}
	}
	return nil
}

// FindReferrer returns the customer a referral names: by customer id (the
// record its person is in now, following merges) or by identity; "" when
// there is none (or they were erased). It locks nothing.
func (b *Batch) FindReferrer(ctx context.Context, id mapping.Identity, customerID string) (string, error) {
	var out string
	var err error
	if customerID != "" {
		err = b.tx.QueryRow(ctx, `
			WITH RECURSIVE chain(id, merged_into, erased_at, depth) AS (
			    SELECT id, merged_into, erased_at, 0 FROM customers WHERE id = $1
			    UNION ALL
			    SELECT c.id, c.merged_into, c.erased_at, chain.depth + 1 FROM customers c JOIN chain ON c.id = chain.merged_into
			    WHERE chain.depth < 64)
			SELECT coalesce((SELECT id::text FROM chain WHERE merged_into IS NULL AND erased_at IS NULL), '')`, customerID).Scan(&out)
	} else {
		err = b.tx.QueryRow(ctx, `SELECT coalesce((SELECT customer_id::text FROM identities WHERE type = $1 AND value = $2), '')`,
			string(id.Type), id.Value).Scan(&out)
	}
	if err != nil {
		return "", fmt.Errorf("find referrer: %w", err)
	}
	return out, nil
}
