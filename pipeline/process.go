package pipeline

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/cyclehub/cyclehub/mapping"
)

// outcome summarizes a processed batch for logs and metrics.
type outcome struct {
	requests    int
	done        int
	quarantined int
	retried     int
	suppressed  int
	events      int
}

// item is one mapped record of a claimed request.
type item struct {
	req    *mapping.RawRequest
	ev     *mapping.Event
	record int
}

// process maps every request of b, resolves and updates customers, and
// writes the effects. It does not commit.
func (w *Workers) process(ctx context.Context, b Batch) (outcome, error) {
	reqs := b.Requests()
	out := outcome{requests: len(reqs)}
	eff := &mapping.Effects{}

	items := make([]item, 0, len(reqs))
	for _, req := range reqs {
		evs, err := w.mapSafely(req)
		if err != nil {
			w.dispose(eff, req, err)
			continue
		}
		for _, ev := range evs {
			items = append(items, item{req, ev, ev.Record})
		}
		eff.Done = append(eff.Done, req.ID)
	}
	items, err := w.newRecords(ctx, b, items)
	if err != nil {
		return out, err
	}
	items = w.dropTestIdentities(items)
	if w.Enricher != nil && len(items) > 0 {
		evs := make([]*mapping.Event, len(items))
		for i, it := range items {
			evs[i] = it.ev
		}
		w.Enricher.Enrich(ctx, evs)
	}
	var ids []mapping.Identity
	seenID := map[string]bool{}
	for _, it := range items {
		for _, id := range it.ev.Identities {
			if !seenID[id.Key()] {
				seenID[id.Key()] = true
				ids = append(ids, id)
			}
		}
	}
	byKey, err := b.LockCustomers(ctx, ids)
	if err != nil {
		return out, err
	}
	// Under the identity locks, which an erasure takes too: a person
	// erased while this batch waited is seen as suppressed, never recreated.
	if items, err = w.dropSuppressed(ctx, b, items, eff); err != nil {
		return out, err
	}
	r := newResolver(ctx, w, b, eff, byKey)
	for _, it := range items {
		if err := r.apply(it); err != nil {
			return out, err
		}
	}
	eff.Customers = r.touched
	if len(r.ruleErrors) > 0 {
		w.log.WithField("rules", r.ruleErrors).Warn("lifecycle rules failed at run time; treated as not holding")
	}
	if err := b.Write(ctx, eff); err != nil {
		return out, err
	}
	out.done, out.quarantined, out.retried, out.events = len(eff.Done), len(eff.Quarantined), len(eff.Retry), r.events
	out.suppressed = len(eff.Suppressed)
	return out, nil
}

// newRecords drops the batched records already applied under their record
// key (a provider re-batching an event into another delivery).
func (w *Workers) newRecords(ctx context.Context, b Batch, items []item) ([]item, error) {
	var sources, keys []string
	var inboxIDs []int64
	for _, it := range items {
		if it.ev.RecordKey != "" {
			sources, keys, inboxIDs = append(sources, it.ev.Source), append(keys, it.ev.RecordKey), append(inboxIDs, it.req.ID)
		}
	}
	if len(keys) == 0 {
		return items, nil
	}
	owned, err := b.ClaimRecords(ctx, sources, keys, inboxIDs)
	if err != nil {
		return nil, err
	}
	kept, k := items[:0], 0
	for _, it := range items {
		if it.ev.RecordKey != "" {
			isNew := owned[k]
			k++
			if !isNew {
				continue
			}
		}
		kept = append(kept, it)
	}
	return kept, nil
}

// mapSafely maps req, turning a panic in a mapper into an error so that one
// poison request can never take a worker down.
func (w *Workers) mapSafely(req *mapping.RawRequest) (evs []*mapping.Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			w.log.WithField("inbox_id", req.ID).WithField("stack", string(debug.Stack())).Error("mapper panicked")
			evs, err = nil, &mappingPanic{value: r}
		}
	}()
	return w.mapper.Map(req)
}

type mappingPanic struct{ value any }

func (p *mappingPanic) Error() string {
	return fmt.Sprintf("internal error while mapping: %v", p.value)
}
func (p *mappingPanic) Permanent() bool { return true }

// dispose records a request that could not be mapped: retried later when
// the failure is temporary and attempts remain, quarantined otherwise.
func (w *Workers) dispose(eff *mapping.Effects, req *mapping.RawRequest, err error) {
	var t temporary
	if errors.As(err, &t) && t.Temporary() && req.Attempts+1 < w.cfg.MaxAttempts {
		eff.Retry = append(eff.Retry, mapping.Disposition{
			InboxID: req.ID, Reason: err.Error(), NotBefore: w.now().Add(w.backoff(req.Attempts)),
		})
		return
	}
	eff.Quarantined = append(eff.Quarantined, mapping.Disposition{InboxID: req.ID, Reason: err.Error(), NotBefore: w.now()})
}

// backoff is the delay before retry number attempt+1: 5 s doubling, capped
// at 30 minutes.
func (w *Workers) backoff(attempt int) time.Duration {
	d := 5 * time.Second
	for range min(attempt, 10) {
		d *= 2
	}
	return min(d, 30*time.Minute)
}
