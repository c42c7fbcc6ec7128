package pgstore

import (
	"context"
	"fmt"

	"github.com/cyclehub/cyclehub/mapping"
)

// Snapshots returns the snapshot record of each customer as it is now (a
// tombstone for one erased or merged away), in id order.
func (s *Store) Snapshots(ctx context.Context, ids []string) ([]mapping.SnapshotRecord, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT c.erased_at IS NOT NULL OR c.merged_into IS NOT NULL, `+customerColumns+`
		FROM customers c WHERE c.id = ANY($1::uuid[]) ORDER BY c.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("read snapshots: %w", err)
	}
	defer rows.Close()
	out := make([]mapping.SnapshotRecord, 0, len(ids))
	for rows.Next() {
		var gone bool
		c, err := scanCustomer(rows, &gone)
		if err != nil {
			return nil, fmt.Errorf("read snapshots: %w", err)
		}
		rec, err := mapping.SnapshotOf(c, gone)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read snapshots: %w", err)
	}
	return out, nil
}
