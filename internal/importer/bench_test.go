package importer_test

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/importer"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

var (
	benchRows    = flag.Int("import-rows", 100000, "BenchmarkImport: contacts per import")
	benchWorkers = flag.Int("import-workers", 0, "BenchmarkImport: pipeline workers (default: the pipeline's)")
	benchBatch   = flag.Int("import-batch", 0, "BenchmarkImport: rows per pipeline transaction (default: the import's)")
)

// BenchmarkImport imports a generated CRM export of -import-rows contacts
// (100,000 by default; the target is 1,000,000 in under two
// minutes) into a fresh database, as `cyclehub import` does: read, store,
// map, resolve, score with the default rules, outbox. Each person is new.
// It reports rows/s over the whole import (until every row is processed)
// and the reading phase's share.
//
//	go test ./internal/importer -run '^$' -bench BenchmarkImport -benchtime 1x -import-rows 1000000 -timeout 30m
func BenchmarkImport(b *testing.B) {
	path := filepath.Join(b.TempDir(), "contacts.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeContacts(f, 0, *benchRows, true); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	specs, err := configs.LoadMappings("../../configs/mappings")
	if err != nil {
		b.Fatal(err)
	}
	model, err := configs.LoadRules("../../configs/rules")
	if err != nil {
		b.Fatal(err)
	}
	pc := pipeline.DefaultConfig()
	if *benchWorkers > 0 {
		pc.Workers = *benchWorkers
	}
	pc.BatchSize = importer.DefaultBatchSize // as cyclehub import does
	if *benchBatch > 0 {
		pc.BatchSize = *benchBatch
	}
	pc.PollInterval = 100 * time.Millisecond
	log := logrus.New()
	log.SetOutput(io.Discard)
	var read, total time.Duration
	defer importer.TuneGC()() // as cyclehub import does
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		st, _ := pgtest.Open(b)
		im, err := importer.New(st, importer.Config{
			Source: "import", Mapping: specs["import-contacts"], DefaultRegion: "US",
			Reader: importer.ReaderOptions{Format: importer.CSV}, Pipeline: pc,
			Identity: pipeline.DefaultIdentityConfig(), Model: model, SuppressionKey: []byte("bench-suppression-key"),
		}, logrus.NewEntry(log), time.Now)
		if err != nil {
			b.Fatal(err)
		}
		file, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		info, _ := file.Stat()
		start := time.Now()
		var readDone time.Duration
		im.OnProgress = func(p importer.Progress) {
			if p.Phase == importer.Processing && readDone == 0 {
				readDone = time.Since(start)
			}
		}
		b.StartTimer()
		rep, err := im.Run(context.Background(), importer.Input{Name: "contacts.csv", Src: file, Size: info.Size()})
		b.StopTimer()
		_ = file.Close()
		if err != nil {
			b.Fatal(err)
		}
		if !rep.Complete || rep.Processed != int64(*benchRows) || rep.CustomersCreated != int64(*benchRows) {
			b.Fatalf("report %+v", rep)
		}
		total += time.Since(start)
		read += readDone
		st.Close()
	}
	b.ReportMetric(float64(*benchRows*b.N)/total.Seconds(), "rows/s")
	b.ReportMetric(read.Seconds()/float64(b.N), "s-reading")
}
