package pgstore

import (
	"context"
	"fmt"
)

// ClaimRecords records, in the batch's transaction, that the batched
// records (source[i], key[i]) of inbox rows inboxIDs[i] are being applied,
// and reports for each whether it is new: not applied by this or by a
// committed earlier transaction, and not earlier in the same list. A
// concurrent transaction claiming the same key waits on it, then sees it
// taken.
func (b *Batch) ClaimRecords(ctx context.Context, sources, keys []string, inboxIDs []int64) ([]bool, error) {
	owned := make([]bool, len(keys))
	if len(keys) == 0 {
		return owned, nil
	}
	rows, err := b.tx.Query(ctx, `
		INSERT INTO record_keys (source, key, inbox_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
		ON CONFLICT DO NOTHING
		RETURNING source, key`, sources, keys, inboxIDs)
	if err != nil {
		return nil, fmt.Errorf("claim record keys: %w", err)
	}
	defer rows.Close()
	inserted := map[[2]string]bool{}
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			return nil, fmt.Errorf("claim record keys: %w", err)
		}
		inserted[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim record keys: %w", err)
	}
	for i := range keys {
		k := [2]string{sources[i], keys[i]}
		if inserted[k] {
			owned[i] = true
			delete(inserted, k) // a repeat later in the list is not new
		}
	}
	return owned, nil
}
