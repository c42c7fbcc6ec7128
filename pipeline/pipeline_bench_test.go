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

// BenchmarkPipelineThroughput measures the pipeline on PostgreSQL with the
// default workers: 5,000 stored form requests (one new person each, with
// UTM fields) mapped, resolved, scored by the default rules and written
// with their outbox events per op. It reports events/s; ingest and the
// relay are not included.
func BenchmarkPipelineThroughput(b *testing.B) {
	const requests = 5000
	st, url := pgtest.Open(b)
	model, err := configs.LoadRules("../configs/rules")
	if err != nil {
		b.Fatal(err)
	}
	specs, err := configs.LoadMappings("../configs/mappings")
	if err != nil {
		b.Fatal(err)
	}
	mapper := mapping.NewMapper(map[string]mapping.SourceSpec{"form": {Provider: "form", DefaultRegion: "BR"}}, specs)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	pending := func() int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM inbox WHERE status = 'pending'`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		if _, err := conn.Exec(ctx, `
			INSERT INTO inbox (request_id, source, provider, method, path, headers, body, received_at)
			SELECT gen_random_uuid(), 'form', 'form', 'POST', '/hooks/form', '{"Content-Type": "application/json"}',
			       convert_to(format('{"email":"p-%s-%s@example.com","first_name":"Pat","company":"Acme","utm_source":"google","utm_medium":"cpc"}', $1::int, g), 'UTF8'),
			       now()
			FROM generate_series(1, $2::int) g`, i, requests); err != nil {
			b.Fatal(err)
		}
		w := pipeline.NewWorkers(pipeline.DefaultConfig(), inbox{st}, mapper, quietLog(), time.Now)
		w.SetModel(model)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		b.StartTimer()
		go func() { _ = w.Run(runCtx); close(done) }()
		for pending() > 0 {
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		cancel()
		<-done
	}
	if n := countRows(b, conn, `SELECT count(*) FROM inbox WHERE status <> 'done'`); n != 0 {
		b.Fatalf("%d requests not done", n)
	}
	b.ReportMetric(float64(requests*b.N)/b.Elapsed().Seconds(), "events/s")
}

func countRows(b *testing.B, conn *pgx.Conn, sql string) int {
	var n int
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
