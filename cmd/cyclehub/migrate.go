package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

func newMigrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate [--config FILE]",
		Short: "apply database migrations and exit",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return codeErr(runMigrate(cli(cmd).configPath(a), cmd.OutOrStdout(), cmd.ErrOrStderr()))
		},
	}
}

func runMigrate(path string, stdout, stderr io.Writer) int {
	cfg, err := configs.Load(path, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "%s:\n%v\n", path, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := pgstore.Open(ctx, cfg.Postgres)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer st.Close()
	applied, err := st.Migrate(ctx)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "migrate: schema is up to date")
	} else {
		fmt.Fprintf(stdout, "migrate: applied %s\n", strings.Join(applied, ", "))
	}
	return 0
}
