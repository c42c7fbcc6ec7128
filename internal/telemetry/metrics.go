package telemetry

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cyclehub/cyclehub/pipeline"
)

// Metrics is the set of CycleHub's metrics, registered on one registry.
type Metrics struct {
	Registry *prometheus.Registry

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	inboxBatch    prometheus.Histogram
	inboxCommit   prometheus.Histogram
	inboxErrors   prometheus.Counter
	pipeRequests  *prometheus.CounterVec
	pipeBatch     prometheus.Histogram
	pipeErrors    prometheus.Counter
	pipeEvents    prometheus.Counter
	relayEvents   prometheus.Counter
	relayErrors   prometheus.Counter
	relayDuration prometheus.Histogram
	fetches       *prometheus.CounterVec
	fetchCalls    *prometheus.CounterVec
	fetchDuration prometheus.Histogram
	enrichments   *prometheus.CounterVec
	purged        prometheus.Counter
	pruned        prometheus.Counter
	deliveries    *prometheus.CounterVec
	deliveryTime  *prometheus.HistogramVec
	rescored      *prometheus.CounterVec
	rescoreErrors prometheus.Counter
}

// New creates and registers the metrics (plus Go and process collectors).
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	latency := []float64{.0005, .001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5}
	m := &Metrics{
		Registry: r,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cyclehub_ingest_requests_total", Help: "Webhook requests answered, by source and HTTP status.",
		}, []string{"source", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cyclehub_ingest_request_duration_seconds", Help: "Time to answer a webhook request (ack latency).", Buckets: latency,
		}, []string{"source"}),
		inboxBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cyclehub_inbox_commit_batch_size", Help: "Requests per group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		inboxCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cyclehub_inbox_commit_duration_seconds", Help: "Duration of one group commit.", Buckets: latency,
		}),
		inboxErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cyclehub_inbox_commit_errors_total", Help: "Group commits that failed (their requests got 503).",
		}),
		pipeRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cyclehub_pipeline_requests_total", Help: "Inbox requests processed, by outcome.",
		}, []string{"outcome"}),
		pipeBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cyclehub_pipeline_batch_duration_seconds", Help: "Duration of one pipeline batch transaction.", Buckets: latency,
		}),
		pipeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cyclehub_pipeline_batch_errors_total", Help: "Pipeline batches that failed and were retried.",
		}),
		pipeEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cyclehub_pipeline_events_total", Help: "Lifecycle events written to the outbox.",
		}),
		relayEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cyclehub_relay_published_total", Help: "Events the relay published to Kafka (attempted batches that succeeded).",
		}),
		relayErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cyclehub_relay_errors_total", Help: "Relay publish attempts that failed.",
		}),
		relayDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cyclehub_relay_publish_duration_seconds", Help: "Duration of one publish to Kafka.", Buckets: latency,
		}),
	}
	m.fetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cyclehub_fetch_requests_total", Help: "Id-only requests the fetcher completed, by source and outcome (fetched, retry, quarantined).",
	}, []string{"source", "outcome"})
	m.fetchCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cyclehub_fetch_calls_total", Help: "Provider API calls made by the fetcher, by source.",
	}, []string{"source"})
	m.fetchDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "cyclehub_fetch_duration_seconds", Help: "Time to fetch one request's documents.", Buckets: latency,
	})
	m.enrichments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cyclehub_enrichment_lookups_total", Help: "Enrichment lookups by outcome (cached, found, not_found, failed, skipped).",
	}, []string{"outcome"})
	m.purged = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cyclehub_retention_purged_total", Help: "Raw requests deleted past their retention.",
	})
	m.rescored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cyclehub_lifecycle_rescored_total", Help: "Customers re-evaluated without an event (sweep, queue), by outcome (unchanged, changed, stage_moved).",
	}, []string{"outcome"})
	m.rescoreErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cyclehub_lifecycle_rescore_errors_total", Help: "Re-evaluation batches that failed and were retried.",
	})
	m.pruned = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cyclehub_outbox_pruned_total", Help: "Published events deleted from the outbox after relay.keep_published.",
	})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cyclehub_deliveries_total", Help: "Delivery attempts' records by destination and outcome (delivered, pending = retry, dead, deferred, duplicate).",
	}, []string{"destination", "outcome"})
	m.deliveryTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "cyclehub_delivery_duration_seconds", Help: "Duration of one delivery attempt (a batch) by destination.", Buckets: latency,
	}, []string{"destination"})
	r.MustRegister(m.enrichments, m.purged, m.pruned, m.rescored, m.rescoreErrors, m.deliveries, m.deliveryTime)
	r.MustRegister(m.httpRequests, m.httpDuration, m.inboxBatch, m.inboxCommit, m.inboxErrors,
		m.pipeRequests, m.pipeBatch, m.pipeErrors, m.pipeEvents, m.relayEvents, m.relayErrors, m.relayDuration,
		m.fetches, m.fetchCalls, m.fetchDuration)
	return m
}

// ObserveRequest records an answered webhook request.
func (m *Metrics) ObserveRequest(source string, status int, took time.Duration) {
	m.httpRequests.WithLabelValues(source, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(source).Observe(took.Seconds())
}

// ObserveInboxBatch records a group commit.
func (m *Metrics) ObserveInboxBatch(size int, took time.Duration, err error) {
	m.inboxBatch.Observe(float64(size))
	m.inboxCommit.Observe(took.Seconds())
	if err != nil {
		m.inboxErrors.Inc()
	}
}

// ObservePipelineBatch records a pipeline batch.
func (m *Metrics) ObservePipelineBatch(s pipeline.BatchStats) {
	m.pipeBatch.Observe(s.Took.Seconds())
	if s.Err != nil {
		m.pipeErrors.Inc()
		return
	}
	m.pipeRequests.WithLabelValues("done").Add(float64(s.Done))
	m.pipeRequests.WithLabelValues("quarantined").Add(float64(s.Quarantined))
	m.pipeRequests.WithLabelValues("retry").Add(float64(s.Retried))
	m.pipeRequests.WithLabelValues("suppressed").Add(float64(s.Suppressed))
	m.pipeEvents.Add(float64(s.Events))
}

// ObservePublish records a relay publish attempt.
func (m *Metrics) ObservePublish(n int, took time.Duration, err error) {
	m.relayDuration.Observe(took.Seconds())
	if err != nil {
		m.relayErrors.Inc()
		return
	}
	m.relayEvents.Add(float64(n))
}

// ObserveFetch records one request's fetch.
func (m *Metrics) ObserveFetch(source string, s pipeline.FetchStats) {
	m.fetches.WithLabelValues(source, s.Outcome).Inc()
	m.fetchCalls.WithLabelValues(source).Add(float64(s.Calls))
	m.fetchDuration.Observe(s.Took.Seconds())
}

// ObservePurge records one retention delete.
func (m *Metrics) ObservePurge(deleted int64, _ error) { m.purged.Add(float64(deleted)) }

// ObserveDelivery records one delivery attempt.
func (m *Metrics) ObserveDelivery(s pipeline.DeliveryStats) {
	for outcome, n := range s.Outcomes {
		m.deliveries.WithLabelValues(s.Destination, outcome).Add(float64(n))
	}
	if s.Took > 0 {
		m.deliveryTime.WithLabelValues(s.Destination).Observe(s.Took.Seconds())
	}
}

// RegisterDeliveryBacklog exposes a destination's deliveries by status
// (pending, delivering, dead), read when scraped.
func (m *Metrics) RegisterDeliveryBacklog(dest string, backlog func(context.Context) (map[string]int64, error)) {
	for _, status := range []string{"pending", "delivering", "dead"} {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cyclehub_delivery_backlog", Help: "Deliveries by destination and status (-1 when unknown).",
			ConstLabels: prometheus.Labels{"destination": dest, "status": status},
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			n, err := backlog(ctx)
			if err != nil {
				return -1
			}
			return float64(n[status])
		}))
	}
}

// ObservePrune records one delete of published outbox events.
func (m *Metrics) ObservePrune(deleted int64, _ error) { m.pruned.Add(float64(deleted)) }

// ObserveEnrichment records one enrichment lookup.
func (m *Metrics) ObserveEnrichment(outcome string) { m.enrichments.WithLabelValues(outcome).Inc() }

// RegisterFetchBacklog exposes the requests waiting for their documents.
func (m *Metrics) RegisterFetchBacklog(backlog LagFunc) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cyclehub_fetch_backlog_requests", Help: "Requests waiting for their provider API documents (-1 when unknown).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, _, err := backlog(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}

// LagFunc reads the outbox backlog.
type LagFunc func(ctx context.Context) (count int64, oldest time.Duration, err error)

// RegisterRelayLag exposes the outbox backlog (count and oldest age),
// read when scraped.
func (m *Metrics) RegisterRelayLag(lag LagFunc) {
	read := func() (int64, time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, age, err := lag(ctx)
		if err != nil {
			return -1, -1
		}
		return n, age
	}
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cyclehub_relay_lag_events", Help: "Unpublished outbox events (-1 when unknown).",
		}, func() float64 { n, _ := read(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cyclehub_relay_lag_seconds", Help: "Age of the oldest unpublished outbox event (-1 when unknown).",
		}, func() float64 { _, age := read(); return age.Seconds() }),
	)
}

// RegisterRelayRanges exposes how many outbox ranges this replica's relay
// leads (0 on a standby).
func (m *Metrics) RegisterRelayRanges(leading func() int) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "cyclehub_relay_ranges_led", Help: "Outbox bucket ranges this replica's relay leads.",
	}, func() float64 { return float64(leading()) }))
}

// ObserveRescore records one batch of re-evaluations without an event.
func (m *Metrics) ObserveRescore(s pipeline.RescoreStats, err error) {
	if err != nil {
		m.rescoreErrors.Inc()
		return
	}
	moved := 0
	for _, n := range s.StageMoves {
		moved += n
	}
	m.rescored.WithLabelValues("unchanged").Add(float64(s.Customers - s.Changed))
	m.rescored.WithLabelValues("changed").Add(float64(s.Changed - moved))
	m.rescored.WithLabelValues("stage_moved").Add(float64(moved))
	m.pipeEvents.Add(float64(s.Events))
}
