package pipeline_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/connectors/kafkasink"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// BenchmarkRelayThroughput measures the relay end to end on the local
// services: 50,000 outbox events of ~700 bytes (5,000 customers) read from
// PostgreSQL, published to the in-process broker with acks, and marked
// published, by one relay leading 4 ranges. Each op publishes them all.
func BenchmarkRelayThroughput(b *testing.B) {
	const events = 50000
	st, url := pgtest.Open(b)
	_, brokers := testsvc.Kafka(b)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `
		INSERT INTO outbox (event_id, customer_id, bucket, type, sequence, event_time, payload)
		SELECT gen_random_uuid(), c.id, c.bucket, 'cyclehub.customer.updated.v1', s, now(), convert_to(repeat('x', 700), 'UTF8')
		FROM (SELECT gen_random_uuid() AS id, (random() * 255)::int AS bucket FROM generate_series(1, $1::int / 10)) c,
		     generate_series(1, 10) s`, events); err != nil {
		b.Fatal(err)
	}
	sinkCfg := kafkasink.DefaultConfig()
	sinkCfg.Brokers, sinkCfg.Topic, sinkCfg.Partitions = brokers, "relay-bench", 6
	sink := kafkasink.New(sinkCfg)
	if err := sink.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer sink.Close(context.Background())
	var published atomic.Int64
	done := make(chan struct{}, 1)
	relay := pipeline.NewRelay(pipeline.DefaultRelayConfig(), st, sink, relayLocks{st}, quietLog())
	relay.OnPublish = func(n int, _ time.Duration, err error) {
		if err == nil && published.Add(int64(n)) >= events {
			select {
			case done <- struct{}{}:
			default:
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		published.Store(0)
		if _, err := conn.Exec(context.Background(), `UPDATE outbox SET published_at = NULL`); err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		b.StartTimer()
		go func() { _ = relay.Run(ctx); close(stopped) }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			b.Fatal("the relay did not publish everything within 2 minutes")
		}
		b.StopTimer()
		cancel()
		<-stopped
		b.StartTimer()
	}
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
}
