package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/configs"
)

func newCheckConfigCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check-config [--config] FILE",
		Short: "validate a config offline; lists every problem",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return codeErr(runCheckConfig(cli(cmd).configPath(a), cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
}

// runCheckConfig validates a config file offline (no service is contacted)
// and lists every problem with its path.
func runCheckConfig(path string, stdout, stderr io.Writer) int {
	if _, err := configs.Load(path, os.LookupEnv); err != nil {
		var errs configs.Errors
		if errors.As(err, &errs) {
			fmt.Fprintf(stderr, "%s: %d problem(s):\n", path, len(errs))
			for _, e := range errs {
				fmt.Fprintf(stderr, "  %s\n", e.Error())
			}
			return 1
		}
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return 0
}
