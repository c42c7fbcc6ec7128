package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Relay coordination by session advisory locks, each on a dedicated
// connection: a lock lives exactly as long as its connection, so when a
// replica dies PostgreSQL drops its locks and another takes over.
//
// Two families of keys: one per outbox bucket range (held by the one relay
// publishing it) and one per member slot (held by every running relay, so
// each can count the others and take its fair share of the ranges).
const (
	relayRangeKey  int64 = 0x6379636c72000000 // + range index
	relayMemberKey int64 = 0x6379636c6d000000 // + slot
	// relayMemberSlots bounds the replicas that can run a relay.
	relayMemberSlots = 256
)

// ErrNotLeader means another relay holds the range.
var ErrNotLeader = errors.New("another relay holds this range")

// Lease is a session advisory lock on its own connection.
type Lease struct {
	conn *pgxpool.Conn
	key  int64
}

// AcquireRelayRange tries once to lead the outbox bucket range with the
// given index.
func (s *Store) AcquireRelayRange(ctx context.Context, index int) (*Lease, error) {
	return s.tryLock(ctx, relayRangeKey+int64(index))
}

// JoinRelays takes a free member slot for this process's relay; hold it
// while the relay runs.
func (s *Store) JoinRelays(ctx context.Context) (*Lease, error) {
	for slot := range relayMemberSlots {
		l, err := s.tryLock(ctx, relayMemberKey+int64(slot))
		if errors.Is(err, ErrNotLeader) {
			continue
		}
		return l, err
	}
	return nil, fmt.Errorf("join relays: all %d member slots are taken", relayMemberSlots)
}

// RelayMembers counts the running relays (the member slots held), this
// process's included.
func (s *Store) RelayMembers(ctx context.Context) (int, error) {
	var n int
	// A bigint advisory key shows in pg_locks as classid (high 32 bits)
	// and objid (low 32 bits) with objsubid 1.
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND granted
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND (classid::bigint << 32 | objid::bigint) BETWEEN $1 AND $2`,
		relayMemberKey, relayMemberKey+relayMemberSlots-1).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count relays: %w", err)
	}
	return n, nil
}

func (s *Store) tryLock(ctx context.Context, key int64) (*Lease, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("relay lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, fmt.Errorf("relay lock: %w", err)
	}
	if !ok {
		conn.Release()
		return nil, ErrNotLeader
	}
	return &Lease{conn: conn, key: key}, nil
}

// Check verifies the lock's connection is still alive.
func (l *Lease) Check(ctx context.Context) error {
	if err := l.conn.Ping(ctx); err != nil {
		return fmt.Errorf("relay lock lost: %w", err)
	}
	return nil
}

// Release gives the lock up.
func (l *Lease) Release(ctx context.Context) {
	_, err := l.conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, l.key)
	if err != nil {
		// The connection is broken; closing it drops the lock server-side.
		_ = l.conn.Conn().Close(context.WithoutCancel(ctx))
	}
	l.conn.Release()
}
