package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// Batch is a set of inbox requests claimed in one transaction: they stay
// locked (other workers and replicas skip them) until Commit or Rollback.
type Batch struct {
	tx       pgx.Tx
	requests []*mapping.RawRequest
	// routes are the destinations the batch's events fan out to.
	routes []mapping.Route
}

// inboxColumns are the columns scanRawRequest reads.
const inboxColumns = `id, request_id::text, source, provider, method, path, query, headers, body,
       received_at, coalesce(dedup_key, ''), attempts, needs_fetch, fetched`

// Requests that wait for their API documents are the fetcher's, not the
// pipeline's, until the documents are stored.
const claimSQL = `
SELECT ` + inboxColumns + `
FROM inbox
WHERE status = 'pending' AND not_before <= now() AND (NOT needs_fetch OR fetched IS NOT NULL)
ORDER BY id
LIMIT $1
FOR UPDATE SKIP LOCKED`

const claimIDsSQL = `
SELECT ` + inboxColumns + `
FROM inbox
WHERE id = ANY($1) AND status = 'pending' AND (NOT needs_fetch OR fetched IS NOT NULL)
ORDER BY id
FOR UPDATE SKIP LOCKED`

// Claim begins a transaction and locks up to limit pending requests, oldest
// first. An empty batch is returned (and must still be rolled back) when
// there is nothing to do.
func (s *Store) Claim(ctx context.Context, limit int) (*Batch, error) {
	return s.claim(ctx, claimSQL, limit)
}

// ClaimIDs is Claim restricted to the given requests (used to retry a failed
// batch one request at a time).
func (s *Store) ClaimIDs(ctx context.Context, ids []int64) (*Batch, error) {
	return s.claim(ctx, claimIDsSQL, ids)
}

func (s *Store) claim(ctx context.Context, sql string, arg any) (*Batch, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim inbox: %w", err)
	}
	rows, err := tx.Query(ctx, sql, arg)
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("claim inbox: %w", err)
	}
	reqs, err := pgx.CollectRows(rows, scanRawRequest)
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("claim inbox: %w", err)
	}
	return &Batch{tx: tx, requests: reqs, routes: s.currentRoutes()}, nil
}

func scanRawRequest(row pgx.CollectableRow) (*mapping.RawRequest, error) {
	var (
		r                mapping.RawRequest
		headers, fetched []byte
	)
	if err := row.Scan(&r.ID, &r.RequestID, &r.Source, &r.Provider, &r.Method, &r.Path, &r.Query,
		&headers, &r.Body, &r.ReceivedAt, &r.DedupKey, &r.Attempts, &r.NeedsFetch, &fetched); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(headers, &r.Headers); err != nil {
		return nil, fmt.Errorf("inbox %d: headers: %w", r.ID, err)
	}
	if fetched != nil {
		if err := json.Unmarshal(fetched, &r.Fetched); err != nil {
			return nil, fmt.Errorf("inbox %d: fetched documents: %w", r.ID, err)
		}
	}
	return &r, nil
}

// Requests returns the claimed requests, oldest first.
func (b *Batch) Requests() []*mapping.RawRequest { return b.requests }

// Commit makes the batch's writes durable and releases its locks.
func (b *Batch) Commit(ctx context.Context) error {
	if err := b.tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	return nil
}

// Rollback abandons the batch; its requests become claimable again. It is
// safe to call after Commit.
func (b *Batch) Rollback(ctx context.Context) error {
	err := b.tx.Rollback(context.WithoutCancel(ctx))
	if err == nil || err == pgx.ErrTxClosed {
		return nil
	}
	return fmt.Errorf("rollback batch: %w", err)
}
