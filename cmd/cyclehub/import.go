package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/importer"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// importOptions are the flags of `cyclehub import`.
type importOptions struct {
	mapping   string
	source    string
	format    string
	delimiter string
	region    string
	workers   int
	batchSize int
	rejects   string
	dryRun    int
}

const importLong = `Import existing contacts, tickets or survey answers from a CSV file (a
header row names the columns) or a JSONL file (one JSON object a line)
through the same mapping, identity resolution, lifecycle rules and outbox
as webhooks. Each row becomes a JSON object read by the --mapping file
(the format of configs/mappings/*.yaml) under the source --source.

The rows are stored in the inbox and processed by this command's own
pipeline workers: no running daemon is needed (a running one publishes
the events to Kafka and the destinations from the outbox as usual).

Idempotent: a row already imported under the source with the same
mapping (same content, wherever it is in the file) is skipped, so running
an import again adds nothing, and a file with a few rows edited imports
just those. Resumable: interrupted (Ctrl-C), the same command continues
after the last stored batch. Rows that cannot be read or mapped are kept
(rejected or quarantined in the inbox), listed with their line numbers,
and written to --rejects FILE if given. --dry-run maps the first rows and
prints their events without writing anything. See docs/import.md.`

func newImportCmd() *cobra.Command {
	var o importOptions
	c := &cobra.Command{
		Use:   "import FILE.csv|FILE.jsonl --mapping FILE [--source NAME] [--rejects FILE] [--dry-run[=N]]",
		Short: "import a CSV or JSONL file through the mapping, resolution and rules",
		Long:  importLong,
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if o.mapping == "" {
				return usagef("give the --mapping FILE that reads the rows")
			}
			if cmd.Flags().Changed("dry-run") && o.dryRun < 1 {
				return usagef("--dry-run=N: N must be at least 1")
			}
			return codeErr(runImport(cli(cmd), a[0], o))
		},
	}
	f := c.Flags()
	f.StringVar(&o.mapping, "mapping", "", "mapping `FILE` (configs/mappings format), or the name of a mapping of the config's mappings_dir")
	f.StringVar(&o.source, "source", "import", "source `name` the rows are stored under (dedup keys are per source)")
	f.StringVar(&o.format, "format", "", "csv or jsonl (default: by the file's extension)")
	f.StringVar(&o.delimiter, "delimiter", ",", `CSV field delimiter (one character; "\t" for a tab)`)
	f.StringVar(&o.region, "region", "", "ISO region of national phone numbers (default: the source's default_region, else admin.default_region)")
	f.IntVar(&o.workers, "workers", 0, "pipeline workers processing the rows (default: the config's pipeline.workers)")
	f.IntVar(&o.batchSize, "batch-size", importer.DefaultBatchSize, "rows per pipeline transaction")
	f.StringVar(&o.rejects, "rejects", "", "write every rejected or quarantined row to `FILE` (JSON lines: line, status, reason, row)")
	f.IntVar(&o.dryRun, "dry-run", 0, "map the first `N` rows (10 with a bare --dry-run) and print their events; write nothing")
	f.Lookup("dry-run").NoOptDefVal = "10"
	return c
}

func runImport(g *globals, path string, o importOptions) int {
	stderr, stdout := g.env.stderr, g.env.stdout
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "import: "+format+"\n", a...)
		return 1
	}
	cfg, err := configs.Load(g.config, g.env.lookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", g.config, err)
		return 1
	}
	spec, err := loadImportMapping(o.mapping, cfg)
	if err != nil {
		return fail("%v", err)
	}
	icfg, err := importConfig(cfg, spec, path, o)
	if err != nil {
		return fail("%v", err)
	}
	file, err := os.Open(path) // #nosec G304 -- the file the operator names on the command line
	if err != nil {
		return fail("%v", err)
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return fail("%v", err)
	}
	in := importer.Input{Name: filepath.Base(path), Src: file, Size: info.Size()}

	if o.dryRun > 0 {
		var rows []importer.DryRow
		err := importer.DryRun(in, icfg, o.dryRun, time.Now().UTC(), func(r importer.DryRow) error {
			rows = append(rows, r)
			return nil
		})
		if err != nil {
			return fail("%v", err)
		}
		if rows == nil {
			rows = []importer.DryRow{}
		}
		return printJSON(stdout, map[string]any{"source": icfg.Source, "mapping": o.mapping, "dry_run": true, "rows": rows})
	}

	ctx, stop := signalContext(func() {})
	defer stop()
	store, err := pgstore.Open(ctx, cfg.Postgres)
	if err != nil {
		return fail("%v", err)
	}
	defer store.Close()
	logger := newLogger(cfg.Log, stderr)
	if logger.GetLevel() > logrus.WarnLevel {
		logger.SetLevel(logrus.WarnLevel) // the report says what happened
	}
	if _, err := store.Migrate(ctx); err != nil {
		return fail("%v", err)
	}
	store.SetRoutes(routes(cfg)) // imported changes reach the destinations too
	im, err := importer.New(store, icfg, logger.WithField("component", "import"), time.Now)
	if err != nil {
		return fail("%v", err)
	}
	bars := newImportBars(g)
	im.OnProgress = bars.update
	defer importer.TuneGC()()
	rep, err := im.Run(ctx, in)
	bars.done()
	if errors.Is(err, pgstore.ErrImportRunning) {
		return fail("%v: wait for it, or stop it first", err)
	}
	if err != nil {
		return fail("%v", err)
	}
	if o.rejects != "" {
		if err := writeRejects(context.WithoutCancel(ctx), im, rep.Run, o.rejects); err != nil {
			return fail("rejects: %v", err)
		}
	}
	if g.json {
		if code := printJSON(stdout, rep); code != 0 {
			return code
		}
	} else {
		printImportReport(stdout, rep)
	}
	switch {
	case rep.Interrupted && rep.AllRead:
		fmt.Fprintf(stderr, "import: interrupted; run the same command again to process the %d rows waiting\n",
			rep.Enqueued+rep.Adopted-rep.Processed)
		return 1
	case rep.Interrupted:
		fmt.Fprintf(stderr, "import: interrupted; run the same command again to resume at line %d\n", rep.NextLine)
		return 1
	}
	return 0
}

// importConfig builds the importer's configuration from the daemon's and
// the flags.
func importConfig(cfg *configs.Config, spec *mapping.Compiled, path string, o importOptions) (importer.Config, error) {
	format := importer.Format(strings.ToLower(o.format))
	if format == "" {
		f, err := importer.FormatOf(path)
		if err != nil {
			return importer.Config{}, err
		}
		format = f
	}
	delim := o.delimiter
	if delim == `\t` || delim == "tab" {
		delim = "\t"
	}
	if len(delim) != 1 {
		return importer.Config{}, fmt.Errorf("--delimiter %q: one ASCII character", o.delimiter)
	}
	region := o.region
	if region == "" {
		region = cfg.Sources[o.source].DefaultRegion
	}
	if region == "" {
		region = cfg.Admin.DefaultRegion
	}
	if region != "" && mapping.CountryCode(region) != region {
		return importer.Config{}, fmt.Errorf("--region %q: an ISO 3166 alpha-2 code like US", region)
	}
	pc := cfg.Pipeline
	if o.workers > 0 {
		pc.Workers = o.workers
	}
	if o.batchSize > 0 {
		pc.BatchSize = o.batchSize
	}
	pc.PollInterval = min(pc.PollInterval, 100*time.Millisecond)
	return importer.Config{
		Source: o.source, Mapping: spec, DefaultRegion: region,
		Reader:   importer.ReaderOptions{Format: format, Delimiter: delim[0], MaxRowBytes: int(cfg.HTTP.MaxBodyBytes)},
		Pipeline: pc, Identity: cfg.Identity, Model: cfg.Rules,
		SuppressionKey: []byte(cfg.Privacy.SuppressionKey.Reveal()),
		Retention:      cfg.Privacy.Retention.RawPayloads,
	}, nil
}

// loadImportMapping reads a mapping file (strict YAML, no ${ENV}, as the
// config's mappings are read), or takes the config's mapping of that name.
func loadImportMapping(arg string, cfg *configs.Config) (*mapping.Compiled, error) {
	if c, ok := cfg.Mappings[arg]; ok && !strings.ContainsAny(arg, `/\.`) {
		return c, nil
	}
	data, err := os.ReadFile(arg) // #nosec G304 -- the mapping file the operator names
	if err != nil {
		return nil, fmt.Errorf("mapping: %w", err)
	}
	var spec mapping.Spec
	// Mapping files take no ${ENV}: braces are template placeholders.
	escaped := strings.ReplaceAll(string(data), "$", "$$")
	if err := configs.Decode([]byte(escaped), &spec, func(string) (string, bool) { return "", false }); err != nil {
		return nil, fmt.Errorf("%s:\n%w", arg, err)
	}
	c, errs := spec.Compile()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s:\n%w", arg, errors.Join(errs...))
	}
	return c, nil
}

// writeRejects writes every rejected or quarantined row of the run as a
// JSON line: line, status, reason and the row as stored.
func writeRejects(ctx context.Context, im *importer.Importer, run int64, path string) error {
	f, err := os.Create(path) // #nosec G304 -- the --rejects file the operator names
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	enc.SetEscapeHTML(false)
	err = im.Problems(ctx, run, func(p importer.Problem, body []byte) error {
		rec := map[string]any{"line": p.Line, "status": p.Status, "reason": p.Reason}
		if json.Valid(body) {
			rec["row"] = json.RawMessage(body)
		} else {
			rec["raw"] = string(body)
		}
		return enc.Encode(rec)
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func printImportReport(w io.Writer, r importer.Report) {
	state := "complete"
	switch {
	case r.Interrupted:
		state = "interrupted"
	case !r.Complete:
		state = "incomplete"
	}
	fmt.Fprintf(w, "import run %d: %s (%s, source %s)", r.Run, r.File, state, r.Source)
	if r.Resumed {
		fmt.Fprint(w, ", resumed")
	}
	fmt.Fprintln(w)
	t := newTable(w)
	t.row("  rows read", itoa(r.RowsRead))
	t.row("  enqueued", itoa(r.Enqueued))
	t.row("  skipped (already imported)", itoa(r.Skipped))
	t.row("  rejected (unreadable)", itoa(r.Rejected))
	if r.Adopted > 0 {
		t.row("  adopted (from an interrupted import)", itoa(r.Adopted))
	}
	t.row("  processed", itoa(r.Processed))
	t.row("  quarantined (unmappable)", itoa(r.Quarantined))
	t.row("  customers created", itoa(r.CustomersCreated))
	t.row("  customers updated", itoa(r.CustomersUpdated))
	t.row("  duration", r.Duration.Round(time.Millisecond).String())
	t.row("  rows/s", num(r.RowsPerSecond))
	_ = t.flush()
	if len(r.Problems) > 0 {
		fmt.Fprintln(w, "problems (first ones; --rejects FILE writes them all):")
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  line %d  %s  %s\n", p.Line, p.Status, clip(p.Reason, 200))
		}
	}
	for _, o := range r.Waiting {
		fmt.Fprintf(w, "note: import run %d (%s, started %s) is unfinished: its rows wait until the same import runs again\n",
			o.Run, o.File, ts(o.StartedAt))
	}
}

// importBars draws the progress on stderr when it is a terminal: bytes
// read and stored, then rows processed.
type importBars struct {
	on      bool
	w       io.Writer
	reading *progressbar.ProgressBar
	proc    *progressbar.ProgressBar
}

func newImportBars(g *globals) *importBars {
	return &importBars{on: g.env.stderrTTY && !g.quiet, w: g.env.stderr}
}

func (b *importBars) update(p importer.Progress) {
	if !b.on {
		return
	}
	switch p.Phase {
	case importer.Reading:
		if b.reading == nil {
			b.reading = progressbar.NewOptions64(p.Size,
				progressbar.OptionSetWriter(b.w),
				progressbar.OptionSetDescription("reading   "),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
			)
		}
		_ = b.reading.Set64(p.Bytes)
	case importer.Processing:
		if b.reading != nil && !b.reading.IsFinished() {
			_ = b.reading.Finish()
		}
		if b.proc == nil {
			b.proc = progressbar.NewOptions64(max(p.ToProcess, 1),
				progressbar.OptionSetWriter(b.w),
				progressbar.OptionSetDescription("processing"),
				progressbar.OptionShowCount(),
				progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("rows"),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
			)
		}
		b.proc.ChangeMax64(max(p.ToProcess, 1))
		_ = b.proc.Set64(min(p.Processed, max(p.ToProcess, 1)))
	}
}

func (b *importBars) done() {
	for _, bar := range []*progressbar.ProgressBar{b.reading, b.proc} {
		if bar != nil && !bar.IsFinished() {
			_ = bar.Exit()
			fmt.Fprintln(b.w)
		}
	}
}
