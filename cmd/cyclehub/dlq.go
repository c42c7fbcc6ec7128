package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/internal/adminclient"
)

func newDLQCmd() *cobra.Command {
	var dest string
	from, to := newTimeFlag(), newTimeFlag()
	var p adminclient.Page
	list := &cobra.Command{
		Use:     "list [--destination D] [--from T] [--to T] [--limit N] [--before ID]",
		Short:   "list dead deliveries (the dead-letter queue), newest first",
		Example: `  cyclehub dlq list --destination crm --from 24h`,
		Args:    args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			g := cli(cmd)
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			ds, err := c.ListDeliveries(ctx, adminclient.DeliveryFilter{Status: "dead", Destination: dest, From: from.t, To: to.t}, p)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if g.json {
				return printRaw(w, ds.Raw)
			}
			if len(ds.Items) == 0 {
				fmt.Fprintln(w, "no dead deliveries")
				return nil
			}
			t := newTable(w, "ID", "CREATED", "DESTINATION", "EVENT", "CUSTOMER", "ATTEMPTS", "HTTP", "LAST ERROR")
			for _, d := range ds.Items {
				status := "-"
				if d.LastHTTPStatus != nil {
					status = fmt.Sprint(*d.LastHTTPStatus)
				}
				t.row(itoa(d.ID), ts(d.CreatedAt), d.Destination, d.EventType, d.CustomerID, fmt.Sprint(d.Attempts), status, clip(strp(d.LastError), 80))
			}
			if err := t.flush(); err != nil {
				return err
			}
			g.more(ds.NextBefore)
			return nil
		},
	}
	timeRange(list, from, to, "created")
	list.Flags().StringVar(&dest, "destination", "", "only deliveries to this configured destination `NAME`")
	pageFlags(list.Flags(), &p, "deliveries")

	var rdest string
	rfrom, rto := newTimeFlag(), newTimeFlag()
	replay := &cobra.Command{
		Use:   "replay (ID... | --destination D [--from T] [--to T])",
		Short: "queue dead deliveries again: by id, or every one to a destination",
		Long: `Queue dead deliveries again, with a fresh retry schedule; their destination
is re-enabled. Give delivery ids, or --destination (optionally with a
--from/--to range of when they were created) to replay all of them.`,
		Example: `  cyclehub dlq replay 4711 4712
  cyclehub dlq replay --destination crm --from 2026-01-01`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, a []string) error {
			switch {
			case len(a) > 0 && rdest != "":
				return usagef("give delivery ids or --destination, not both")
			case len(a) == 0 && rdest == "":
				return usagef("give delivery ids, or --destination D to replay all of its dead deliveries")
			case len(a) > 0 && (!rfrom.t.IsZero() || !rto.t.IsZero()):
				return usagef("--from and --to select with --destination; not with ids")
			}
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
			w := cmd.OutOrStdout()
			if rdest == "" {
				return g.replayEach(ctx, w, ids, "delivery", func(ctx context.Context, id int64) (json.RawMessage, error) {
					q, err := c.ReplayDelivery(ctx, id)
					if err != nil {
						return nil, err
					}
					return q.Raw, nil
				})
			}
			q, err := c.ReplayDeliveries(ctx, adminclient.DeliveryFilter{Destination: rdest, From: rfrom.t, To: rto.t})
			if err != nil {
				return err
			}
			if g.json {
				return printRaw(w, q.Raw)
			}
			fmt.Fprintf(w, "queued %s to %s again\n", plural(q.Deliveries, "dead delivery"), rdest)
			return nil
		},
	}
	replay.Flags().StringVar(&rdest, "destination", "", "replay every dead delivery to this configured destination `NAME`")
	timeRange(replay, rfrom, rto, "created")
	return group("dlq", "the dead-letter queue: deliveries that ran out of attempts", list, replay)
}
