package pipeline_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cyclehub/cyclehub/connectors/kafkasink"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// inbox adapts the PostgreSQL store to the pipeline's port (as cmd does).
type inbox struct{ st *pgstore.Store }

func (a inbox) Claim(ctx context.Context, n int) (pipeline.Batch, error) {
	b, err := a.st.Claim(ctx, n)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func (a inbox) ClaimIDs(ctx context.Context, ids []int64) (pipeline.Batch, error) {
	b, err := a.st.ClaimIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// relayLocks adapts the store's relay election (as cmd does).
type relayLocks struct{ st *pgstore.Store }

func (a relayLocks) Join(ctx context.Context, ranges int) (pipeline.Lease, error) {
	return lease(a.st.JoinRelays(ctx, ranges))
}

func (a relayLocks) Members(ctx context.Context) ([]pipeline.RelayMember, []int, error) {
	ms, leading, err := a.st.RelayLocks(ctx)
	out := make([]pipeline.RelayMember, len(ms))
	for i, m := range ms {
		out[i] = pipeline.RelayMember(m)
	}
	return out, leading, err
}

func (a relayLocks) AcquireRange(ctx context.Context, ranges, index int) (pipeline.Lease, error) {
	return lease(a.st.AcquireRelayRange(ctx, ranges, index))
}

func lease(l *pgstore.Lease, err error) (pipeline.Lease, error) {
	if l == nil {
		return nil, err
	}
	return l, err
}

func quietLog() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}

// harness runs the inbox writer and the workers on a fresh database.
type harness struct {
	t      *testing.T
	st     *pgstore.Store
	url    string
	writer *pgstore.InboxWriter
	// onEvents is what the running workers call after a batch that made
	// events (relays' Wake); set by a test with setOnEvents.
	onEvents atomic.Pointer[func()]
}

// setOnEvents sets what the workers call after a batch that made events.
// The workers already run, so Workers.OnEvents itself is set once, before
// they start, and reads this.
func (h *harness) setOnEvents(fn func()) { h.onEvents.Store(&fn) }

func newHarness(t *testing.T, mapper pipeline.EventMapper, cfg pipeline.Config) (*harness, *pipeline.Workers) {
	t.Helper()
	return newHarnessWith(t, mapper, cfg, time.Now, nil)
}

// newHarnessWith runs the workers on the given clock with a lifecycle
// model (nil: none).
func newHarnessWith(t *testing.T, mapper pipeline.EventMapper, cfg pipeline.Config, now func() time.Time, model *mapping.Model) (*harness, *pipeline.Workers) {
	t.Helper()
	st, url := pgtest.Open(t)
	h := &harness{t: t, st: st, url: url, writer: st.NewInboxWriter(pgstore.DefaultInboxWriterConfig())}
	w := pipeline.NewWorkers(cfg, inbox{st}, mapper, quietLog(), now)
	w.SetModel(model)
	w.OnEvents = func() {
		if fn := h.onEvents.Load(); fn != nil {
			(*fn)()
		}
	}
	h.writer.OnCommit = w.Wake
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { _ = h.writer.Run(ctx); done <- struct{}{} }()
	go func() { _ = w.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
	return h, w
}

func (h *harness) postForm(body string) {
	h.t.Helper()
	_, err := h.writer.Append(context.Background(), &mapping.RawRequest{
		RequestID: uuid.NewString(), Source: "form", Provider: "form", Method: "POST", Path: "/hooks/form",
		Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, Body: []byte(body),
		ReceivedAt: time.Now().UTC(),
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) count(sql string) int {
	h.t.Helper()
	conn, err := pgx.Connect(context.Background(), h.url)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *harness) waitFor(what, sql string, want int) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for h.count(sql) != want {
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: %s is %d, want %d", what, sql, h.count(sql), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// poisonMapper maps forms, but puts a NUL character (which PostgreSQL's
// jsonb refuses) into the traits of anyone whose email says "poison".
type poisonMapper struct{ m *mapping.Mapper }

func (p poisonMapper) Map(req *mapping.RawRequest) ([]*mapping.Event, error) {
	evs, err := p.m.Map(req)
	if err == nil && strings.Contains(evs[0].Traits["email"], "poison") {
		evs[0].Traits["company"] = "bad\x00byte"
	}
	return evs, err
}

func TestAPoisonRequestIsQuarantinedAndTheRestOfItsBatchGoesThrough(t *testing.T) {
	cfg := pipeline.DefaultConfig()
	cfg.Workers = 1
	mapper := poisonMapper{mapping.NewMapper(map[string]mapping.SourceSpec{"form": {Provider: "form"}}, nil)}
	h, _ := newHarness(t, mapper, cfg)
	// Stored first, processed together: the poison sits mid-batch.
	for _, e := range []string{"a", "b", "poison", "c", "d"} {
		h.postForm("email=" + e + "%40example.com")
	}
	h.waitFor("processed", `SELECT count(*) FROM inbox WHERE status <> 'pending'`, 5)
	if n := h.count(`SELECT count(*) FROM customers`); n != 4 {
		t.Fatalf("%d customers, want 4", n)
	}
	if n := h.count(`SELECT count(*) FROM inbox WHERE status = 'quarantined' AND body = convert_to('email=poison%40example.com', 'UTF8') AND reason <> ''`); n != 1 {
		t.Fatal("the poison request was not quarantined with a reason")
	}
	if n := h.count(`SELECT count(*) FROM outbox`); n != 4 {
		t.Fatalf("%d outbox events, want 4", n)
	}
}

func TestConcurrentWorkersGiveOnePersonOneCustomerAndGaplessVersions(t *testing.T) {
	cfg := pipeline.DefaultConfig()
	cfg.Workers = 4
	cfg.BatchSize = 3
	h, _ := newHarness(t, mapping.NewMapper(map[string]mapping.SourceSpec{"form": {Provider: "form", DefaultRegion: "US"}}, nil), cfg)
	const n = 60
	for i := range n {
		// The same person through two identifiers, each post a new trait value.
		if i%2 == 0 {
			h.postForm(fmt.Sprintf("email=same%%40example.com&phone=%%2B14155550100&job_title=t%d", i))
		} else {
			h.postForm(fmt.Sprintf("phone=%%2B1+415+555+0100&company=c%d", i))
		}
	}
	h.waitFor("processed", `SELECT count(*) FROM inbox WHERE status = 'done'`, n)
	if c := h.count(`SELECT count(*) FROM customers`); c != 1 {
		t.Fatalf("%d customers, want 1", c)
	}
	if c := h.count(`SELECT count(*) FROM timeline`); c != n {
		t.Fatalf("%d timeline entries, want %d", c, n)
	}
	if bad := h.count(`SELECT count(*) FROM (SELECT sequence, row_number() OVER (ORDER BY id) rn FROM outbox) s WHERE sequence <> rn`); bad != 0 {
		t.Fatal("outbox sequences are not gapless and in order")
	}
	if v := h.count(`SELECT version FROM customers`); v != h.count(`SELECT count(*) FROM outbox`) {
		t.Fatalf("version %d does not match the number of events", v)
	}
}

// The relay keeps retrying through a broker outage: afterwards every event
// is on the topic, and each customer's events appear in version order
// (a duplicate may appear only as a repeat of an already published id).
func TestTheRelayRidesOutABrokerOutageWithoutLosingOrReordering(t *testing.T) {
	cluster, brokers := testsvc.Kafka(t)
	var down atomic.Bool
	cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if down.Load() {
			return nil, fmt.Errorf("injected outage"), true
		}
		return nil, nil, false
	})

	cfg := pipeline.DefaultConfig()
	h, _ := newHarness(t, mapping.NewMapper(map[string]mapping.SourceSpec{"form": {Provider: "form"}}, nil), cfg)
	sinkCfg := kafkasink.DefaultConfig()
	sinkCfg.Brokers, sinkCfg.Topic, sinkCfg.Partitions, sinkCfg.MaxAttempts = brokers, "lifecycle-test", 3, 1
	sink := kafkasink.New(sinkCfg)
	if err := sink.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	relayCfg := pipeline.DefaultRelayConfig()
	relayCfg.BatchSize, relayCfg.PollInterval, relayCfg.MaxBackoff = 7, 20*time.Millisecond, 200*time.Millisecond
	relay := pipeline.NewRelay(relayCfg, h.st, sink, relayLocks{h.st}, quietLog())
	var failedPublishes atomic.Int32
	relay.OnPublish = func(_ int, _ time.Duration, err error) {
		if err != nil {
			failedPublishes.Add(1)
		}
	}
	h.setOnEvents(relay.Wake)
	ctx, cancel := context.WithCancel(context.Background())
	relayDone := make(chan struct{})
	go func() { _ = relay.Run(ctx); close(relayDone) }()
	defer func() { cancel(); <-relayDone; _ = sink.Close(context.Background()) }()

	const people, posts = 8, 6
	post := func(round int) {
		for p := range people {
			h.postForm(fmt.Sprintf("email=p%d%%40example.com&job_title=r%d", p, round))
		}
	}
	post(0)
	down.Store(true)
	for round := 1; round < posts; round++ {
		post(round)
	}
	h.waitFor("processed during the outage", `SELECT count(*) FROM inbox WHERE status = 'done'`, people*posts)
	time.Sleep(300 * time.Millisecond) // the relay keeps failing for a while
	down.Store(false)
	if failedPublishes.Load() == 0 {
		t.Fatal("no publish failed during the outage; the test proves nothing")
	}
	h.waitFor("all published", `SELECT count(*) FROM outbox WHERE published_at IS NULL`, 0)

	seen := testsvc.CheckStream(t, brokers, "lifecycle-test", h.count(`SELECT count(*) FROM outbox`))
	if len(seen) != people {
		t.Fatalf("events for %d customers, want %d", len(seen), people)
	}
}
