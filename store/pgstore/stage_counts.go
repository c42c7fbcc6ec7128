package pgstore

import (
	"context"
	"fmt"
)

// StageCounts counts the current customers by lifecycle stage: those
// neither erased nor merged into another. Customers without a stage yet
// count under "". Stages nobody is in are absent.
func (s *Store) StageCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT coalesce(stage, ''), count(*) FROM customers
		WHERE merged_into IS NULL AND erased_at IS NULL
		GROUP BY 1`)
	if err != nil {
		return nil, fmt.Errorf("stage counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var stage string
		var n int64
		if err := rows.Scan(&stage, &n); err != nil {
			return nil, fmt.Errorf("stage counts: %w", err)
		}
		out[stage] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stage counts: %w", err)
	}
	return out, nil
}
