package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/internal/adminclient"
)

func newReplayCmd() *cobra.Command {
	var source string
	var dryRun, yes, refetch bool
	from, to := newTimeFlag(), newTimeFlag()
	cmd := &cobra.Command{
		Use:   "replay --source S --from T [--to T] [--dry-run] [--yes]",
		Short: "run a source's stored requests through the pipeline again (after a mapping fix)",
		Long: `Queue again every stored inbox request of a source received between --from
and --to (default now), so the pipeline maps them with the current
mappings: after fixing a mapping, the requests it mis-read are read again.
Requests already on the record (with timeline entries), already pending,
or whose payload was purged (erasure) are skipped and counted.

On a terminal it first shows how many requests would be queued and asks
for confirmation; --yes skips the question (required when stdin is not a
terminal), --dry-run only counts.`,
		Example: `  cyclehub replay --source typeform --from 2026-01-01 --to 2026-01-08 --dry-run
  cyclehub replay --source typeform --from 7d --yes`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case source == "":
				return usagef("give the --source whose requests to replay")
			case from.t.IsZero():
				return usagef("give --from: the start of the time range")
			}
			if to.t.IsZero() {
				// Rounded up to the second: everything received so far,
				// this second's requests included.
				to.t = time.Now().UTC().Truncate(time.Second).Add(time.Second)
			}
			if !from.t.Before(to.t) {
				return usagef("--from (%s) must be before --to (%s)", ts(from.t), ts(to.t))
			}
			g := cli(cmd)
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			req := adminclient.InboxReplay{Source: source, From: from.t, To: to.t, Refetch: refetch}
			w := cmd.OutOrStdout()
			span := fmt.Sprintf("from %s received between %s and %s", source, ts(from.t), ts(to.t))

			if dryRun || !yes {
				req.DryRun = true
				bar := g.spinner("counting")
				preview, err := c.ReplayInbox(ctx, req)
				bar.done()
				if err != nil {
					return err
				}
				switch {
				case dryRun && g.json:
					return printRaw(w, preview.Raw)
				case dryRun:
					fmt.Fprintf(w, "would queue %s %s again%s\n", plural(preview.Queued, "request"), span, skipped(preview))
					return nil
				case preview.Queued == 0:
					if g.json {
						return printRaw(w, preview.Raw)
					}
					fmt.Fprintf(w, "nothing to replay %s%s\n", span, skipped(preview))
					return nil
				}
				fmt.Fprintf(g.env.stderr, "%s %s would be queued again%s.\n", plural(preview.Queued, "request"), span, skipped(preview))
				if !g.env.stdinTTY {
					return usagef("stdin is not a terminal: pass --yes to queue them without confirmation")
				}
				if !confirm(g.env.stdin, g.env.stderr, "Queue them again?") {
					fmt.Fprintln(g.env.stderr, "aborted: nothing was queued")
					return exitCode(1)
				}
				req.DryRun = false
			}
			bar := g.spinner("replaying")
			res, err := c.ReplayInbox(ctx, req)
			bar.done()
			if err != nil {
				return err
			}
			if g.json {
				return printRaw(w, res.Raw)
			}
			fmt.Fprintf(w, "queued %s %s again%s\n", plural(res.Queued, "request"), span, skipped(res))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&source, "source", "", "the configured source `NAME` whose requests to replay (required)")
	timeRange(cmd, from, to, "received")
	f.BoolVar(&dryRun, "dry-run", false, "count what would be queued; queue nothing")
	f.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	f.BoolVar(&refetch, "refetch", false, "fetch the provider API documents again (after fixing a source's api_token or api_base)")
	return cmd
}

// skipped notes the requests of the range that are not queued, and why.
func skipped(r *adminclient.InboxReplayed) string {
	var why []string
	if r.SkippedApplied > 0 {
		why = append(why, fmt.Sprintf("%d already on the record", r.SkippedApplied))
	}
	if r.SkippedPurged > 0 {
		why = append(why, fmt.Sprintf("%d with their payload purged", r.SkippedPurged))
	}
	if r.AlreadyPending > 0 {
		why = append(why, fmt.Sprintf("%d already pending", r.AlreadyPending))
	}
	if r.SkippedImported > 0 {
		why = append(why, fmt.Sprintf("%d rows of a bulk import (run the import again instead)", r.SkippedImported))
	}
	if len(why) == 0 {
		return ""
	}
	return fmt.Sprintf("; %d skipped: %s", r.SkippedApplied+r.SkippedPurged+r.AlreadyPending+r.SkippedImported, strings.Join(why, ", "))
}

// confirm asks a yes/no question on a terminal; only y or yes is yes.
func confirm(in io.Reader, out io.Writer, question string) bool {
	fmt.Fprintf(out, "%s [y/N] ", question)
	line, _ := bufio.NewReader(in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}
