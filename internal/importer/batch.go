package importer

import (
	"context"

	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// runInbox is the pipeline's inbox for one import run: it claims only the
// run's waiting rows.
type runInbox struct {
	store *pgstore.Store
	run   int64
}

func (a runInbox) Claim(ctx context.Context, limit int) (pipeline.Batch, error) {
	b, err := a.store.ClaimImport(ctx, a.run, limit)
	if err != nil {
		return nil, err
	}
	return &countingBatch{Batch: b, run: a.run}, nil
}

func (a runInbox) ClaimIDs(ctx context.Context, ids []int64) (pipeline.Batch, error) {
	b, err := a.store.ClaimImportIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	return &countingBatch{Batch: b, run: a.run}, nil
}

// countingBatch adds each batch's outcome to the run's counters in the
// batch's own transaction, after its effects.
type countingBatch struct {
	*pgstore.Batch
	run int64
}

func (b *countingBatch) Write(ctx context.Context, eff *mapping.Effects) error {
	if err := b.Batch.Write(ctx, eff); err != nil {
		return err
	}
	c, retried := countEffects(eff)
	return b.CountImport(ctx, b.run, c, retried)
}

// countEffects is what a batch's effects add to its run: the rows it
// finished (done, suppressed or quarantined; a suppressed row may also be
// done), those quarantined, the customers it created and updated; and the
// rows it left for a retry.
func countEffects(eff *mapping.Effects) (pgstore.ImportCounts, []int64) {
	finished := make(map[int64]bool, len(eff.Done)+len(eff.Quarantined))
	for _, id := range eff.Done {
		finished[id] = true
	}
	for _, id := range eff.Suppressed {
		finished[id] = true
	}
	for _, d := range eff.Quarantined {
		finished[d.InboxID] = true
	}
	c := pgstore.ImportCounts{Processed: int64(len(finished)), Quarantined: int64(len(eff.Quarantined))}
	for _, ev := range eff.Outbox {
		switch ev.Type {
		case mapping.TypeCustomerCreated:
			c.CustomersCreated++
		case mapping.TypeCustomerUpdated:
			c.CustomersUpdated++
		}
	}
	var retried []int64
	for _, d := range eff.Retry {
		retried = append(retried, d.InboxID)
	}
	return c, retried
}
