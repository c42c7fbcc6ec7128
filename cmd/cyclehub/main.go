// Command cyclehub is CycleHub's one binary: the daemon (serve), its
// offline verbs (migrate, check-config, mapping test, rules, version) and
// the admin API's command line (customers, timeline, replay, dlq,
// quarantine, funnel, export). docs/cli.md is the reference.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code: 0 ok, 1
// failure, 2 usage. stdin is the process's; the streams are terminals
// only when they are the process's own.
func run(args []string, stdout, stderr io.Writer) int {
	return execute(args, &cliEnv{
		stdin: os.Stdin, stdout: stdout, stderr: stderr,
		stdinTTY: isTerminal(os.Stdin), stderrTTY: isTerminal(stderr),
		lookupEnv: os.LookupEnv,
	})
}

// cliEnv is what a command line sees of its process.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stdinTTY: confirmations may be asked; stderrTTY: progress bars may
	// be drawn.
	stdinTTY, stderrTTY bool
	lookupEnv           func(string) (string, bool)
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// usageError ends a command with exit code 2 and its usage on stderr; a
// nil err prints the usage alone.
type usageError struct{ err error }

func (e *usageError) Error() string {
	if e.err == nil {
		return "usage"
	}
	return e.err.Error()
}

func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

// exitCode ends a command that has already said why, with that code.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

// codeErr turns the exit code of a command that reports on its own into
// the error cobra expects.
func codeErr(code int) error {
	if code == 0 {
		return nil
	}
	return exitCode(code)
}

func execute(args []string, env *cliEnv) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-v") {
		args = append([]string{"version"}, args[1:]...)
	}
	root, g := newRootCmd(env)
	root.SetArgs(normalizeArgs(root, args))
	cmd, err := root.ExecuteContextC(withGlobals(context.Background(), g))
	if err == nil {
		return 0
	}
	if cmd == nil {
		cmd = root
	}
	var ue *usageError
	var code exitCode
	switch {
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &ue):
		if ue.err != nil {
			fmt.Fprintf(env.stderr, "%s: %v\n\n", cmd.CommandPath(), ue.err)
		}
		fmt.Fprint(env.stderr, cmd.UsageString())
		return 2
	default:
		fmt.Fprintf(env.stderr, "%s: %v\n", cmd.CommandPath(), hint(err))
		return 1
	}
}

// normalizeArgs accepts the single-dash long flags Go's flag package took
// (-config FILE, -source=NAME): each known long flag name is rewritten to
// its double-dash form. One-letter shorthands (-o, -q) are left as they are.
func normalizeArgs(root *cobra.Command, args []string) []string {
	long := map[string]bool{"help": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			name, _, _ := strings.Cut(a[1:], "=")
			if len(name) > 1 && long[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}

// signalContext is cancelled by the first SIGINT or SIGTERM (graceful
// shutdown); a second signal exits at once.
func signalContext(onForce func()) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ch
		cancel()
		<-ch
		onForce()
		os.Exit(1)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}
