package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// The fetch queue: stored requests of providers that send only ids wait
// here until the fetcher has read their documents from the provider's API.
// A claim takes a lease (not_before moves ahead) rather than holding a
// transaction open across HTTP calls; a fetcher that dies leaves its
// requests to be claimed again when the lease runs out.

const claimFetchSQL = `
WITH c AS (
    SELECT id FROM inbox
    WHERE status = 'pending' AND needs_fetch AND fetched IS NULL AND not_before <= now()
    ORDER BY id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE inbox i SET not_before = now() + $2::interval
FROM c WHERE i.id = c.id
RETURNING ` + inboxReturning

// inboxReturning is inboxColumns qualified for an UPDATE … FROM.
const inboxReturning = `i.id, i.request_id::text, i.source, i.provider, i.method, i.path, i.query, i.headers, i.body,
       i.received_at, coalesce(i.dedup_key, ''), i.attempts, i.needs_fetch, i.fetched`

// ClaimFetches leases up to limit requests waiting for their API documents,
// oldest first, for lease.
func (s *Store) ClaimFetches(ctx context.Context, limit int, lease time.Duration) ([]*mapping.RawRequest, error) {
	rows, err := s.pool.Query(ctx, claimFetchSQL, limit, lease)
	if err != nil {
		return nil, fmt.Errorf("claim fetches: %w", err)
	}
	reqs, err := pgx.CollectRows(rows, scanRawRequest)
	if err != nil {
		return nil, fmt.Errorf("claim fetches: %w", err)
	}
	return reqs, nil
}

// SaveFetched stores a request's documents and hands it to the pipeline.
func (s *Store) SaveFetched(ctx context.Context, id int64, fetched mapping.Fetched) error {
	doc, err := json.Marshal(fetched)
	if err != nil {
		return fmt.Errorf("save fetched %d: %w", id, err)
	}
	if _, err := s.pool.Exec(ctx, `
		UPDATE inbox SET fetched = $2::jsonb, not_before = '-infinity', reason = NULL
		WHERE id = $1 AND status = 'pending'`, id, string(doc)); err != nil {
		return fmt.Errorf("save fetched %d: %w", id, err)
	}
	return nil
}

// RetryFetch counts a failed fetch and schedules the next one.
func (s *Store) RetryFetch(ctx context.Context, id int64, reason string, notBefore time.Time) error {
	if _, err := s.pool.Exec(ctx, `
		UPDATE inbox SET attempts = attempts + 1, not_before = $2, reason = $3
		WHERE id = $1 AND status = 'pending'`, id, notBefore, reason); err != nil {
		return fmt.Errorf("retry fetch %d: %w", id, err)
	}
	return nil
}

// QuarantineFetch sets aside a request whose documents cannot be fetched,
// with the reason; a replay fetches again.
func (s *Store) QuarantineFetch(ctx context.Context, id int64, reason string) error {
	if _, err := s.pool.Exec(ctx, `
		UPDATE inbox SET status = 'quarantined', attempts = attempts + 1, reason = $2, processed_at = now()
		WHERE id = $1 AND status = 'pending'`, id, reason); err != nil {
		return fmt.Errorf("quarantine %d: %w", id, err)
	}
	return nil
}

// FetchBacklog is the number of requests waiting for their documents and
// the age of the oldest (for metrics and readiness detail).
func (s *Store) FetchBacklog(ctx context.Context) (count int64, oldest time.Duration, err error) {
	var age *float64
	err = s.pool.QueryRow(ctx, `
		SELECT count(*), extract(epoch FROM now() - min(received_at))
		FROM inbox WHERE status = 'pending' AND needs_fetch AND fetched IS NULL`).Scan(&count, &age)
	if err != nil {
		return 0, 0, fmt.Errorf("fetch backlog: %w", err)
	}
	if age != nil {
		oldest = time.Duration(*age * float64(time.Second))
	}
	return count, oldest, nil
}
