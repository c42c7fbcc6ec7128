package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cyclehub/cyclehub/mapping"
)

// PendingOutbox returns up to limit unpublished events in outbox order,
// stopping before maxBytes of payload (at least one event is returned).
func (s *Store) PendingOutbox(ctx context.Context, limit, maxBytes int) ([]mapping.OutboxRecord, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, event_id::text, customer_id::text, type, sequence, event_time, payload
		FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1`, limit)
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
		if len(out) > 0 && total+len(r.Payload) > maxBytes {
			break
		}
		total += len(r.Payload)
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

// relayLockKey is the advisory lock held by the one active relay.
const relayLockKey int64 = 0x6379636c72656c61 // "cyclrela"

// Leadership is held by the active relay; Release gives it up.
type Leadership struct {
	conn *pgxpool.Conn
}

// ErrNotLeader means another process holds the relay leadership.
var ErrNotLeader = errors.New("another relay is active")

// AcquireRelayLeadership tries once to become the active relay. The lock
// lives on a dedicated connection: if this process dies, PostgreSQL drops
// the connection and the lock with it, and another replica takes over.
func (s *Store) AcquireRelayLeadership(ctx context.Context) (*Leadership, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("relay leadership: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, relayLockKey).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("relay leadership: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, ErrNotLeader
	}
	return &Leadership{conn: conn}, nil
}

// Check verifies the leadership connection is still alive: a session
// advisory lock lives exactly as long as its connection.
func (l *Leadership) Check(ctx context.Context) error {
	if err := l.conn.Ping(ctx); err != nil {
		return fmt.Errorf("relay leadership lost: %w", err)
	}
	return nil
}

// Release gives up the leadership.
func (l *Leadership) Release(ctx context.Context) {
	_, err := l.conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, relayLockKey)
	if err != nil {
		// The connection is broken; closing it drops the lock server-side.
		_ = l.conn.Conn().Close(context.WithoutCancel(ctx))
	}
	l.conn.Release()
}
