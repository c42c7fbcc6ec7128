package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/connectors/kafkasink"
	"github.com/cyclehub/cyclehub/internal/providerapi"
	"github.com/cyclehub/cyclehub/mapping"
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

// relayLocks lets the PostgreSQL store elect relays (its *Lease must
// reach the relay as an interface, nil when there is none).
type relayLocks struct{ store *pgstore.Store }

func (a relayLocks) Join(ctx context.Context, ranges int) (pipeline.Lease, error) {
	return lease(a.store.JoinRelays(ctx, ranges))
}

func (a relayLocks) Members(ctx context.Context) ([]pipeline.RelayMember, []int, error) {
	ms, leading, err := a.store.RelayLocks(ctx)
	out := make([]pipeline.RelayMember, len(ms))
	for i, m := range ms {
		out[i] = pipeline.RelayMember(m)
	}
	return out, leading, err
}

func (a relayLocks) AcquireRange(ctx context.Context, ranges, index int) (pipeline.Lease, error) {
	return lease(a.store.AcquireRelayRange(ctx, ranges, index))
}

func lease(l *pgstore.Lease, err error) (pipeline.Lease, error) {
	if l == nil {
		return nil, err
	}
	return l, err
}

// snapshots feeds the snapshot topic from the store's customer rows.
type snapshots struct {
	store *pgstore.Store
	sink  *kafkasink.Sink
}

func (s snapshots) Snapshots(ctx context.Context, ids []string) ([]mapping.SnapshotRecord, error) {
	return s.store.Snapshots(ctx, ids)
}

func (s snapshots) WriteSnapshots(ctx context.Context, recs []mapping.SnapshotRecord) error {
	return s.sink.WriteSnapshots(ctx, recs)
}

// deliveryStore lets the PostgreSQL store satisfy the delivery engine's
// port (the same records under the engine's own type names).
type deliveryStore struct{ *pgstore.Store }

func (a deliveryStore) PendingDeliveries(ctx context.Context, dest string, after int64, dueBy time.Time, limit int) ([]pipeline.ScheduledDelivery, error) {
	ss, err := a.Store.PendingDeliveries(ctx, dest, after, dueBy, limit)
	return scheduled(ss), err
}

func (a deliveryStore) ClaimDeliveries(ctx context.Context, dest string, ids []int64, lease time.Duration) ([]mapping.OutboxRecord, []pipeline.ScheduledDelivery, error) {
	recs, others, err := a.Store.ClaimDeliveries(ctx, dest, ids, lease)
	return recs, scheduled(others), err
}

func (a deliveryStore) FinishDeliveries(ctx context.Context, outcomes []pipeline.DeliveryOutcome) error {
	out := make([]pgstore.DeliveryOutcome, len(outcomes))
	for i, o := range outcomes {
		out[i] = pgstore.DeliveryOutcome(o)
	}
	return a.Store.FinishDeliveries(ctx, out)
}

func scheduled(ss []pgstore.Scheduled) []pipeline.ScheduledDelivery {
	out := make([]pipeline.ScheduledDelivery, len(ss))
	for i, s := range ss {
		out[i] = pipeline.ScheduledDelivery(s)
	}
	return out
}

// destinations builds the configured destinations' connectors and the
// routes events fan out by.
func destinations(cfg *configs.Config) ([]pipeline.Destination, []mapping.Route, error) {
	reg := configs.Connectors()
	var dests []pipeline.Destination
	for _, name := range slices.Sorted(maps.Keys(cfg.Destinations)) {
		dc := cfg.Destinations[name]
		kind, ok := reg.Kind(dc.Connector)
		if !ok {
			return nil, nil, fmt.Errorf("destination %s: unknown connector %q", name, dc.Connector)
		}
		conn, err := kind.New(dc.Block())
		if err != nil {
			return nil, nil, fmt.Errorf("destination %s: %w", name, err)
		}
		dests = append(dests, pipeline.Destination{Name: name, Conn: conn, Cfg: dc.Delivery, MaxBatch: kind.MaxBatch})
	}
	return dests, routes(cfg), nil
}

// routes are what events fan out to deliveries by: every process that
// writes events (serve, rules apply) queues the same deliveries.
func routes(cfg *configs.Config) []mapping.Route {
	reg := configs.Connectors()
	var out []mapping.Route
	for _, name := range slices.Sorted(maps.Keys(cfg.Destinations)) {
		dc := cfg.Destinations[name]
		kind, _ := reg.Kind(dc.Connector) // validated at load
		out = append(out, mapping.Route{Destination: name, Subscription: dc.Subscribe,
			NeedsContact: kind.NeedsContact, ErasesByContact: kind.ErasesByContact})
	}
	return out
}

// rescoreAdapter lets the PostgreSQL store satisfy the sweeper's port
// (a nil *Rescore must be a nil interface).
type rescoreAdapter struct{ store *pgstore.Store }

func (a rescoreAdapter) ClaimQueued(ctx context.Context, limit int) (pipeline.RescoreBatch, error) {
	return rescoreBatch(a.store.ClaimQueued(ctx, limit))
}

func (a rescoreAdapter) ClaimSweep(ctx context.Context, limit int, now time.Time, every time.Duration) (pipeline.RescoreBatch, error) {
	return rescoreBatch(a.store.ClaimSweep(ctx, limit, now, every))
}

func rescoreBatch(r *pgstore.Rescore, err error) (pipeline.RescoreBatch, error) {
	if r == nil {
		return nil, err
	}
	return r, err
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

// providerAPI lets the fetcher call each source's provider API with the
// source's base URL (the provider's real API unless the source overrides
// it) and token.
type providerAPI struct {
	client  *providerapi.Client
	sources map[string]webhooks.SourceConfig
	mapper  *mapping.Mapper
}

func newProviderAPI(cfg *configs.Config, mapper *mapping.Mapper) providerAPI {
	return providerAPI{client: providerapi.New(cfg.Fetch.HTTP), sources: cfg.Sources, mapper: mapper}
}

func (a providerAPI) Fetch(ctx context.Context, source string, f *mapping.FetchRequest) (json.RawMessage, error) {
	sc, ok := a.sources[source]
	if !ok {
		return nil, noSourceError(source)
	}
	base := sc.APIBase
	if base == "" {
		base = a.mapper.APIBase(sc.MappingName()) // the current mapping's, after a reload too
	}
	return a.client.Get(ctx, providerapi.Credentials{Base: base, Token: sc.APIToken}, f)
}

// noSourceError: a stored request's source was removed from the config.
type noSourceError string

func (e noSourceError) Error() string {
	return fmt.Sprintf("source %q is no longer configured: its API credentials are unknown", string(e))
}
func (e noSourceError) Permanent() bool { return true }
