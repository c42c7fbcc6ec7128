package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/internal/adminclient"
)

func newExportCmd() *cobra.Command {
	var format, stage, output string
	since := newTimeFlag()
	cmd := &cobra.Command{
		Use:   "export [--format jsonl|csv] [--stage S] [--updated-since T] [-o FILE]",
		Short: "stream customers as JSON lines or CSV, to a file or stdout",
		Long: `Stream customers from the admin API as JSON lines (one customer a line, the
default) or CSV, to stdout or to a file (-o FILE, written under a temporary
name and renamed when complete, readable by its owner only: it holds
personal data). Writing to a file on a terminal shows the rows written.`,
		Example: `  cyclehub export -o customers.jsonl
  cyclehub export --format csv --stage customer --updated-since 30d -o customers.csv`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			g := cli(cmd)
			if g.json {
				if cmd.Flags().Changed("format") && format != "jsonl" {
					return usagef("--json exports JSON lines: drop --format %s", format)
				}
				format = "jsonl"
			}
			if format != "jsonl" && format != "csv" {
				return usagef("--format must be jsonl or csv, not %q", format)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			body, err := c.Export(ctx, adminclient.ExportQuery{Format: format, Stage: stage, UpdatedSince: since.t})
			if err != nil {
				return err
			}
			defer body.Close()
			if output == "" || output == "-" {
				if _, err := io.Copy(cmd.OutOrStdout(), body); err != nil {
					return fmt.Errorf("the export was cut part way: what was written is incomplete: %w", err)
				}
				return nil
			}
			rows, err := g.exportToFile(output, body, format == "csv")
			if err != nil {
				return err
			}
			if !g.quiet {
				fmt.Fprintf(g.env.stderr, "exported %s to %s\n", plural(rows, "customer"), output)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "jsonl", "`FORMAT`: jsonl (one JSON document a line) or csv")
	f.StringVar(&stage, "stage", "", "only customers in this lifecycle `STAGE` (lead, customer, …)")
	f.Var(since, "updated-since", "only customers updated at or after `T` (RFC 3339, a date, or a duration ago: 7d)")
	f.StringVarP(&output, "output", "o", "", "write to `FILE` instead of stdout")
	return cmd
}

// exportToFile copies the export into path (through a temporary file in
// the same directory, renamed when complete) and returns the rows written
// (a CSV's header line is not one).
func (g *globals) exportToFile(path string, body io.Reader, header bool) (int, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	bar := g.progress(-1, "exporting", "rows")
	lc := &lineCounter{w: tmp, bar: bar, csv: header}
	_, err = io.Copy(lc, body)
	bar.done()
	if err != nil {
		_ = tmp.Close()
		return 0, fmt.Errorf("export interrupted after %s; %s was not written: %w", plural(lc.lines, "line"), path, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return 0, err
	}
	rows := lc.lines
	if header && rows > 0 {
		rows--
	}
	return rows, nil
}

// lineCounter counts the lines written through it: JSON lines, or CSV
// records (a line break inside a quoted CSV field is not one).
type lineCounter struct {
	w      io.Writer
	bar    *progress
	csv    bool
	quoted bool
	lines  int
}

func (c *lineCounter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	k := 0
	if c.csv {
		for _, b := range p[:n] {
			switch {
			case b == '"':
				c.quoted = !c.quoted // "" inside a field toggles twice
			case b == '\n' && !c.quoted:
				k++
			}
		}
	} else {
		k = bytes.Count(p[:n], []byte{'\n'})
	}
	if k > 0 {
		c.lines += k
		c.bar.add(k)
	}
	return n, err
}
