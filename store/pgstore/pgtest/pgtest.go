// Package pgtest gives tests a fresh, migrated CycleHub database on the
// real PostgreSQL of the dev stack (cloned from a migrated template, so
// each test pays milliseconds, not a migration run).
package pgtest

import (
	"context"
	"testing"

	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// Template is the migrated-schema template.
func Template() testsvc.Template {
	return testsvc.Template{
		Key:     "cyclehub_schema",
		Version: pgstore.MigrationsKey(),
		Prepare: func(ctx context.Context, url string) error {
			_, err := Migrate(ctx, url)
			return err
		},
	}
}

// Migrate opens url and applies the migrations.
func Migrate(ctx context.Context, url string) ([]string, error) {
	cfg := pgstore.DefaultConfig()
	cfg.URL = secret.Secret(url)
	st, err := pgstore.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Migrate(ctx)
}

// URL returns the URL of a fresh migrated database for t.
func URL(t testing.TB) string {
	t.Helper()
	return testsvc.Database(t, Template())
}

// Open returns a store on a fresh migrated database, closed after t.
func Open(t testing.TB) (*pgstore.Store, string) {
	t.Helper()
	url := URL(t)
	cfg := pgstore.DefaultConfig()
	cfg.URL = secret.Secret(url)
	st, err := pgstore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	return st, url
}
