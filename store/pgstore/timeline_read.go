package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TimelineEntry is one interaction of a customer, as the admin API shows it.
type TimelineEntry struct {
	ID         int64           `json:"id"`
	Source     string          `json:"source"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	RequestID  string          `json:"request_id"`
	Properties json.RawMessage `json:"properties"`
}

// Timeline returns up to limit interactions of the customer, newest first
// (by when they happened), after the entry with id before (0: from the
// newest).
func (s *Store) Timeline(ctx context.Context, customerID string, before int64, limit int) ([]TimelineEntry, error) {
	if !validUUID(customerID) {
		return nil, ErrNotFound
	}
	rows, err := s.pool.Query(ctx, `
		SELECT t.id, t.source, t.type, t.occurred_at, coalesce(i.request_id::text, ''), t.properties
		FROM timeline t LEFT JOIN inbox i ON i.id = t.inbox_id
		WHERE t.customer_id = $1
		  AND ($2 = 0 OR (t.occurred_at, t.id) < (SELECT occurred_at, id FROM timeline WHERE id = $2))
		ORDER BY t.occurred_at DESC, t.id DESC
		LIMIT $3`, customerID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	entries, err := pgx.CollectRows(rows, pgx.RowToStructByPos[TimelineEntry])
	if err != nil {
		return nil, fmt.Errorf("timeline: %w", err)
	}
	return entries, nil
}
