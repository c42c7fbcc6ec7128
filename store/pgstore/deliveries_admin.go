package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DeliveryView is a delivery as the admin API lists it (no contact).
type DeliveryView struct {
	ID            int64      `json:"id"`
	Destination   string     `json:"destination"`
	EventID       string     `json:"event_id"`
	CustomerID    string     `json:"customer_id"`
	EventType     string     `json:"event_type"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	LastError     *string    `json:"last_error,omitempty"`
	LastStatus    *int       `json:"last_http_status,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
}

// DeliveryFilter selects deliveries to list or replay.
type DeliveryFilter struct {
	Status      string // pending, delivering, delivered, dead; "" any
	Destination string // "" any
	// From and To bound created_at (zero: unbounded).
	From, To time.Time
	Before   int64 // list: ids below this (paging); 0 from the newest
	Limit    int
}

// ListDeliveries returns deliveries newest first.
func (s *Store) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]DeliveryView, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, destination, event_id::text, customer_id::text, event_type, status, attempts,
		       CASE WHEN status = 'pending' THEN next_attempt_at END, last_error, last_status, created_at, finished_at
		FROM deliveries
		WHERE ($1 = '' OR status = $1) AND ($2 = '' OR destination = $2) AND ($3 = 0 OR id < $3)
		  AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at < $5)
		ORDER BY id DESC LIMIT $6`, f.Status, f.Destination, f.Before, nullTime(f.From), nullTime(f.To), f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DeliveryView])
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	return out, nil
}

// ReplayDeliveries queues dead (or, by status, delivered) deliveries again
// with a fresh schedule, due now, and re-enables their destinations. It
// returns the deliveries queued by destination.
func (s *Store) ReplayDeliveries(ctx context.Context, ids []int64, f DeliveryFilter) (map[string][]int64, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("replay deliveries: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	status := f.Status
	if status == "" {
		status = "dead"
	}
	rows, err := tx.Query(ctx, `
		UPDATE deliveries SET status = 'pending', attempts = 0, replays = replays + 1, next_attempt_at = now(), finished_at = NULL,
		       last_error = NULL, last_status = NULL
		WHERE status = $1 AND ($2::bigint[] IS NULL OR cardinality($2::bigint[]) = 0 OR id = ANY($2))
		  AND ($3 = '' OR destination = $3)
		  AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at < $5)
		RETURNING destination, id`, status, ids, f.Destination, nullTime(f.From), nullTime(f.To))
	if err != nil {
		return nil, fmt.Errorf("replay deliveries: %w", err)
	}
	out := map[string][]int64{}
	for rows.Next() {
		var dest string
		var id int64
		if err := rows.Scan(&dest, &id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("replay deliveries: %w", err)
		}
		out[dest] = append(out[dest], id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("replay deliveries: %w", err)
	}
	// The destinations replayed to are enabled again; so is one named
	// with nothing to replay (the operator says it is fixed).
	dests := make([]string, 0, len(out)+1)
	for d := range out {
		dests = append(dests, d)
	}
	if f.Destination != "" {
		dests = append(dests, f.Destination)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM destination_state WHERE destination = ANY($1)`, dests); err != nil {
		return nil, fmt.Errorf("replay deliveries: %w", err)
	}
	return out, tx.Commit(ctx)
}
