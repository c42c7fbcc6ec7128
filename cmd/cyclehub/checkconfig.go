package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/cyclehub/cyclehub/configs"
)

// runCheckConfig validates a config file offline (no service is contacted)
// and lists every problem with its path.
func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	path, err := configFlag("check-config", args, stderr)
	if err != nil {
		return 2
	}
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
