package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/cyclehub/cyclehub/mapping"
)

// recordOverhead bounds what a record adds to a produce request besides
// its payload: the key, the content-type and ce_* headers, and framing
// (about 400 bytes). Counting it keeps a batch within one produce request
// per partition, so a later event of a customer never lands while an
// earlier one failed.
const recordOverhead = 512

// PendingOutbox returns up to limit unpublished events of the buckets lo..hi
// (inclusive) in outbox order, stopping before maxBytes of payload (at
// least one event is returned; sizes count recordOverhead too). A customer's events are all in its bucket,
// and outbox order is commit order per customer.
func (s *Store) PendingOutbox(ctx context.Context, lo, hi, limit, maxBytes int) ([]mapping.OutboxRecord, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, event_id::text, customer_id::text, type, sequence, event_time, payload
		FROM outbox WHERE published_at IS NULL AND bucket BETWEEN $2 AND $3 ORDER BY id LIMIT $1`, limit, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	defer rows.Close()
	var (
		out   []mapping.OutboxRecord
		total int
	)
	for rows.Next() {
		var r mapping.OutboxRecord
		if err := rows.Scan(&r.ID, &r.EventID, &r.CustomerID, &r.Type, &r.Sequence, &r.Time, &r.Payload); err != nil {
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		size := len(r.Payload) + recordOverhead
		if len(out) > 0 && total+size > maxBytes {
			break
		}
		total += size
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// MarkPublished records that the events were acknowledged by the broker.
func (s *Store) MarkPublished(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, `UPDATE outbox SET published_at = now() WHERE id = ANY($1)`, ids); err != nil {
		return fmt.Errorf("mark %d events published: %w", len(ids), err)
	}
	return nil
}

// PrunePublished deletes up to limit events published before cutoff,
// oldest first: the outbox is a relay queue, not an archive (Kafka is).
func (s *Store) PrunePublished(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM outbox WHERE id IN (
		    SELECT id FROM outbox WHERE published_at < $1 ORDER BY id LIMIT $2)`, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("prune published events: %w", err)
	}
	return tag.RowsAffected(), nil
}

// PruneDeliveries deletes up to limit deliveries delivered or dead-lettered
// before cutoff, oldest first.
func (s *Store) PruneDeliveries(ctx context.Context, cutoff time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM deliveries WHERE id IN (
		    SELECT id FROM deliveries WHERE status IN ('delivered', 'dead') AND finished_at < $1 ORDER BY id LIMIT $2)`, cutoff, limit)
	if err != nil {
		return 0, fmt.Errorf("prune finished deliveries: %w", err)
	}
	return tag.RowsAffected(), nil
}

// OutboxLag returns the number of unpublished events and the age of the
// oldest one.
func (s *Store) OutboxLag(ctx context.Context) (count int64, oldest time.Duration, err error) {
	var age *float64
	err = s.pool.QueryRow(ctx, `
		SELECT count(*), extract(epoch FROM now() - min(created_at))
		FROM outbox WHERE published_at IS NULL`).Scan(&count, &age)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox lag: %w", err)
	}
	if age != nil {
		oldest = time.Duration(*age * float64(time.Second))
	}
	return count, oldest, nil
}
