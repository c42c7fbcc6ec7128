package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/internal/adminclient"
)

func newFunnelCmd() *cobra.Command {
	from, to := newTimeFlag(), newTimeFlag()
	var horizon string
	cmd := &cobra.Command{
		Use:   "funnel [--from T] [--to T] [--horizon D]",
		Short: "funnel metrics: stages, conversion, time in stage, win rate, churn, NPS",
		Long: `Show the funnel of a period (the API's default period when --from and --to
are not given): per stage, the customers in it now, those who entered it in
the period and the share of them who reached the next stage within the
horizon, and how long completed stints lasted; then lead volume by
first-touch source, win rate, sales cycle, churn, NPS and referral rate.
docs/funnel.md defines each metric.`,
		Example: `  cyclehub funnel
  cyclehub funnel --from 2026-01-01 --to 2026-04-01 --horizon 60d`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			g := cli(cmd)
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			f, err := c.Funnel(ctx, adminclient.FunnelQuery{From: from.t, To: to.t, Horizon: horizon})
			if err != nil {
				return err
			}
			if g.json {
				return printRaw(cmd.OutOrStdout(), f.Raw)
			}
			return printFunnel(cmd.OutOrStdout(), f)
		},
	}
	timeRange(cmd, from, to, "the period starts")
	cmd.Flags().Lookup("to").Usage = "the period ends before `T` (same forms)"
	cmd.Flags().StringVar(&horizon, "horizon", "", "how long after entering a stage a conversion still counts: `DAYS` (90, 90d) or a duration (2160h); the API's default is 90 days")
	return cmd
}

func printFunnel(w io.Writer, f *adminclient.Funnel) error {
	p := f.Period
	fmt.Fprintf(w, "Funnel from %s to %s, horizon %s days, as of %s", ts(p.From), ts(p.To), num(p.HorizonDays), ts(p.AsOf))
	if !p.HorizonComplete {
		fmt.Fprint(w, " (the horizon is not over: conversions can still grow)")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)

	conv := map[string]int{}
	for i, c := range f.Conversions {
		conv[c.FromStage] = i
	}
	tis := map[string]int{}
	for i, s := range f.TimeInStage {
		tis[s.Stage] = i
	}
	t := newTable(w, "STAGE", "NOW", "ENTERED", "NEXT STAGE", "CONVERTED", "CONVERSION", "STINTS DONE", "MEDIAN TIME", "P90 TIME")
	for _, s := range f.Stages {
		row := []string{orDash(s.Stage), itoa(s.Current), itoa(s.Entered), "-", "-", "-", "0", "-", "-"}
		if i, ok := conv[s.Stage]; ok {
			c := f.Conversions[i]
			row[3], row[4], row[5] = c.ToStage, fmt.Sprintf("%d of %d", c.Converted, c.Cohort), pct(c.Rate)
		}
		if i, ok := tis[s.Stage]; ok {
			st := f.TimeInStage[i]
			row[6], row[7], row[8] = itoa(st.CompletedStints), hours(st.MedianHours), hours(st.P90Hours)
		}
		t.row(row...)
	}
	if err := t.flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	t = newTable(w)
	t.row("Leads", fmt.Sprintf("%d new in the period", f.Leads.Total))
	t.row("Win rate", fmt.Sprintf("%s (%d won, %d lost)", pct(f.WinRate.Rate), f.WinRate.Won, f.WinRate.Lost))
	t.row("Sales cycle", fmt.Sprintf("%s (mean over %s)", days(f.SalesCycle.MeanDays), plural(int(f.SalesCycle.Won), "won deal")))
	t.row("Churn", fmt.Sprintf("%s (%d lost of %d customers at the start)", pct(f.Churn.Rate), f.Churn.Lost, f.Churn.CustomersAtStart))
	n := f.NPS
	score := "-"
	if n.Score != nil {
		score = fmt.Sprintf("%+.0f", *n.Score)
	}
	t.row("NPS", fmt.Sprintf("%s (%s: %d promoters, %d passives, %d detractors)", score, plural(int(n.Responses), "response"), n.Promoters, n.Passives, n.Detractors))
	t.row("Referral rate", fmt.Sprintf("%s (%d of %d new customers referred)", pct(f.Referrals.Rate), f.Referrals.Referred, f.Referrals.New))
	if err := t.flush(); err != nil {
		return err
	}

	if len(f.Leads.BySource) > 0 {
		fmt.Fprintln(w, "\nLEADS BY FIRST-TOUCH SOURCE")
		t = newTable(w, "  SOURCE", "CHANNEL", "LEADS")
		for _, s := range f.Leads.BySource {
			t.row("  "+strp(s.Source), orDash(s.Channel), itoa(s.Leads))
		}
		return t.flush()
	}
	return nil
}

// pct formats a 0..1 rate as a percentage ("-" when undefined).
func pct(r *float64) string {
	if r == nil {
		return "-"
	}
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", *r*100), "0"), ".") + "%"
}

// hours formats a duration in hours: hours under two days, else days.
func hours(h *float64) string {
	switch {
	case h == nil:
		return "-"
	case *h < 48:
		return fmt.Sprintf("%.1fh", *h)
	}
	return fmt.Sprintf("%.1fd", *h/24)
}

func days(d *float64) string {
	if d == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f days", *d)
}
