package testsvc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Template describes a template database that [Database] clones.
type Template struct {
	// Key names the template database "tpl_<Key>". It must match
	// [a-z0-9_]{1,50}. One Key must always mean the same Prepare (and
	// Version), also across packages whose tests run concurrently.
	Key string
	// Prepare fills the freshly created, empty template database at url
	// (e.g. runs migrations). It must close every connection it opens;
	// leftovers are terminated afterwards. Prepare runs at most once per
	// PostgreSQL server for a given Key and Version (the template outlives
	// the test run), under a lock shared by all test processes.
	Prepare func(ctx context.Context, url string) error
	// Version is optional. A template built for another Version is dropped
	// and rebuilt, so set it to something that changes with what Prepare
	// creates, e.g. HashFS(migrations). Without it a template, once built,
	// is reused until it is dropped by hand.
	Version string
}

var (
	templateKeyRE = regexp.MustCompile(`^[a-z0-9_]{1,50}$`)
	testDBRE      = regexp.MustCompile(`^t_([0-9]+)_[0-9a-f]+$`)

	reachableMu sync.Mutex
	reachable   = map[string]bool{} // PostgreSQL URLs that answered

	templateMu    sync.Mutex          // serializes template checks in this process
	templateReady = map[string]bool{} // base URL + template + version → ready
	sweptServers  = map[string]bool{} // base URLs whose stale test databases were dropped
)

// staleTestDBAge is how old a leftover test database (from a killed test
// process) must be before Database drops it.
const staleTestDBAge = 24 * time.Hour

// PostgresURL returns the base PostgreSQL URL from CYCLEHUB_POSTGRES_URL,
// after checking that the server answers. Unset or unreachable: see
// [Require].
func PostgresURL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv(EnvPostgresURL)
	if raw == "" {
		Require(t, "postgres", EnvPostgresURL+" is not set")
	}
	reachableMu.Lock()
	ok := reachable[raw]
	reachableMu.Unlock()
	if ok {
		return raw
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		Require(t, "postgres", fmt.Sprintf("connecting to %s: %v", redactURL(raw), err))
	}
	_ = conn.Close(ctx)
	reachableMu.Lock()
	reachable[raw] = true
	reachableMu.Unlock()
	return raw
}

// Database returns the URL of a new database for this test, cloned with
// CREATE DATABASE ... TEMPLATE tpl_<Key> from the template tmpl describes.
// The template is created and prepared once if it does not exist (or is
// incomplete, or has another Version); the clone is dropped WITH (FORCE)
// when the test ends. Database names are "t_<unix seconds>_<random hex>";
// leftovers older than a day (from killed test processes) are dropped.
func Database(t testing.TB, tmpl Template) string {
	t.Helper()
	base := PostgresURL(t)
	if !templateKeyRE.MatchString(tmpl.Key) {
		t.Fatalf("testsvc: template key %q must match %s", tmpl.Key, templateKeyRE)
	}
	if tmpl.Prepare == nil {
		t.Fatalf("testsvc: template %q has no Prepare function", tmpl.Key)
	}
	tplName := "tpl_" + tmpl.Key
	maint, err := withDatabase(base, "postgres")
	if err != nil {
		t.Fatalf("testsvc: %s: %v", EnvPostgresURL, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := ensureTemplate(ctx, t, base, maint, tplName, tmpl); err != nil {
		t.Fatalf("testsvc: template %s: %v", tplName, err)
	}

	name := fmt.Sprintf("t_%d_%s", time.Now().Unix(), randHex(6))
	if err := cloneDatabase(ctx, maint, name, tplName); err != nil {
		t.Fatalf("testsvc: creating database %s from %s: %v", name, tplName, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := execOnce(ctx, maint, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("testsvc: dropping database %s: %v", name, err)
		}
	})
	u, err := withDatabase(base, name)
	if err != nil {
		t.Fatalf("testsvc: %v", err)
	}
	return u
}

// ensureTemplate makes sure tplName exists and is complete. Across processes
// the work is guarded by an advisory lock held on a connection to the
// maintenance database; completion is marked with a database comment.
func ensureTemplate(ctx context.Context, t testing.TB, base, maint, tplName string, tmpl Template) error {
	templateMu.Lock()
	defer templateMu.Unlock()
	cacheKey := base + "\x00" + tplName + "\x00" + tmpl.Version
	if templateReady[cacheKey] {
		return nil
	}

	conn, err := pgx.Connect(ctx, maint)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background()) // also releases the advisory lock

	if !sweptServers[base] {
		sweepStaleTestDBs(ctx, t, conn)
		sweptServers[base] = true
	}

	h := fnv.New64a()
	_, _ = h.Write([]byte("cyclehub/testsvc/template/" + tplName)) // a hash.Hash never fails to write
	// #nosec G115 -- the hash's 64 bits reinterpreted as a lock id: wrapping is intended
	lockKey := int64(h.Sum64())
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
		return fmt.Errorf("advisory lock: %w", err)
	}

	marker := "testsvc: template complete; version=" + tmpl.Version
	var comment *string
	err = conn.QueryRow(ctx,
		"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
		tplName).Scan(&comment)
	switch {
	case err == nil && comment != nil && *comment == marker:
		templateReady[cacheKey] = true
		return nil
	case err == nil:
		got := "<none>"
		if comment != nil {
			got = *comment
		}
		t.Logf("testsvc: rebuilding template %s (comment %q, want %q)", tplName, got, marker)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(tplName)+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("dropping incomplete template: %w", err)
		}
	case errors.Is(err, pgx.ErrNoRows):
	default:
		return err
	}

	start := time.Now()
	if err := retryInUse(ctx, func() error {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+ident(tplName))
		return err
	}); err != nil {
		return fmt.Errorf("creating: %w", err)
	}
	tplURL, err := withDatabase(base, tplName)
	if err != nil {
		return err
	}
	if err := tmpl.Prepare(ctx, tplURL); err != nil {
		_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident(tplName)+" WITH (FORCE)")
		return fmt.Errorf("preparing: %w", err)
	}
	// A template cannot be cloned while anyone is connected to it.
	var leftover int
	if err := conn.QueryRow(ctx,
		`SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
		 WHERE datname = $1 AND pid <> pg_backend_pid()`, tplName).Scan(&leftover); err != nil {
		return fmt.Errorf("closing connections to template: %w", err)
	}
	if leftover > 0 {
		t.Logf("testsvc: Prepare for %s left %d connection(s) open; terminated them", tplName, leftover)
	}
	if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+ident(tplName)+" IS "+literal(marker)); err != nil {
		return fmt.Errorf("marking complete: %w", err)
	}
	t.Logf("testsvc: prepared template %s in %v", tplName, time.Since(start).Round(time.Millisecond))
	templateReady[cacheKey] = true
	return nil
}

func cloneDatabase(ctx context.Context, maint, name, tplName string) error {
	conn, err := pgx.Connect(ctx, maint)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return retryInUse(ctx, func() error {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(tplName))
		return err
	})
}

// retryInUse retries fn for up to 20 s while it fails with object_in_use
// ("source database ... is being accessed by other users").
func retryInUse(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(20 * time.Second)
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		err := fn()
		var pgErr *pgconn.PgError
		if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
	}
}

// sweepStaleTestDBs drops test databases left behind by killed test
// processes. Failures are only logged.
func sweepStaleTestDBs(ctx context.Context, t testing.TB, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'")
	if err != nil {
		t.Logf("testsvc: listing stale test databases: %v", err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Logf("testsvc: listing stale test databases: %v", err)
		return
	}
	for _, name := range names {
		m := testDBRE.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		sec, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || time.Since(time.Unix(sec, 0)) < staleTestDBAge {
			continue
		}
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Logf("testsvc: dropping stale test database %s: %v", name, err)
		}
	}
}

// execOnce runs one statement on a fresh connection to url.
func execOnce(ctx context.Context, url, sql string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase returns base with its database name replaced by name.
func withDatabase(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%q is not a postgres:// URL", redactURL(base))
	}
	u.Path = "/" + name
	u.RawPath = ""
	return u.String(), nil
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}

func ident(s string) string   { return pgx.Identifier{s}.Sanitize() }
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// HashFS returns a short hash of every file name and content in fsys, for
// Template.Version (e.g. HashFS(migrations.FS) rebuilds the template when
// a migration changes). It panics if fsys cannot be read, which does not
// happen with an embed.FS.
func HashFS(fsys fs.FS) string {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("testsvc.HashFS: %v", err))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
