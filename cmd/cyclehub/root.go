package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/internal/adminclient"
)

const rootLong = `cyclehub — the customer lifecycle integration hub

One binary: the daemon (serve), offline tools that read the config and
the database (migrate, check-config, mapping test, rules, import), and a
client of the daemon's admin API (customers, timeline, replay, dlq,
quarantine, funnel, export). Admin commands print tables; --json prints
the API's JSON.

The config defaults to configs/cyclehub.yaml. Connection settings can be
overridden with CYCLEHUB_POSTGRES_URL, CYCLEHUB_REDIS_URL,
CYCLEHUB_KAFKA_BROKERS, CYCLEHUB_HTTP_ADDR, CYCLEHUB_OPS_ADDR and
CYCLEHUB_ADMIN_TOKEN. Admin commands call --api (CYCLEHUB_API_URL, default
` + adminclient.DefaultBaseURL + `) with --token (CYCLEHUB_ADMIN_TOKEN); with
--config FILE they read both from that config instead.
See docs/cli.md.`

// usageTemplate is cobra's, with a command that only holds subcommands
// shown by its subcommands alone, and two spaces before each summary.
const usageTemplate = `Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}{{if eq (len .Groups) 0}}

Available Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }}  {{.Short}}{{end}}{{end}}{{else}}{{range $group := .Groups}}

{{.Title}}{{range $cmds}}{{if (and (eq .GroupID $group.ID) (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }}  {{.Short}}{{end}}{{end}}{{end}}{{if not .AllChildCommandsHaveGroup}}

Additional Commands:{{range $cmds}}{{if (and (eq .GroupID "") (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }}  {{.Short}}{{end}}{{end}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

// globals are the root's persistent flags and the process's streams.
type globals struct {
	env *cliEnv
	// config is --config; configSet says it was given (admin commands
	// then read the API address and token from it).
	config    string
	configSet bool
	api       string
	token     string
	json      bool
	quiet     bool
	timeout   time.Duration
}

// configFlag is --config: it records that it was given.
type configFlag struct{ g *globals }

func (f *configFlag) Set(s string) error { f.g.config, f.g.configSet = s, true; return nil }
func (f *configFlag) String() string {
	if f.g == nil {
		return ""
	}
	return f.g.config
}
func (f *configFlag) Type() string { return "string" }

type globalsKey struct{}

func withGlobals(ctx context.Context, g *globals) context.Context {
	return context.WithValue(ctx, globalsKey{}, g)
}

// cli returns the globals of the command line cmd runs in.
func cli(cmd *cobra.Command) *globals {
	return cmd.Context().Value(globalsKey{}).(*globals)
}

func newRootCmd(env *cliEnv) (*cobra.Command, *globals) {
	g := &globals{env: env}
	root := &cobra.Command{
		Use:           "cyclehub",
		Short:         "the customer lifecycle integration hub",
		Long:          rootLong,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRun,
	}
	root.SetIn(env.stdin)
	root.SetOut(env.stdout)
	root.SetErr(env.stderr)
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	g.config = "configs/cyclehub.yaml"
	pf.Var(&configFlag{g}, "config", "config `FILE` (admin commands: read the API address and token from it)")
	pf.StringVar(&g.api, "api", "", "admin API `URL` (default $CYCLEHUB_API_URL, else "+adminclient.DefaultBaseURL+")")
	pf.StringVar(&g.token, "token", "", "admin API bearer `token` (default $CYCLEHUB_ADMIN_TOKEN)")
	pf.BoolVar(&g.json, "json", false, "print JSON (the API's answer) instead of a table")
	pf.BoolVarP(&g.quiet, "quiet", "q", false, "no progress bars or summaries on stderr")
	pf.DurationVar(&g.timeout, "timeout", adminclient.DefaultTimeout, "admin API: how long to wait for an answer")

	root.AddGroup(
		&cobra.Group{ID: "daemon", Title: "Daemon and offline commands:"},
		&cobra.Group{ID: "admin", Title: "Admin API commands:"},
	)
	for _, c := range []*cobra.Command{newServeCmd(), newMigrateCmd(), newCheckConfigCmd(), newMappingCmd(), newRulesCmd(), newImportCmd(), newVersionCmd()} {
		c.GroupID = "daemon"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newCustomersCmd(), newTimelineCmd(), newReplayCmd(), newDLQCmd(), newQuarantineCmd(), newFunnelCmd(), newExportCmd()} {
		c.GroupID = "admin"
		root.AddCommand(c)
	}
	return root, g
}

// groupRun runs a command that only holds subcommands (the root, rules,
// customers, …): bare, it prints its usage; with an unknown verb, it says
// so. Both are usage errors.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return &usageError{}
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	cmd.SuggestionsMinimumDistance = 2
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usagef("%s", msg)
}

// group is a command that holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: groupRun}
	c.AddCommand(subs...)
	return c
}

// args wraps a positional-argument check so its failure is a usage error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := check(cmd, a); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

// configPath is the config file a command reads: a positional FILE, else
// --config.
func (g *globals) configPath(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return g.config
}
