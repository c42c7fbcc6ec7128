package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// Config configures an import.
type Config struct {
	// Source is the source name the rows are stored under (dedup keys are
	// unique per source).
	Source string
	// Mapping reads each row (a JSON object) into canonical events. It may
	// not fetch from a provider API: rows must carry their data.
	Mapping *mapping.Compiled
	// DefaultRegion is where national phone numbers are read.
	DefaultRegion string
	Reader        ReaderOptions
	// Pipeline configures the import's own workers.
	Pipeline pipeline.Config
	Identity pipeline.IdentityConfig
	// Model scores customers and moves their stages (nil: none).
	Model *mapping.Model
	// SuppressionKey keys the suppression list (erased people are never
	// recreated by an import).
	SuppressionKey []byte
	// Retention is the raw payload retention: an unfinished run left for
	// longer is started afresh (its waiting rows may have been purged).
	Retention time.Duration
	// EnqueueBatch is how many rows one statement stores.
	EnqueueBatch int
	// Problems is how many rejected or quarantined rows the report lists.
	Problems int
}

// DefaultBatchSize is how many rows an import's pipeline transaction
// takes unless told otherwise: more than the daemon's batch_size, which
// keeps webhooks' latency low, because an import wants throughput. On the
// dev machine 1,000 rows a transaction import a fifth faster than 200
// (fewer statements and commits for the same rows); docs/import.md.
const DefaultBatchSize = 1000

// Validate checks what New needs.
func (c Config) Validate() error {
	switch {
	case c.Source == "":
		return errors.New("import: no source name")
	case c.Mapping == nil:
		return errors.New("import: no mapping")
	case c.Mapping.NeedsFetch():
		return errors.New("import: the mapping fetches documents from a provider API; an import's rows must carry their data")
	}
	if errs := c.Pipeline.Validate(); len(errs) > 0 {
		return fmt.Errorf("import: pipeline: %w", errors.Join(errs...))
	}
	return nil
}

// Input is the file to import.
type Input struct {
	Name string
	Src  io.ReaderAt
	Size int64
}

// Phase is what an import is doing.
type Phase string

// The phases of an import.
const (
	// Reading: rows are read and stored (and processed meanwhile).
	Reading Phase = "reading"
	// Processing: every row is stored; waiting for the workers to finish.
	Processing Phase = "processing"
)

// Progress is reported while an import runs.
type Progress struct {
	Phase Phase
	// Bytes of Size are read.
	Bytes, Size int64
	// ToProcess counts the rows stored for processing (this run's and any
	// it adopted); Processed those finished.
	RowsRead, ToProcess, Processed int64
}

// Importer runs imports.
type Importer struct {
	store *pgstore.Store
	cfg   Config
	log   *logrus.Entry
	now   func() time.Time
	// OnProgress, when set, is called after each stored batch and, while
	// waiting for the workers, a few times a second.
	OnProgress func(Progress)
	// PollInterval is how often the run is checked while the workers
	// finish.
	PollInterval time.Duration
}

// New returns an importer writing to store.
func New(store *pgstore.Store, cfg Config, log *logrus.Entry, now func() time.Time) (*Importer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.EnqueueBatch <= 0 {
		cfg.EnqueueBatch = 2000
	}
	if cfg.Problems <= 0 {
		cfg.Problems = 10
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	cfg.Reader = cfg.Reader.withDefaults()
	return &Importer{store: store, cfg: cfg, log: log, now: now, PollInterval: 200 * time.Millisecond}, nil
}

// Run imports in: it stores the rows not stored yet, processes them with
// its own pipeline workers and returns once every stored row of the run is
// processed, or when ctx ends (the report then says Interrupted; running
// the same import again resumes it). The report's counts are the run's,
// across resumptions.
func (im *Importer) Run(ctx context.Context, in Input) (Report, error) {
	started := im.now()
	// A bad header fails the import before anything is written.
	if _, err := NewReader(in.Src, in.Size, im.cfg.Reader, Position{}); err != nil {
		return Report{}, fmt.Errorf("%s: %w", in.Name, err)
	}
	fileSHA, err := FileDigest(in.Src, in.Size)
	if err != nil {
		return Report{}, fmt.Errorf("%s: %w", in.Name, err)
	}
	mappingSHA, err := MappingDigest(im.cfg.Mapping, im.cfg.DefaultRegion)
	if err != nil {
		return Report{}, err
	}
	run, resumed, lock, err := im.store.OpenImportRun(ctx, pgstore.ImportRunKey{
		Source: im.cfg.Source, FileName: in.Name, FileSHA256: fileSHA, FileSize: in.Size,
		Format: string(im.cfg.Reader.Format), MappingSHA256: mappingSHA,
	}, im.now().Add(-im.cfg.Retention))
	if err != nil {
		return Report{}, err
	}
	defer lock.Release(ctx)
	before := run
	log := im.log.WithField("import_run", run.ID)
	if resumed {
		log.WithField("next_line", run.NextLine).Info("resuming the import")
	}

	// The workers finish their batches in flight when stopped.
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	workers := im.workers(run.ID, log)
	workersDone := make(chan struct{})
	go func() {
		defer close(workersDone)
		_ = workers.Run(wctx)
	}()
	stop := func() {
		stopWorkers()
		<-workersDone
	}
	defer stop()

	if run.ReadAt == nil {
		run, err = im.enqueue(ctx, in, run, mappingSHA, workers.Wake)
	}
	if err == nil {
		run, err = im.drain(ctx, in, run)
	}
	stop()
	interrupted := err != nil && ctx.Err() != nil
	if err != nil && !interrupted {
		return Report{}, err
	}
	// The run as stored is the truth, also after an interruption.
	final := context.WithoutCancel(ctx)
	if run, err = im.store.ImportRunByID(final, run.ID); err != nil {
		return Report{}, err
	}
	rep := newReport(run, resumed, interrupted, im.now().Sub(started))
	rep.File = in.Name
	if processed := run.Processed - before.Processed; processed > 0 {
		rep.RowsPerSecond = float64(processed) / rep.Duration.Seconds()
	} else {
		rep.RowsPerSecond = float64(run.RowsRead-before.RowsRead) / rep.Duration.Seconds()
	}
	if err := im.store.ImportProblems(final, run.ID, im.cfg.Problems, func(p pgstore.ImportProblem) error {
		rep.Problems = append(rep.Problems, Problem{Line: p.Line, Status: p.Status, Reason: p.Reason})
		return nil
	}); err != nil {
		return rep, err
	}
	others, err := im.store.OpenImportRuns(final, im.cfg.Source, run.ID)
	if err != nil {
		return rep, err
	}
	for _, o := range others {
		rep.Waiting = append(rep.Waiting, WaitingRun{Run: o.ID, File: o.FileName, StartedAt: o.StartedAt, Line: o.NextLine})
	}
	return rep, nil
}

// enqueue reads the file from the run's checkpoint and stores its rows in
// batches, each with the checkpoint after it.
func (im *Importer) enqueue(ctx context.Context, in Input, run pgstore.ImportRun, mappingSHA string, wake func()) (pgstore.ImportRun, error) {
	rd, err := NewReader(in.Src, in.Size, im.cfg.Reader, Position{Offset: run.NextOffset, Line: run.NextLine})
	if err != nil {
		return run, fmt.Errorf("%s: %w", in.Name, err)
	}
	keys := newKeyer(mappingSHA)
	batch := make([]pgstore.ImportRow, 0, im.cfg.EnqueueBatch)
	flush := func(eof bool) error {
		pos := rd.Pos()
		// A statement in flight completes: its checkpoint is the truth
		// whatever the interruption.
		r, err := im.store.EnqueueImport(context.WithoutCancel(ctx), run.ID, im.cfg.Source, batch,
			pgstore.ImportPosition{Offset: pos.Offset, Line: pos.Line}, eof)
		if err != nil {
			return err
		}
		run, batch = r, batch[:0]
		wake()
		im.progress(Reading, pos.Offset, in.Size, run)
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return run, err
		}
		row, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return run, flush(true)
		}
		if err != nil {
			return run, fmt.Errorf("%s: %w", in.Name, err)
		}
		if row.Blank {
			continue
		}
		id, err := uuid.NewV7()
		if err != nil {
			return run, err
		}
		r := pgstore.ImportRow{RequestID: id.String(), Line: row.Line, Body: row.Body}
		if row.Reason != "" {
			r.Reason = fmt.Sprintf("line %d: %s", row.Line, row.Reason)
		} else {
			r.Key = keys.key(row.Content)
		}
		batch = append(batch, r)
		if len(batch) == im.cfg.EnqueueBatch {
			if err := flush(false); err != nil {
				return run, err
			}
		}
	}
}

// drain waits until every stored row of the run is processed, then closes
// the run. Proving that no row waits walks the run's index past every
// processed row, so it is asked when the counters say so, and otherwise
// only every few seconds (rows an erasure took, or a retry, never count
// as processed).
func (im *Importer) drain(ctx context.Context, in Input, run pgstore.ImportRun) (pgstore.ImportRun, error) {
	t := time.NewTicker(im.PollInterval)
	defer t.Stop()
	var checked time.Time
	for {
		if run.Processed >= run.Enqueued+run.Adopted || im.now().Sub(checked) >= 25*im.PollInterval {
			r, finished, err := im.store.FinishImportRun(ctx, run.ID)
			if err != nil {
				return run, err
			}
			run, checked = r, im.now()
			if finished {
				im.progress(Processing, in.Size, in.Size, run)
				return run, nil
			}
		}
		im.progress(Processing, in.Size, in.Size, run)
		select {
		case <-ctx.Done():
			return run, ctx.Err()
		case <-t.C:
		}
		r, err := im.store.ImportRunByID(ctx, run.ID)
		if err != nil {
			return run, err
		}
		run = r
	}
}

func (im *Importer) progress(phase Phase, bytes, size int64, run pgstore.ImportRun) {
	if im.OnProgress != nil {
		im.OnProgress(Progress{Phase: phase, Bytes: bytes, Size: size, RowsRead: run.RowsRead,
			ToProcess: run.Enqueued + run.Adopted, Processed: run.Processed})
	}
}

// importMapping names the import's mapping inside its mapper (no file can
// be named so).
const importMapping = "\x00import"

// workers are the run's pipeline workers: the real pipeline, claiming only
// the run's rows and mapping them with the import's mapping.
func (im *Importer) workers(run int64, log *logrus.Entry) *pipeline.Workers {
	mapper := mapping.NewMapper(
		map[string]mapping.SourceSpec{im.cfg.Source: {Provider: im.cfg.Mapping.Spec().Provider, DefaultRegion: im.cfg.DefaultRegion, Mapping: importMapping}},
		map[string]*mapping.Compiled{importMapping: im.cfg.Mapping})
	w := pipeline.NewWorkers(im.cfg.Pipeline, runInbox{store: im.store, run: run}, mapper, log.WithField("component", "pipeline"), im.now)
	w.SetModel(im.cfg.Model)
	w.Identity = im.cfg.Identity
	w.SuppressionKey = im.cfg.SuppressionKey
	return w
}

// Problems calls fn with every rejected or quarantined row of a run, in
// file order (a rejects file).
func (im *Importer) Problems(ctx context.Context, run int64, fn func(Problem, []byte) error) error {
	return im.store.ImportProblems(ctx, run, 0, func(p pgstore.ImportProblem) error {
		return fn(Problem{Line: p.Line, Status: p.Status, Reason: p.Reason}, p.Body)
	})
}
