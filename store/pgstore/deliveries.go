package pgstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// Scheduled is a pending delivery and when it is due.
type Scheduled struct {
	ID int64
	At time.Time
}

// PendingDeliveries returns a destination's pending deliveries with ids
// after the given one, with when each is due: what the Redis schedule is
// rebuilt from. dueBy, when set, keeps only those due by then.
func (s *Store) PendingDeliveries(ctx context.Context, dest string, after int64, dueBy time.Time, limit int) ([]Scheduled, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, next_attempt_at FROM deliveries
		WHERE destination = $1 AND status = 'pending' AND id > $2 AND ($3::timestamptz IS NULL OR next_attempt_at <= $3)
		ORDER BY id LIMIT $4`, dest, after, nullTime(dueBy), limit)
	if err != nil {
		return nil, fmt.Errorf("pending deliveries of %s: %w", dest, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Scheduled])
	if err != nil {
		return nil, fmt.Errorf("pending deliveries of %s: %w", dest, err)
	}
	return out, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ClaimDeliveries marks the due ones among ids as being delivered for
// lease (an attempt counted) and returns them as records to write, in id
// order. A delivery waits while an earlier one to the same destination
// about the same customer is open, so a customer's deliveries go out in
// order. It also returns when each of the others is due (zero when it is
// no longer pending).
func (s *Store) ClaimDeliveries(ctx context.Context, dest string, ids []int64, lease time.Duration) ([]mapping.OutboxRecord, []Scheduled, error) {
	rows, err := s.pool.Query(ctx, `
		UPDATE deliveries d SET status = 'delivering', attempts = attempts + 1, lease_until = now() + $3 * interval '1 second'
		WHERE d.id = ANY($2) AND d.destination = $1 AND d.status = 'pending' AND NOT d.cancelled AND d.next_attempt_at <= now()
		  AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.destination = d.destination AND e.customer_id = d.customer_id
		                  AND e.id < d.id AND e.status IN ('pending', 'delivering'))
		RETURNING d.id, d.event_id::text, d.customer_id::text, d.event_type, d.created_at, d.payload, d.contact, d.attempts, d.replays`,
		dest, ids, lease.Seconds())
	if err != nil {
		return nil, nil, fmt.Errorf("claim deliveries of %s: %w", dest, err)
	}
	var out []mapping.OutboxRecord
	claimed := map[int64]bool{}
	for rows.Next() {
		var r mapping.OutboxRecord
		var contact []byte
		if err := rows.Scan(&r.ID, &r.EventID, &r.CustomerID, &r.Type, &r.Time, &r.Payload, &contact, &r.Attempt, &r.Replays); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("claim deliveries of %s: %w", dest, err)
		}
		if contact != nil {
			r.Contact = &mapping.Contact{}
			if err := json.Unmarshal(contact, r.Contact); err != nil {
				rows.Close()
				return nil, nil, fmt.Errorf("delivery %d contact: %w", r.ID, err)
			}
		}
		r.IdempotencyKey = dest + ":" + r.EventID
		claimed[r.ID] = true
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("claim deliveries of %s: %w", dest, err)
	}
	slices.SortFunc(out, func(a, b mapping.OutboxRecord) int { return cmp.Compare(a.ID, b.ID) })
	var rest []int64
	for _, id := range ids {
		if !claimed[id] {
			rest = append(rest, id)
		}
	}
	if len(rest) == 0 {
		return out, nil, nil
	}
	others := make([]Scheduled, 0, len(rest))
	srows, err := s.pool.Query(ctx, `
		SELECT x.id, coalesce(d.next_attempt_at, 'epoch')
		FROM unnest($1::bigint[]) AS x(id) LEFT JOIN deliveries d ON d.id = x.id AND d.status = 'pending'`, rest)
	if err != nil {
		return out, nil, fmt.Errorf("claim deliveries of %s: %w", dest, err)
	}
	for srows.Next() {
		var sc Scheduled
		if err := srows.Scan(&sc.ID, &sc.At); err != nil {
			srows.Close()
			return out, nil, fmt.Errorf("claim deliveries of %s: %w", dest, err)
		}
		if sc.At.Unix() == 0 {
			sc.At = time.Time{}
		}
		others = append(others, sc)
	}
	srows.Close()
	return out, others, srows.Err()
}

// DeliveryOutcome is how an attempt ended.
type DeliveryOutcome struct {
	ID int64
	// Status is delivered, pending (retry at Next) or dead.
	Status string
	Next   time.Time
	Error  string
	// HTTPStatus is the destination's answer, when there was one.
	HTTPStatus int
}

// FinishDeliveries records attempts' outcomes. A delivered row keeps no
// contact (personal data is kept only as long as it is needed).
func (s *Store) FinishDeliveries(ctx context.Context, outcomes []DeliveryOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	n := len(outcomes)
	ids, statuses, errs := make([]int64, n), make([]string, n), make([]*string, n)
	nexts := make([]*time.Time, n)
	codes := make([]*int, n) // pgx range-checks int4
	for i, o := range outcomes {
		ids[i], statuses[i] = o.ID, o.Status
		if o.Error != "" {
			e := o.Error
			errs[i] = &e
		}
		nexts[i] = nullTime(o.Next)
		if o.HTTPStatus != 0 {
			c := o.HTTPStatus
			codes[i] = &c
		}
	}
	// A cancelled attempt (its person erased meanwhile) gets no outcome:
	// the update skips it (rechecked once an erasure holding the row
	// commits) and the delete after it removes it.
	if _, err := s.pool.Exec(ctx, `
		UPDATE deliveries d SET status = o.status, lease_until = NULL, last_error = o.err, last_status = o.code,
		       next_attempt_at = coalesce(o.next, d.next_attempt_at),
		       finished_at = CASE WHEN o.status = 'pending' THEN NULL ELSE now() END,
		       contact = CASE WHEN o.status = 'delivered' THEN NULL ELSE d.contact END
		FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], $5::int[]) AS o(id, status, next, err, code)
		WHERE d.id = o.id AND d.status = 'delivering' AND NOT d.cancelled`, ids, statuses, nexts, errs, codes); err != nil {
		return fmt.Errorf("record %d delivery outcomes: %w", n, err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM deliveries WHERE id = ANY($1) AND cancelled`, ids); err != nil {
		return fmt.Errorf("record %d delivery outcomes: %w", n, err)
	}
	return nil
}

// ReleaseExpiredLeases returns deliveries whose attempt outlived its lease
// (the process died mid-delivery) to pending, due now; the attempt counts.
func (s *Store) ReleaseExpiredLeases(ctx context.Context) (int64, error) {
	if _, err := s.pool.Exec(ctx, `DELETE FROM deliveries WHERE status = 'delivering' AND lease_until < now() AND cancelled`); err != nil {
		return 0, fmt.Errorf("release expired delivery leases: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `
		UPDATE deliveries SET status = 'pending', next_attempt_at = now(), lease_until = NULL,
		       last_error = 'the attempt did not finish (the process stopped mid-delivery)'
		WHERE status = 'delivering' AND lease_until < now()`)
	if err != nil {
		return 0, fmt.Errorf("release expired delivery leases: %w", err)
	}
	return tag.RowsAffected(), nil
}

// DisableDestination records that a destination is gone, and why.
func (s *Store) DisableDestination(ctx context.Context, dest, reason string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO destination_state (destination, disabled_at, reason) VALUES ($1, $2, $3)
		ON CONFLICT (destination) DO NOTHING`, dest, at, reason)
	if err != nil {
		return fmt.Errorf("disable destination %s: %w", dest, err)
	}
	return nil
}

// DestinationDisabled returns why a destination is disabled ("" when it
// is not).
func (s *Store) DestinationDisabled(ctx context.Context, dest string) (string, error) {
	var reason string
	err := s.pool.QueryRow(ctx, `SELECT reason FROM destination_state WHERE destination = $1`, dest).Scan(&reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("destination %s state: %w", dest, err)
	}
	return reason, nil
}

// DeliveryBacklog counts a destination's deliveries by status (pending,
// delivering, dead) and the age of the oldest pending one.
func (s *Store) DeliveryBacklog(ctx context.Context, dest string) (map[string]int64, time.Duration, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT status, count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)
		FROM deliveries WHERE destination = $1 AND status IN ('pending', 'delivering', 'dead') GROUP BY status`, dest)
	if err != nil {
		return nil, 0, fmt.Errorf("delivery backlog of %s: %w", dest, err)
	}
	defer rows.Close()
	out := map[string]int64{"pending": 0, "delivering": 0, "dead": 0}
	var oldest time.Duration
	for rows.Next() {
		var status string
		var n int64
		var age float64
		if err := rows.Scan(&status, &n, &age); err != nil {
			return nil, 0, fmt.Errorf("delivery backlog of %s: %w", dest, err)
		}
		out[status] = n
		if status == "pending" {
			oldest = time.Duration(age * float64(time.Second))
		}
	}
	return out, oldest, rows.Err()
}
