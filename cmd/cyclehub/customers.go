package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/internal/adminclient"
)

func newCustomersCmd() *cobra.Command {
	get := &cobra.Command{
		Use:   "get ID",
		Short: "show one customer: stage, scores, traits, identities, stage history",
		Long: `Show one customer. A merged id shows the record that holds the person now;
an erased one says so. --json prints the whole record as the API answers it.`,
		Example: `  cyclehub customers get 01a22703-8e77-781c-a140-9198a1e37b7c
  cyclehub customers get 01a22703-8e77-781c-a140-9198a1e37b7c --json | jq .scores`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			g := cli(cmd)
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			cust, err := c.GetCustomer(ctx, a[0])
			if err != nil {
				return err
			}
			return g.showCustomer(cmd.OutOrStdout(), cust)
		},
	}

	lookup := map[string]*string{}
	search := &cobra.Command{
		Use:   "search (--email E | --phone P | --user-id U | --external-id X | --anonymous-id A)",
		Short: "find the customer holding an identifier",
		Long: `Find the customer holding one identifier. Emails and phone numbers are
normalized as on ingest (national numbers are read in the daemon's
admin.default_region).`,
		Example: `  cyclehub customers search --email ana.lima@example.com
  cyclehub customers search --phone '+55 11 98765-4321' --json | jq -r .id`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var l adminclient.Lookup
			for _, typ := range adminclient.LookupTypes {
				if v := *lookup[typ]; v != "" {
					if l.Type != "" {
						return usagef("give one identifier, not --%s and --%s", flagName(l.Type), flagName(typ))
					}
					l = adminclient.Lookup{Type: typ, Value: v}
				}
			}
			if l.Type == "" {
				return usagef("give an identifier: --email, --phone, --user-id, --external-id or --anonymous-id")
			}
			g := cli(cmd)
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, stop := interruptible(cmd)
			defer stop()
			cust, err := c.FindCustomer(ctx, l)
			if err != nil {
				return err
			}
			return g.showCustomer(cmd.OutOrStdout(), cust)
		},
	}
	for _, typ := range adminclient.LookupTypes {
		lookup[typ] = search.Flags().String(flagName(typ), "", "find by this `"+strings.ToUpper(typ)+"`")
	}
	return group("customers", "read unified customer records", get, search)
}

// flagName is the flag of a lookup type: user_id → user-id.
func flagName(typ string) string { return strings.ReplaceAll(typ, "_", "-") }

func (g *globals) showCustomer(w io.Writer, c *adminclient.Customer) error {
	if g.json {
		return printRaw(w, c.Raw)
	}
	t := newTable(w)
	t.row("ID", c.ID)
	t.row("Version", itoa(c.Version))
	stage := strp(c.Stage)
	if c.StageEnteredAt != nil {
		stage += " (since " + tsp(c.StageEnteredAt) + ")"
	}
	t.row("Stage", stage)
	t.row("Customer status", strp(c.Status))
	s := c.Scores
	t.row("Scores", fmt.Sprintf("fit %s  engagement %s  health %s (%s)  band %s  nps %s",
		num(s.Fit), num(s.Engagement), num(s.Health), orDash(s.HealthZone), orDash(s.Band), orDash(s.NPSCategory)))
	t.row("Created", ts(c.CreatedAt))
	t.row("Updated", ts(c.UpdatedAt))
	for _, k := range []string{"first_touch", "last_touch"} {
		if touch := c.Attribution[k]; touch != nil {
			t.row(strings.ToUpper(k[:1])+strings.ReplaceAll(k[1:], "_", " "), touchLine(touch))
		}
	}
	t.row("Referred by", strp(c.ReferredBy))
	t.row("Referrals", fmt.Sprint(c.ReferralCount))
	t.row("Also", fmt.Sprintf("%s, %s, %s (--json shows them)",
		plural(len(c.Merges), "merge"), plural(len(c.Tickets), "ticket"), plural(len(c.Responses), "survey response")))
	if err := t.flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nTRAITS")
	t = newTable(w)
	for _, k := range slices.Sorted(maps.Keys(c.Traits)) {
		t.row("  "+k, c.Traits[k])
	}
	if err := t.flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\nIDENTITIES")
	t = newTable(w, "  TYPE", "VALUE", "SOURCE", "FIRST SEEN", "LAST SEEN")
	for _, i := range c.Identities {
		t.row("  "+i.Type, i.Value, i.Source, ts(i.FirstSeen), ts(i.LastSeen))
	}
	if err := t.flush(); err != nil {
		return err
	}

	if len(c.StageHistory) > 0 {
		fmt.Fprintln(w, "\nSTAGE HISTORY")
		t = newTable(w, "  STAGE", "ENTERED", "EXITED", "DIRECTION", "RULE")
		for _, st := range c.StageHistory {
			rule := orDash(st.RuleID)
			if st.Reason != "" {
				rule += " (" + st.Reason + ")"
			}
			t.row("  "+st.Stage, ts(st.EnteredAt), tsp(st.ExitedAt), orDash(st.Direction), rule)
		}
		return t.flush()
	}
	return nil
}

// touchLine is source / medium / campaign (channel) at time.
func touchLine(touch map[string]any) string {
	str := func(k string) string { s, _ := touch[k].(string); return s }
	parts := []string{}
	for _, k := range []string{"source", "medium", "campaign"} {
		if v := str(k); v != "" {
			parts = append(parts, v)
		}
	}
	line := strings.Join(parts, " / ")
	if line == "" {
		line = orDash(str("cyclehub_source"))
	}
	if ch := str("channel"); ch != "" {
		line += " (" + ch + ")"
	}
	if at, err := time.Parse(time.RFC3339Nano, str("at")); err == nil {
		line += " at " + ts(at)
	}
	return line
}
