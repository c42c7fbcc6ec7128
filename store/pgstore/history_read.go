package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// CustomerHistory is a live customer with its stored interactions, oldest
// first: what `rules backtest` replays.
type CustomerHistory struct {
	Customer *mapping.Customer
	Events   []*mapping.Event
}

// Histories returns up to limit live customers with ids after the given one
// ("" from the first), each with its interactions, read in one read-only
// snapshot. Events carry their source, type, time and properties (the
// timeline keeps no traits); Provider is left to the caller.
func (s *Store) Histories(ctx context.Context, after string, limit int) ([]CustomerHistory, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("read histories: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	rows, err := tx.Query(ctx, `
		SELECT `+customerColumns+` FROM customers c
		WHERE c.id > $1::uuid AND c.merged_into IS NULL AND c.erased_at IS NULL
		ORDER BY c.id LIMIT $2`, orFirstID(after), limit)
	if err != nil {
		return nil, fmt.Errorf("read histories: %w", err)
	}
	var out []CustomerHistory
	byID := map[string]int{}
	ids := []string{}
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read histories: %w", err)
		}
		byID[c.ID] = len(out)
		ids = append(ids, c.ID)
		out = append(out, CustomerHistory{Customer: c})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read histories: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err = tx.Query(ctx, `
		SELECT customer_id::text, source, type, occurred_at, properties FROM timeline
		WHERE customer_id = ANY($1::uuid[]) ORDER BY customer_id, occurred_at, id`, ids)
	if err != nil {
		return nil, fmt.Errorf("read histories: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cid string
		var props []byte
		ev := &mapping.Event{}
		if err := rows.Scan(&cid, &ev.Source, &ev.Type, &ev.OccurredAt, &props); err != nil {
			return nil, fmt.Errorf("read histories: %w", err)
		}
		if err := json.Unmarshal(props, &ev.Properties); err != nil {
			return nil, fmt.Errorf("read histories: customer %s properties: %w", cid, err)
		}
		ev.OccurredAt = ev.OccurredAt.In(time.UTC)
		h := &out[byID[cid]]
		h.Events = append(h.Events, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read histories: %w", err)
	}
	return out, nil
}
