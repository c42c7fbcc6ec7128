package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// Rescore is a set of row-locked customers to re-evaluate without an
// event (queued, swept or re-scored by `rules apply`), and the
// transaction that owns them.
//
// Customers are locked with SKIP LOCKED: one held by a pipeline batch is
// being evaluated there, so nothing here ever waits on a lock, and a
// Rescore cannot take part in a deadlock.
type Rescore struct {
	Batch
	customers []*mapping.Customer
	// finish runs in Write, after the effects: the queue entries taken,
	// the sweep cursor moved.
	finish func(ctx context.Context) error
}

// Customers returns the claimed customers in id order.
func (r *Rescore) Customers() []*mapping.Customer { return r.customers }

// Last is the id of the last claimed customer: the cursor of the next
// ClaimAfter.
func (r *Rescore) Last() string {
	if len(r.customers) == 0 {
		return ""
	}
	return r.customers[len(r.customers)-1].ID
}

// Write applies the effects and finishes the claim.
func (r *Rescore) Write(ctx context.Context, e *mapping.Effects) error {
	if err := r.Batch.Write(ctx, e); err != nil {
		return err
	}
	if r.finish != nil {
		if err := r.finish(ctx); err != nil {
			return classify(fmt.Errorf("finish re-evaluation: %w", err))
		}
	}
	return nil
}

// rescoreColumns lead each claimed row: whether the customer is gone
// (merged or erased) and its referral count recounted from the referrals
// themselves, so the count heals whatever a crash could have left.
const rescoreColumns = `c.merged_into IS NOT NULL OR c.erased_at IS NOT NULL,
       (SELECT count(*) FROM referrals r WHERE r.referrer_id = c.id)::int, ` + customerColumns

// ClaimQueued begins a transaction and locks up to limit queued customers
// (a referrer whose count grew), oldest first. It returns nil when none
// can be taken. Their queue entries go with Write.
func (s *Store) ClaimQueued(ctx context.Context, limit int) (*Rescore, error) {
	r, err := s.claimCustomers(ctx, `
		WITH q AS (SELECT customer_id FROM rescore_queue ORDER BY queued_at LIMIT $1 FOR UPDATE SKIP LOCKED)
		SELECT `+rescoreColumns+`
		FROM customers c JOIN q ON q.customer_id = c.id
		ORDER BY c.id
		FOR UPDATE OF c SKIP LOCKED`, limit)
	if err != nil || r == nil {
		return nil, err
	}
	ids := r.taken
	r.finish = func(ctx context.Context) error {
		_, err := r.tx.Exec(ctx, `DELETE FROM rescore_queue WHERE customer_id = ANY($1::uuid[])`, ids)
		return err
	}
	return &r.Rescore, nil
}

// ClaimAfter begins a transaction and locks up to limit live customers
// with ids after the given one (the whole table in pages, for `rules
// apply`). It returns nil past the last.
func (s *Store) ClaimAfter(ctx context.Context, after string, limit int) (*Rescore, error) {
	r, err := s.claimCustomers(ctx, sweepSQL, orFirstID(after), limit)
	if err != nil || r == nil {
		return nil, err
	}
	return &r.Rescore, nil
}

// sweepSQL pages through live customers by id.
const sweepSQL = `
	SELECT ` + rescoreColumns + `
	FROM customers c
	WHERE c.id > $1::uuid AND c.merged_into IS NULL AND c.erased_at IS NULL
	ORDER BY c.id
	LIMIT $2
	FOR UPDATE OF c SKIP LOCKED`

func orFirstID(id string) string {
	if id == "" {
		return "00000000-0000-0000-0000-000000000000"
	}
	return id
}

// ClaimSweep begins a transaction and locks the next customers of the
// periodic sweep when one is due at now: a sweep starts every interval
// after the last one started (at once when a sweep overran). It returns
// nil when no sweep is due or another replica is sweeping. The batch that
// finds no more customers ends the sweep.
func (s *Store) ClaimSweep(ctx context.Context, limit int, now time.Time, every time.Duration) (*Rescore, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, classify(fmt.Errorf("claim sweep: %w", err))
	}
	var after *string
	var started *time.Time
	var next *time.Time
	err = tx.QueryRow(ctx, `SELECT after_id::text, started_at, next_at FROM lifecycle_sweep WHERE id = 1 FOR UPDATE SKIP LOCKED`).
		Scan(&after, &started, &next)
	switch {
	case errors.Is(err, pgx.ErrNoRows): // another replica holds the sweep
		_ = tx.Rollback(ctx)
		return nil, nil
	case err != nil:
		_ = tx.Rollback(ctx)
		return nil, classify(fmt.Errorf("claim sweep: %w", err))
	case after == nil && next != nil && now.Before(*next):
		_ = tx.Rollback(ctx)
		return nil, nil
	}
	start := now
	if after != nil && started != nil {
		start = *started
	} else {
		after = new(string)
	}
	r, err := scanRescore(ctx, tx, s.currentRoutes(), sweepSQL, orFirstID(*after), limit)
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, err
	}
	r.finish = func(ctx context.Context) error {
		if len(r.taken) < limit { // the end of the table: the sweep is over
			_, err := r.tx.Exec(ctx, `
				UPDATE lifecycle_sweep SET after_id = NULL, started_at = $1::timestamptz, finished_at = $2::timestamptz,
				       next_at = greatest($1::timestamptz + $3::float8 * interval '1 second', $2::timestamptz)
				WHERE id = 1`, start, now, every.Seconds())
			return err
		}
		_, err := r.tx.Exec(ctx, `UPDATE lifecycle_sweep SET after_id = $1::uuid, started_at = $2 WHERE id = 1`,
			r.taken[len(r.taken)-1], start)
		return err
	}
	return &r.Rescore, nil
}

// claimed is a Rescore while it is claimed: the queue entries or rows it
// took, including records gone since they were queued.
type claimed struct {
	Rescore
	taken []string
}

func (s *Store) claimCustomers(ctx context.Context, sql string, args ...any) (*claimed, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, classify(fmt.Errorf("claim customers: %w", err))
	}
	r, err := scanRescore(ctx, tx, s.currentRoutes(), sql, args...)
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, err
	}
	if len(r.taken) == 0 {
		_ = tx.Rollback(ctx)
		return nil, nil
	}
	return r, nil
}

// scanRescore runs a claim query of rescoreColumns and brings each live
// customer's referral count up to date.
func scanRescore(ctx context.Context, tx pgx.Tx, routes []mapping.Route, sql string, args ...any) (*claimed, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify(fmt.Errorf("claim customers: %w", err))
	}
	defer rows.Close()
	r := &claimed{Rescore: Rescore{Batch: Batch{tx: tx, routes: routes}}}
	var recount []string
	var counts []int32
	for rows.Next() {
		var gone bool
		var n int32
		c, err := scanCustomer(rows, &gone, &n)
		if err != nil {
			return nil, fmt.Errorf("claim customers: %w", err)
		}
		r.taken = append(r.taken, c.ID)
		if gone {
			continue
		}
		if int(n) != c.Lifecycle.ReferralCount {
			c.Lifecycle.ReferralCount = int(n)
			recount, counts = append(recount, c.ID), append(counts, n)
		}
		r.customers = append(r.customers, c)
	}
	if err := rows.Err(); err != nil {
		return nil, classify(fmt.Errorf("claim customers: %w", err))
	}
	rows.Close()
	if len(recount) > 0 {
		if _, err := tx.Exec(ctx, `
			UPDATE customers c SET referral_count = n.count
			FROM unnest($1::uuid[], $2::int[]) AS n(id, count) WHERE c.id = n.id`, recount, counts); err != nil {
			return nil, classify(fmt.Errorf("recount referrals: %w", err))
		}
	}
	return r, nil
}
