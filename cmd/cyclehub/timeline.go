package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cyclehub/cyclehub/internal/adminclient"
)

func newTimelineCmd() *cobra.Command {
	var p adminclient.Page
	cmd := &cobra.Command{
		Use:     "timeline ID [--limit N] [--before ENTRY]",
		Short:   "list a customer's interactions, newest first",
		Example: `  cyclehub timeline 01a22703-8e77-781c-a140-9198a1e37b7c --limit 20`,
		Args:    args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			g := cli(cmd)
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			tl, err := c.Timeline(ctx, a[0], p)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if g.json {
				return printRaw(w, tl.Raw)
			}
			if len(tl.Items) == 0 {
				fmt.Fprintln(w, "no interactions")
				return nil
			}
			t := newTable(w, "ENTRY", "OCCURRED", "SOURCE", "TYPE", "REQUEST", "PROPERTIES")
			for _, e := range tl.Items {
				t.row(itoa(e.ID), ts(e.OccurredAt), e.Source, e.Type, orDash(e.RequestID), clip(compactJSON(e.Properties), 80))
			}
			if err := t.flush(); err != nil {
				return err
			}
			g.more(tl.NextBefore)
			return nil
		},
	}
	pageFlags(cmd.Flags(), &p, "entries")
	return cmd
}

// pageFlags adds --limit and --before for a paged list.
func pageFlags(f *pflag.FlagSet, p *adminclient.Page, what string) {
	f.IntVar(&p.Limit, "limit", 50, "list at most `N` "+what+" (1–500)")
	f.Int64Var(&p.Before, "before", 0, "continue a listing: the `ID` its last page ended with")
}

// more tells, on stderr, how to list the next page.
func (g *globals) more(next int64) {
	if next > 0 && !g.quiet {
		fmt.Fprintf(g.env.stderr, "(more: run again with --before %d)\n", next)
	}
}
