package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/connectors/enrichhttp"
	"github.com/cyclehub/cyclehub/connectors/kafkasink"
	"github.com/cyclehub/cyclehub/internal/adminapi"
	"github.com/cyclehub/cyclehub/internal/ops"
	"github.com/cyclehub/cyclehub/internal/telemetry"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
	"github.com/cyclehub/cyclehub/store/redisstore"
	"github.com/cyclehub/cyclehub/webhooks"
)

func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve [--config FILE]",
		Short: "run the daemon (migrates first; SIGHUP reloads mappings and rules)",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return codeErr(runServe(cli(cmd).configPath(a), cmd.ErrOrStderr()))
		},
	}
}

func runServe(path string, stderr io.Writer) int {
	cfg, err := configs.Load(path, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", path, err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	ctx, stop := signalContext(func() { log.Warn("second signal: exiting at once") })
	defer stop()
	if err := serve(ctx, cfg, log, serveOptions{reload: hangups(ctx)}); err != nil {
		log.WithError(err).Error("cyclehub stopped with an error")
		return 1
	}
	return 0
}

// serveOptions let tests run the daemon in process on ephemeral ports.
type serveOptions struct {
	httpListener, opsListener net.Listener
	// ready, when set, is called once the daemon serves, with its addresses.
	ready func(httpAddr, opsAddr string)
	// now replaces the clock (signature windows of recorded samples).
	now func() time.Time
	// reload receives a value for each SIGHUP: reload mappings and rules.
	reload <-chan struct{}
}

// serve runs the daemon until ctx is cancelled, then shuts down in order:
// readiness goes 503, HTTP drains, the inbox writer flushes, in-flight
// pipeline batches finish, the relay finishes its publish and the Kafka
// writer flushes, and the pools close.
func serve(ctx context.Context, cfg *configs.Config, logger *logrus.Logger, opts serveOptions) error {
	log := logger.WithField("component", "main")
	now := time.Now
	if opts.now != nil {
		now = opts.now
	}

	store, err := pgstore.Open(ctx, cfg.Postgres)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := migrateWithRetry(ctx, store, log); err != nil {
		return err
	}
	rdb, err := redisstore.Open(cfg.Redis)
	if err != nil {
		return err
	}
	defer rdb.Close()

	metrics := telemetry.New()
	metrics.RegisterRelayLag(store.OutboxLag)

	cfg.Kafka.MaxMessages = cfg.Relay.BatchSize
	sink := kafkasink.New(cfg.Kafka)
	writer := store.NewInboxWriter(cfg.Ingest)
	writer.OnBatch = metrics.ObserveInboxBatch

	specs := map[string]mapping.SourceSpec{}
	for name, s := range cfg.Sources {
		specs[name] = mapping.SourceSpec{Provider: s.Provider, DefaultRegion: s.DefaultRegion, Mapping: s.Mapping}
	}
	mapper := mapping.NewMapper(specs, cfg.Mappings)
	workers := pipeline.NewWorkers(cfg.Pipeline, inboxAdapter{store}, mapper, logger.WithField("component", "pipeline"), now)
	workers.OnBatch = metrics.ObservePipelineBatch
	workers.SetModel(cfg.Rules)
	workers.Identity = cfg.Identity
	suppressionKey := []byte(cfg.Privacy.SuppressionKey.Reveal())
	workers.SuppressionKey = suppressionKey
	var enricher *enrichhttp.Enricher
	if cfg.Enrichment.Enabled() {
		enricher = enrichhttp.New(cfg.Enrichment, rdb.NewCache(cfg.Redis.KeyPrefix, "enrich"), now)
		enricher.OnLookup = metrics.ObserveEnrichment
		workers.Enricher = enricher
	}
	retention := pipeline.NewRetention(cfg.Privacy.Retention, store, logger.WithField("component", "retention"), now)
	retention.OnPurge = metrics.ObservePurge
	retention.KeepPublished = cfg.Relay.KeepPublished
	retention.OnPrune = metrics.ObservePrune

	fetcher := pipeline.NewFetcher(cfg.Fetch.FetchConfig, store, mapper, newProviderAPI(cfg, mapper),
		logger.WithField("component", "fetcher"), now)
	fetcher.OnFetched = workers.Wake
	fetcher.OnFetch = metrics.ObserveFetch
	metrics.RegisterFetchBacklog(store.FetchBacklog)
	writer.OnCommit = func() {
		workers.Wake()
		fetcher.Wake()
	}

	relay := pipeline.NewRelay(cfg.Relay, store, sink, relayLocks{store}, logger.WithField("component", "relay"))
	if sink.SnapshotsEnabled() {
		relay.Snapshots = snapshots{store, sink}
	}
	metrics.RegisterRelayRanges(relay.Leading)
	relay.OnPublish = metrics.ObservePublish
	dests, routes, err := destinations(cfg)
	if err != nil {
		return err
	}
	store.SetRoutes(routes)
	deliverer := pipeline.NewDeliverer(dests, deliveryStore{store}, rdb.NewSchedule(cfg.Redis.KeyPrefix),
		rdb.NewCache(cfg.Redis.KeyPrefix, "delivered"), logger.WithField("component", "deliverer"), now)
	deliverer.OnAttempt = metrics.ObserveDelivery
	for _, d := range dests {
		metrics.RegisterDeliveryBacklog(d.Name, func(ctx context.Context) (map[string]int64, error) {
			n, _, err := store.DeliveryBacklog(ctx, d.Name)
			return n, err
		})
	}
	events := func() {
		relay.Wake()
		deliverer.Wake()
	}
	sweeper := pipeline.NewSweeper(cfg.Sweep, rescoreAdapter{store}, workers.Model, logger.WithField("component", "sweeper"), now)
	sweeper.OnEvents = events
	sweeper.OnRescore = metrics.ObserveRescore
	workers.OnEvents = func() {
		events()
		sweeper.Wake() // a referral queues its referrer
	}

	// The claim covers a request's write (ingest.max_wait in the queue, then
	// one commit). It is only a fast path: a write that outlasts it is still
	// deduplicated by PostgreSQL's unique key. A crash leaves it this long,
	// answering a retry 503 delivery_in_flight meanwhile, so it is short.
	dedup := dedupAdapter{rdb.NewDedup(cfg.Redis.KeyPrefix, dedupClaimTTL, cfg.HTTP.DedupTTL)}
	hooks := webhooks.NewHandler(cfg.HTTP, cfg.Sources, cfg.Mappings, writer, dedup, logger.WithField("component", "webhooks"), now)
	sourceHealth := telemetry.NewSources(time.Now, slices.Sorted(maps.Keys(cfg.Sources))...)
	hooks.OnRequest = observeRequests(metrics.ObserveRequest, sourceHealth.ObserveRequest)
	admin := adminapi.New(cfg.Admin.Token, store, cfg.Admin.DefaultRegion, logger.WithField("component", "adminapi"))
	admin.OnReplay = func() {
		workers.Wake()
		fetcher.Wake()
	}
	admin.SuppressionKey, admin.Now = suppressionKey, now
	admin.OnErase = events
	admin.OnDeliveryReplay = deliverer.Wake
	admin.Destinations = slices.Sorted(maps.Keys(cfg.Destinations))
	// The funnel follows the rules' current ladder (reloaded on SIGHUP).
	admin.Ladder = func() []mapping.StageDef {
		if m := workers.Model(); m != nil {
			return m.Ladder()
		}
		return nil
	}
	mux := http.NewServeMux()
	hooks.Register(mux)
	admin.Register(mux)

	opsSrv := ops.New(metrics.Registry)
	opsSrv.EnableStatus(statusSources(sourceHealth, store, workers.Model, dests))
	opsSrv.AddCheck("postgres", true, func(ctx context.Context) (any, error) { return nil, store.Ping(ctx) })
	opsSrv.AddCheck("redis", false, func(ctx context.Context) (any, error) { return nil, rdb.Ping(ctx) })
	opsSrv.AddCheck("fetch", false, func(ctx context.Context) (any, error) {
		n, age, err := store.FetchBacklog(ctx)
		return map[string]any{"waiting_requests": n, "oldest_waiting_seconds": age.Seconds()}, err
	})
	if enricher != nil {
		opsSrv.AddCheck("enrichment", false, func(context.Context) (any, error) {
			if enricher.BreakerOpen() {
				return map[string]any{"breaker": "open"}, errors.New("the enrichment API keeps failing: lookups paused")
			}
			return map[string]any{"breaker": "closed"}, nil
		})
	}
	if len(dests) > 0 {
		opsSrv.AddCheck("deliveries", false, func(ctx context.Context) (any, error) {
			out := map[string]any{}
			for _, d := range dests {
				n, age, err := store.DeliveryBacklog(ctx, d.Name)
				if err != nil {
					return nil, err
				}
				reason, err := store.DestinationDisabled(ctx, d.Name)
				if err != nil {
					return nil, err
				}
				detail := map[string]any{"pending": n["pending"], "delivering": n["delivering"], "dead": n["dead"],
					"oldest_pending_seconds": age.Seconds()}
				if reason != "" {
					detail["disabled"] = reason
				}
				out[d.Name] = detail
			}
			return out, nil
		})
	}
	opsSrv.AddCheck("relay", false, func(ctx context.Context) (any, error) {
		n, age, err := store.OutboxLag(ctx)
		return map[string]any{"unpublished_events": n, "oldest_unpublished_seconds": age.Seconds(),
			"ranges_led": relay.Leading(), "ranges": cfg.Relay.Ranges}, err
	})

	httpSrv := newIngestServer(cfg.HTTP, mux)
	opsHTTP := newOpsServer(opsSrv)
	httpLn, err := listen(opts.httpListener, cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	opsLn, err := listen(opts.opsListener, cfg.Ops.Addr)
	if err != nil {
		_ = httpLn.Close() // never served; the listen error is the one to report
		return err
	}

	// Each stage stops only after the stage that feeds it.
	bg := context.WithoutCancel(ctx)
	writerCtx, stopWriter := context.WithCancel(bg)
	pipeCtx, stopPipe := context.WithCancel(bg)
	relayCtx, stopRelay := context.WithCancel(bg)
	defer stopWriter()
	defer stopPipe()
	defer stopRelay()

	failed := make(chan error, 8)
	start := func(name string, fn func() error) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := fn(); err != nil {
				failed <- fmt.Errorf("%s: %w", name, err)
			}
		}()
		return done
	}
	writerDone := start("inbox writer", func() error { return writer.Run(writerCtx) })
	pipeDone := start("pipeline", func() error { return workers.Run(pipeCtx) })
	fetchDone := start("fetcher", func() error { return fetcher.Run(pipeCtx) })
	retentionDone := start("retention", func() error { return retention.Run(pipeCtx) })
	sweepDone := start("sweeper", func() error { return sweeper.Run(pipeCtx) })
	relayDone := start("relay", func() error { return runRelay(relayCtx, sink, relay, logger.WithField("component", "relay")) })
	deliverDone := start("deliverer", func() error { return deliverer.Run(relayCtx) })
	httpDone := start("http", func() error { return serveHTTP(httpSrv, httpLn) })
	opsDone := start("ops", func() error { return serveHTTP(opsHTTP, opsLn) })

	if opts.reload != nil {
		go reload(pipeCtx, opts.reload, cfg, []mappingUser{mapper, hooks}, workers, logger.WithField("component", "main"))
	}

	opsSrv.SetReady(true)
	log.WithField("http_addr", httpLn.Addr().String()).WithField("ops_addr", opsLn.Addr().String()).
		WithField("version", version).Info("cyclehub is serving")
	if opts.ready != nil {
		opts.ready(httpLn.Addr().String(), opsLn.Addr().String())
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-failed:
		log.WithError(runErr).Error("a component failed; shutting down")
	}

	opsSrv.SetReady(false)
	shutdownCtx, cancel := context.WithTimeout(bg, cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(shutdownCtx); err != nil {
		log.WithError(err).Warn("http drain timed out; closing connections")
		_ = httpSrv.Close()
	}
	<-httpDone
	// Stop each stage after the one that feeds it has stopped, so work
	// accepted upstream is carried as far as it can go before exit.
	stopWriter()
	<-writerDone
	stopPipe()
	<-pipeDone
	<-fetchDone
	<-retentionDone
	<-sweepDone
	stopRelay()
	<-relayDone
	<-deliverDone
	for _, d := range dests {
		if c, ok := d.Conn.(interface{ Close(context.Context) error }); ok {
			_ = c.Close(shutdownCtx)
		}
	}
	_ = opsHTTP.Shutdown(shutdownCtx)
	<-opsDone
	if err := sink.Close(shutdownCtx); err != nil {
		log.WithError(err).Warn("kafka writer close")
	}
	log.Info("cyclehub stopped")
	return runErr
}

func listen(given net.Listener, addr string) (net.Listener, error) {
	if given != nil {
		return given, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

func serveHTTP(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// migrateWithRetry applies migrations, waiting for PostgreSQL if it is not
// up yet.
func migrateWithRetry(ctx context.Context, store *pgstore.Store, log *logrus.Entry) error {
	delay := 500 * time.Millisecond
	for {
		applied, err := store.Migrate(ctx)
		if err == nil {
			if len(applied) > 0 {
				log.WithField("migrations", applied).Info("database migrated")
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		log.WithError(err).WithField("retry_in", delay.String()).Warn("cannot migrate yet; is PostgreSQL up?")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

// runRelay connects the sink (creating the topic), retrying while Kafka is
// down, then runs the relay.
func runRelay(ctx context.Context, sink *kafkasink.Sink, relay *pipeline.Relay, log *logrus.Entry) error {
	delay := 500 * time.Millisecond
	for {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := sink.Connect(cctx)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		log.WithError(err).WithField("retry_in", delay.String()).Warn("kafka not reachable yet")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
	return relay.Run(ctx)
}

// mappingUser is a component that reads the mappings.
type mappingUser interface {
	SetMappings(map[string]*mapping.Compiled)
}

// reload reads the mappings and the rules again on each signal. Each is
// switched at once for every user, or, when a file has a problem, kept
// as it was with every problem logged.
func reload(ctx context.Context, signals <-chan struct{}, cfg *configs.Config, users []mappingUser, workers *pipeline.Workers, log *logrus.Entry) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-signals:
		}
		if specs, err := cfg.ReloadMappings(); err != nil {
			log.WithError(err).Error("mappings not reloaded: keeping the current ones")
		} else {
			for _, u := range users {
				u.SetMappings(specs)
			}
			log.WithField("mappings", len(specs)).Info("mappings reloaded")
		}
		if model, err := cfg.ReloadRules(); err != nil {
			log.WithError(err).Error("rules not reloaded: keeping the current ones")
		} else {
			workers.SetModel(model)
			log.WithField("model", model.Version).Info("lifecycle rules reloaded")
		}
	}
}

// hangups turns SIGHUP into reload requests until ctx ends.
func hangups(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				select {
				case out <- struct{}{}:
				default: // a reload is already pending
				}
			}
		}
	}()
	return out
}

// dedupClaimTTL is how long a dedup claim lives in Redis before the write
// it guards has committed (see its use).
const dedupClaimTTL = 10 * time.Second
