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
// each can count the others and take its fair share of the ranges). A
// member or range key also says how many ranges its relay splits the
// buckets into, so relays configured differently can tell.
const (
	relayRangeKey  int64 = 0x6379636c72000000 // + ranges<<8 + range index
	relayMemberKey int64 = 0x6379636c6d000000 // + ranges<<8 + slot
	// relayMemberSlots bounds the replicas that can run a relay.
	relayMemberSlots = 256
)

// RelayMember is a running relay: its member slot and its ranges setting.
type RelayMember struct{ Slot, Ranges int }

// ErrNotLeader means another relay holds the range.
var ErrNotLeader = errors.New("another relay holds this range")

// Lease is a session advisory lock on its own connection.
type Lease struct {
	conn *pgxpool.Conn
	key  int64
}

// AcquireRelayRange tries once to lead the outbox bucket range with the
// given index of the given split.
func (s *Store) AcquireRelayRange(ctx context.Context, ranges, index int) (*Lease, error) {
	return s.tryLock(ctx, relayRangeKey+int64(ranges)<<8+int64(index))
}

// JoinRelays takes a free member slot for this process's relay, which
// splits the buckets into ranges; hold it while the relay runs.
func (s *Store) JoinRelays(ctx context.Context, ranges int) (*Lease, error) {
	taken, _, err := s.RelayLocks(ctx)
	if err != nil {
		return nil, err
	}
	used := map[int]bool{}
	for _, m := range taken {
		used[m.Slot] = true
	}
	for slot := range relayMemberSlots {
		if used[slot] {
			continue
		}
		l, err := s.tryLock(ctx, relayMemberKey+int64(ranges)<<8+int64(slot))
		if errors.Is(err, ErrNotLeader) {
			continue
		}
		return l, err
	}
	return nil, fmt.Errorf("join relays: all %d member slots are taken", relayMemberSlots)
}

// RelayLocks lists the running relays (the member slots held, this
// process's included) and, for each range led, the ranges setting of its
// leader.
func (s *Store) RelayLocks(ctx context.Context) (members []RelayMember, leading []int, err error) {
	// A bigint advisory key shows in pg_locks as classid (high 32 bits)
	// and objid (low 32 bits) with objsubid 1.
	rows, err := s.pool.Query(ctx, `
		SELECT k FROM (
		    SELECT (classid::bigint << 32 | objid::bigint) AS k FROM pg_locks
		    WHERE locktype = 'advisory' AND objsubid = 1 AND granted
		      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) l
		WHERE k BETWEEN $1 AND $1 + (1 << 24) - 1 OR k BETWEEN $2 AND $2 + (1 << 24) - 1`, relayMemberKey, relayRangeKey)
	if err != nil {
		return nil, nil, fmt.Errorf("list relays: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k int64
		if err := rows.Scan(&k); err != nil {
			return nil, nil, fmt.Errorf("list relays: %w", err)
		}
		if off := k - relayMemberKey; off >= 0 && off < 1<<24 {
			members = append(members, RelayMember{Slot: int(off & 0xff), Ranges: int(off >> 8)})
		} else {
			leading = append(leading, int((k-relayRangeKey)>>8))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("list relays: %w", err)
	}
	return members, leading, nil
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
