package main

import (
	"context"

	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
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
