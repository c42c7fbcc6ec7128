package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// rulesRun are the flags of `cyclehub rules backtest|apply`.
type rulesRun struct {
	verb     string
	rulesDir string
	list     int
	batch    int
	after    string
}

func newRulesCmd() *cobra.Command {
	backtest := &cobra.Command{
		Use:   "backtest --rules DIR [--config FILE] [--list N] [--json]",
		Short: "replay stored history through proposed rules; writes nothing",
		Long: `Replay every customer's stored history through the proposed rules and the
current ones (the config's rules_dir); print who would change stage or
band. Writes nothing.`,
	}
	apply := &cobra.Command{
		Use:   "apply [--rules DIR] [--config FILE] [--batch N] [--after ID]",
		Short: "re-score every customer now, online, emitting the events",
		Long: `Re-score every customer now, in batches, online, writing the changes and
their stage_changed / score_changed events (the rules default to the
config's rules_dir: reload the daemons first with SIGHUP).`,
	}
	for _, c := range []*cobra.Command{backtest, apply} {
		o := &rulesRun{verb: c.Name()}
		c.Args = args(cobra.NoArgs)
		c.RunE = func(cmd *cobra.Command, _ []string) error {
			switch {
			case o.verb == "backtest" && o.rulesDir == "":
				return usagef("give the proposed rules with --rules DIR")
			case o.batch < 1 || o.batch > 10000:
				return usagef("--batch must be between 1 and 10000")
			}
			g := cli(cmd)
			return codeErr(runRules(g.config, *o, g.json, cmd.OutOrStdout(), cmd.ErrOrStderr()))
		}
		// Both verbs accept every flag, as they always have; each shows
		// its own.
		f := c.Flags()
		if o.verb == "backtest" {
			f.StringVar(&o.rulesDir, "rules", "", "the proposed rules' `directory` (required)")
		} else {
			f.StringVar(&o.rulesDir, "rules", "", "rules `directory` (default: the config's rules_dir)")
		}
		f.IntVar(&o.list, "list", 50, "list at most `N` changed customers")
		f.IntVar(&o.batch, "batch", 500, "customers per transaction")
		f.StringVar(&o.after, "after", "", "resume after this customer `id` (printed when interrupted)")
		hide := []string{"batch", "after"}
		if o.verb == "apply" {
			hide = []string{"list"}
		}
		for _, name := range hide {
			_ = f.MarkHidden(name)
		}
	}
	return group("rules", "backtest or apply lifecycle and scoring rules", backtest, apply)
}

// runRules serves `cyclehub rules backtest|apply`.
func runRules(cfgPath string, o rulesRun, asJSON bool, stdout, stderr io.Writer) int {
	verb := o.verb
	cfg, err := configs.Load(cfgPath, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", cfgPath, err)
		return 1
	}
	model := cfg.Rules
	if o.rulesDir != "" {
		if model, err = configs.LoadRules(o.rulesDir); err != nil {
			fmt.Fprintf(stderr, "%s:\n%v\n", o.rulesDir, err)
			return 1
		}
	}
	ctx, stop := signalContext(func() {})
	defer stop()
	st, err := pgstore.Open(ctx, cfg.Postgres)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer st.Close()
	st.SetRoutes(routes(cfg)) // an applied stage change reaches the destinations too
	now := time.Now().UTC()
	if verb == "backtest" {
		b := &pipeline.Backtest{Current: cfg.Rules, Proposed: model, Now: now, MaxListed: o.list}
		if err := backtest(ctx, st, cfg, b); err != nil {
			fmt.Fprintf(stderr, "rules backtest: %v\n", err)
			return 1
		}
		if asJSON {
			return printJSON(stdout, b)
		}
		printBacktest(stdout, b, cfg.Rules.Version, model.Version)
		return 0
	}
	return applyRules(ctx, st, model, o.after, o.batch, now, stdout, stderr)
}

// backtest pages through every live customer's history, read-only.
func backtest(ctx context.Context, st *pgstore.Store, cfg *configs.Config, b *pipeline.Backtest) error {
	after := ""
	for {
		page, err := st.Histories(ctx, after, 200)
		if err != nil || len(page) == 0 {
			return err
		}
		for _, h := range page {
			for _, ev := range h.Events {
				ev.Provider = cfg.Sources[ev.Source].Provider
			}
			b.Add(h.Customer, h.Events)
		}
		after = page[len(page)-1].Customer.ID
	}
}

func printBacktest(w io.Writer, b *pipeline.Backtest, current, proposed string) {
	fmt.Fprintf(w, "rules backtest: %d customers replayed through the current rules (%s) and the proposed ones (%s)\n",
		b.Customers, current, proposed)
	fmt.Fprintf(w, "  would change stage:           %d\n", b.StageChanged)
	fmt.Fprintf(w, "  would change band:            %d\n", b.BandChanged)
	fmt.Fprintf(w, "  would change customer_status: %d\n", b.StatusChanged)
	for _, sec := range []struct {
		title string
		m     map[string]int
	}{{"stage moves", b.StageMoves}, {"band moves", b.BandMoves}, {"customers by stage under the proposed rules", b.ProposedByStage}} {
		if len(sec.m) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", sec.title)
		for _, k := range slices.Sorted(maps.Keys(sec.m)) {
			fmt.Fprintf(w, "  %-40s %d\n", k, sec.m[k])
		}
	}
	if len(b.Changes) > 0 {
		fmt.Fprintln(w, "customers that would change:")
		for _, d := range b.Changes {
			fmt.Fprintf(w, "  %s  stage %s → %s  band %s → %s", d.CustomerID, orDash(d.StageFrom), orDash(d.StageTo), orDash(d.BandFrom), orDash(d.BandTo))
			if d.StatusFrom != d.StatusTo {
				fmt.Fprintf(w, "  status %s → %s", orDash(d.StatusFrom), orDash(d.StatusTo))
			}
			fmt.Fprintln(w)
		}
		if b.Unlisted > 0 {
			fmt.Fprintf(w, "  … and %d more (--list N, --json)\n", b.Unlisted)
		}
	}
	if b.Drifted > 0 {
		fmt.Fprintf(w, "note: for %d customers the stored stage or band differs from the current rules' replay "+
			"(traits events carried, stages set under earlier rules); the comparison above is replay against replay.\n", b.Drifted)
	}
	fmt.Fprintln(w, "nothing was written.")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// applyRules re-scores every live customer with model, batch by batch,
// each batch its own transaction (online: customers a pipeline batch holds
// are skipped, as that batch evaluates them).
func applyRules(ctx context.Context, st *pgstore.Store, model *mapping.Model, after string, batch int, now time.Time, stdout, stderr io.Writer) int {
	total := pipeline.RescoreStats{}
	trig := mapping.Trigger{Source: "cyclehub", EventType: pipeline.TriggerApply, OccurredAt: now}
	for ctx.Err() == nil {
		b, err := st.ClaimAfter(ctx, after, batch)
		if err != nil {
			fmt.Fprintf(stderr, "rules apply: %v (resume with --after %s)\n", err, after)
			return 1
		}
		if b == nil {
			break
		}
		s, err := pipeline.Rescore(ctx, b, model, now, trig)
		if err != nil {
			fmt.Fprintf(stderr, "rules apply: %v (resume with --after %s)\n", err, after)
			return 1
		}
		total.Add(s)
		after = b.Last()
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "rules apply: interrupted; resume with --after %s\n", after)
		return 1
	}
	out := map[string]any{"model": model.Version, "customers": total.Customers, "changed": total.Changed,
		"events": total.Events, "stage_moves": nonNilMap(total.StageMoves), "band_moves": nonNilMap(total.BandChanges)}
	if len(total.RuleErrors) > 0 {
		out["rule_errors"] = total.RuleErrors
	}
	return printJSON(stdout, out)
}

func nonNilMap(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}
