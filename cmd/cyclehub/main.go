// Command cyclehub is CycleHub's one binary: the daemon (serve) and its
// admin verbs (migrate, check-config, mapping test, rules, version).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `cyclehub — the customer lifecycle integration hub

Usage:
  cyclehub serve        [--config FILE]   run the daemon (migrates first)
  cyclehub migrate      [--config FILE]   apply database migrations and exit
  cyclehub check-config [--config] FILE   validate a config offline; lists every problem
  cyclehub mapping test --source NAME [--config FILE] [--content-type TYPE] [--fetch] request.json
                                          map a sample request offline; print the canonical events
  cyclehub rules backtest --rules DIR [--config FILE] [--list N] [--json]
                                          replay stored history through proposed rules; writes nothing
  cyclehub rules apply [--rules DIR] [--config FILE] [--batch N] [--after ID]
                                          re-score every customer now, online, emitting the events
  cyclehub version                        print the version

The config defaults to configs/cyclehub.yaml. Connection settings can be
overridden with CYCLEHUB_POSTGRES_URL, CYCLEHUB_REDIS_URL,
CYCLEHUB_KAFKA_BROKERS, CYCLEHUB_HTTP_ADDR, CYCLEHUB_OPS_ADDR and
CYCLEHUB_ADMIN_TOKEN.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(rest, stderr)
	case "migrate":
		return runMigrate(rest, stdout, stderr)
	case "check-config":
		return runCheckConfig(rest, stdout, stderr)
	case "mapping":
		return runMapping(rest, stdout, stderr)
	case "rules":
		return runRules(rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "cyclehub: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// configFlag parses the common --config flag; a single positional argument
// is accepted as the file too (check-config FILE).
func configFlag(name string, args []string, stderr io.Writer) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "configs/cyclehub.yaml", "config `file`")
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	switch fs.NArg() {
	case 0:
	case 1:
		*path = fs.Arg(0)
	default:
		return "", fmt.Errorf("unexpected arguments: %q", fs.Args()[1:])
	}
	return *path, nil
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
