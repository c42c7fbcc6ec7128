package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// BenchmarkSweepRescoresCustomers measures a full sweep on PostgreSQL:
// 5,000 customers with engagement to decay, re-evaluated and written in
// batches of 500 (each op is one whole sweep, a day later than the last,
// so every customer changes).
func BenchmarkSweepRescoresCustomers(b *testing.B) {
	const customers = 5000
	st, url := pgtest.Open(b)
	model, err := configs.LoadRules("../configs/rules")
	if err != nil {
		b.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `
		INSERT INTO customers (id, version, traits, created_at, updated_at, stage, stage_entered_at, scores, signals)
		SELECT gen_random_uuid(), 1, jsonb_build_object('job_title', jsonb_build_object('value', 'Head of Growth', 'source', 'form',
		         'observed_at', '2025-03-01T00:00:00Z')), $1::timestamptz, $1, 'lead', $1, '{}',
		       jsonb_build_object('last_seen_at', $1, 'engagement', jsonb_build_array(
		         jsonb_build_object('rule', 'webinar', 'points', 15, 'at', $1),
		         jsonb_build_object('rule', 'pricing_page', 'points', 10, 'at', $1)))
		FROM generate_series(1, $2::int)`, day0, customers); err != nil {
		b.Fatal(err)
	}
	conn.Close(context.Background())
	clk := &clock{t: day0}
	s := pipeline.NewSweeper(pipeline.SweepConfig{Interval: time.Minute, BatchSize: 500, QueueInterval: time.Second},
		rescorer{st}, func() *mapping.Model { return model }, quietLog(), clk.Now)
	b.ResetTimer()
	for i := range b.N {
		clk.Set(day0.Add(time.Duration(i+1) * 24 * time.Hour))
		for {
			worked, err := s.RunOnce(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if !worked {
				break
			}
		}
	}
	b.ReportMetric(float64(customers*b.N)/b.Elapsed().Seconds(), "customers/s")
}
