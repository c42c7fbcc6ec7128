package main

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/cyclehub/cyclehub/internal/ops"
	"github.com/cyclehub/cyclehub/internal/telemetry"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// statusSources feeds the ops listener's status page: the per-source
// tracker of this replica, and the funnel, stream lag and delivery backlog
// from PostgreSQL. Counts and names only: the page is unauthenticated.
func statusSources(tracker *telemetry.Sources, store *pgstore.Store, model func() *mapping.Model, dests []pipeline.Destination) ops.StatusSources {
	return ops.StatusSources{
		Sources: func() []ops.SourceHealth { return sourceHealth(tracker.Snapshot()) },
		Funnel: func(ctx context.Context) ([]ops.StageCount, error) {
			counts, err := store.StageCounts(ctx)
			if err != nil {
				return nil, err
			}
			return funnelBars(model(), counts), nil
		},
		StreamLag: store.OutboxLag,
		Deliveries: func(ctx context.Context) ([]ops.DestinationStatus, error) {
			out := make([]ops.DestinationStatus, 0, len(dests))
			for _, d := range dests {
				n, oldest, err := store.DeliveryBacklog(ctx, d.Name)
				if err != nil {
					return nil, err
				}
				reason, err := store.DestinationDisabled(ctx, d.Name)
				if err != nil {
					return nil, err
				}
				out = append(out, ops.DestinationStatus{Name: d.Name, Pending: n["pending"], Delivering: n["delivering"],
					Dead: n["dead"], OldestPendingSeconds: oldest.Seconds(), Disabled: reason != ""})
			}
			return out, nil
		},
	}
}

func sourceHealth(hs []telemetry.SourceHealth) []ops.SourceHealth {
	out := make([]ops.SourceHealth, len(hs))
	for i, h := range hs {
		out[i] = ops.SourceHealth{Name: h.Source, Accepted: h.Accepted, Rejected: h.Rejected,
			RejectedBy: h.RejectedBy, SignatureFailures: h.SignatureFailures}
		if !h.LastRequest.IsZero() {
			at := h.LastRequest.UTC()
			out[i].LastRequest = &at
		}
	}
	return out
}

// funnelBars orders the stage counts for the chart: every stage of the
// ladder (empty ones too), then stages no longer on it that still hold
// customers, then those without a stage yet ("").
func funnelBars(model *mapping.Model, counts map[string]int64) []ops.StageCount {
	var out []ops.StageCount
	seen := map[string]bool{}
	if model != nil {
		for _, s := range model.Ladder() {
			out = append(out, ops.StageCount{Stage: s.Name, Customers: counts[s.Name]})
			seen[s.Name] = true
		}
	}
	for _, stage := range slices.Sorted(maps.Keys(counts)) {
		if !seen[stage] && stage != "" {
			out = append(out, ops.StageCount{Stage: stage, Customers: counts[stage]})
		}
	}
	if n := counts[""]; n > 0 {
		out = append(out, ops.StageCount{Stage: "", Customers: n})
	}
	return out
}

// observeRequests fans the ingest handler's OnRequest out to observers.
func observeRequests(obs ...func(source string, status int, took time.Duration)) func(string, int, time.Duration) {
	return func(source string, status int, took time.Duration) {
		for _, o := range obs {
			o(source, status, took)
		}
	}
}
