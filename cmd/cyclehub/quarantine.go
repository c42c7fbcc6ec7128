package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/internal/adminclient"
)

func newQuarantineCmd() *cobra.Command {
	var source string
	var p adminclient.Page
	list := &cobra.Command{
		Use:     "list [--source S] [--limit N] [--before ID]",
		Short:   "list requests that could not be mapped (quarantined) or read (rejected)",
		Example: `  cyclehub quarantine list --source typeform`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			g := cli(cmd)
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			q, err := c.ListQuarantine(ctx, source, p)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if g.json {
				return printRaw(w, q.Raw)
			}
			if len(q.Items) == 0 {
				fmt.Fprintln(w, "no quarantined or rejected requests")
				return nil
			}
			t := newTable(w, "ID", "RECEIVED", "SOURCE", "PROVIDER", "STATUS", "ATTEMPTS", "BYTES", "REASON")
			for _, it := range q.Items {
				t.row(itoa(it.ID), ts(it.ReceivedAt), it.Source, it.Provider, it.Status, fmt.Sprint(it.Attempts),
					fmt.Sprint(it.BodyBytes), clip(it.Reason, 100))
			}
			if err := t.flush(); err != nil {
				return err
			}
			g.more(q.NextBefore)
			return nil
		},
	}
	list.Flags().StringVar(&source, "source", "", "only requests of this configured source `NAME`")
	pageFlags(list.Flags(), &p, "requests")

	var refetch bool
	replay := &cobra.Command{
		Use:   "replay ID... [--refetch]",
		Short: "queue quarantined or rejected requests again (after a mapping fix)",
		Example: `  cyclehub quarantine replay 812 813 814
  cyclehub quarantine list --source typeform --json | jq -r '.items[].id' | xargs cyclehub quarantine replay`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ids, err := parseIDs(a)
			if err != nil {
				return err
			}
			g := cli(cmd)
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			return g.replayEach(ctx, cmd.OutOrStdout(), ids, "request", func(ctx context.Context, id int64) (json.RawMessage, error) {
				q, err := c.ReplayQuarantined(ctx, id, refetch)
				if err != nil {
					return nil, err
				}
				return q.Raw, nil
			})
		},
	}
	replay.Flags().BoolVar(&refetch, "refetch", false, "fetch the provider API documents again (after fixing a source's api_token or api_base)")
	return group("quarantine", "inspect and replay requests the pipeline could not map", list, replay)
}
