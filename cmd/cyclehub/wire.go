package main

import (
	"context"

	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
	"github.com/cyclehub/cyclehub/store/redisstore"
	"github.com/cyclehub/cyclehub/webhooks"
)

// inboxAdapter lets the PostgreSQL store satisfy the pipeline's Inbox port
// (which returns its own Batch interface).
type inboxAdapter struct{ store *pgstore.Store }

func (a inboxAdapter) Claim(ctx context.Context, limit int) (pipeline.Batch, error) {
	b, err := a.store.Claim(ctx, limit)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (a inboxAdapter) ClaimIDs(ctx context.Context, ids []int64) (pipeline.Batch, error) {
	b, err := a.store.ClaimIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// dedupAdapter lets the Redis deduplicator satisfy the edge's Dedup port.
type dedupAdapter struct{ d *redisstore.Dedup }

func (a dedupAdapter) Claim(ctx context.Context, source, key string) (webhooks.Claim, error) {
	c, err := a.d.Claim(ctx, source, key)
	switch c {
	case redisstore.Seen:
		return webhooks.ClaimSeen, err
	case redisstore.InFlight:
		return webhooks.ClaimInFlight, err
	default:
		return webhooks.ClaimOwned, err
	}
}

func (a dedupAdapter) Done(ctx context.Context, source, key string) error {
	return a.d.Done(ctx, source, key)
}

func (a dedupAdapter) Release(ctx context.Context, source, key string) error {
	return a.d.Release(ctx, source, key)
}
