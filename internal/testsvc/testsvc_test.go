package testsvc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fakeTB records Fatalf/Skipf instead of acting on them; it ends the
// calling goroutine as the real ones do.
type fakeTB struct {
	testing.TB
	mu      sync.Mutex
	fatal   string
	skipped string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.mu.Lock()
	f.skipped = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// inGoroutine runs fn the way a test body runs, so Goexit ends only fn.
func inGoroutine(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

func TestRequire(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			f := &fakeTB{TB: t}
			inGoroutine(func() { Require(f, "widgetdb", "it is on fire") })
			if ci == "true" {
				if f.fatal == "" || f.skipped != "" || !strings.Contains(f.fatal, "widgetdb") || !strings.Contains(f.fatal, "on fire") {
					t.Fatalf("CI=true: fatal=%q skipped=%q; want a failure naming the service and reason", f.fatal, f.skipped)
				}
			} else {
				if f.skipped == "" || f.fatal != "" || !strings.Contains(f.skipped, "make test") {
					t.Fatalf("CI unset: fatal=%q skipped=%q; want a skip with a `make test` hint", f.fatal, f.skipped)
				}
			}
		})
	}
}

func TestRequireMissingEnv(t *testing.T) {
	t.Setenv("CI", "")
	t.Setenv(EnvPostgresURL, "")
	t.Setenv(EnvRedisURL, "")
	f := &fakeTB{TB: t}
	inGoroutine(func() { PostgresURL(f) })
	if !strings.Contains(f.skipped, EnvPostgresURL) {
		t.Errorf("PostgresURL without env: skipped=%q fatal=%q", f.skipped, f.fatal)
	}
	f = &fakeTB{TB: t}
	inGoroutine(func() { RedisURL(f) })
	if !strings.Contains(f.skipped, EnvRedisURL) {
		t.Errorf("RedisURL without env: skipped=%q fatal=%q", f.skipped, f.fatal)
	}
}

func TestFreePort(t *testing.T) {
	port := FreePort(t)
	if port <= 0 || port > 65535 {
		t.Fatalf("FreePort = %d", port)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("port %d from FreePort is not free: %v", port, err)
	}
	ln.Close()
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", redactURL(url), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func databaseExists(t testing.TB, name string) bool {
	t.Helper()
	maint, err := withDatabase(PostgresURL(t), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	conn := connect(t, maint)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func dbName(t testing.TB, url string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

// widgetsTemplate creates a table with one row; prepared counts its runs.
func widgetsTemplate(key string, prepared *int, mu *sync.Mutex) Template {
	return Template{
		Key:     key,
		Version: "v1",
		Prepare: func(ctx context.Context, url string) error {
			mu.Lock()
			*prepared++
			mu.Unlock()
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, `CREATE TABLE widgets (id int PRIMARY KEY, name text NOT NULL);
				INSERT INTO widgets VALUES (1, 'from-template')`)
			return err
		},
	}
}

// dropTemplateAfter removes a test-only template when the test ends.
func dropTemplateAfter(t *testing.T, key string) {
	t.Cleanup(func() {
		maint, _ := withDatabase(PostgresURL(t), "postgres")
		if err := execOnce(context.Background(), maint, "DROP DATABASE IF EXISTS "+ident("tpl_"+key)+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping template: %v", err)
		}
	})
}

func TestDatabase(t *testing.T) {
	PostgresURL(t)
	key := "testsvc_" + randHex(4)
	dropTemplateAfter(t, key)
	var (
		mu       sync.Mutex
		prepared int
	)
	tmpl := widgetsTemplate(key, &prepared, &mu)

	var names []string
	t.Run("clones", func(t *testing.T) {
		a, b := Database(t, tmpl), Database(t, tmpl)
		names = []string{dbName(t, a), dbName(t, b)}
		if names[0] == names[1] {
			t.Fatalf("Database returned the same database twice: %s", names[0])
		}
		ca, cb := connect(t, a), connect(t, b)
		ctx := context.Background()
		for _, c := range []*pgx.Conn{ca, cb} {
			var name string
			if err := c.QueryRow(ctx, "SELECT name FROM widgets WHERE id = 1").Scan(&name); err != nil || name != "from-template" {
				t.Fatalf("clone lacks the template's row: %q, %v", name, err)
			}
		}
		if _, err := ca.Exec(ctx, "INSERT INTO widgets VALUES (2, 'only-in-a')"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := cb.QueryRow(ctx, "SELECT count(*) FROM widgets").Scan(&n); err != nil || n != 1 {
			t.Fatalf("second database sees %d rows (%v); databases are not independent", n, err)
		}
	})
	for _, name := range names {
		if databaseExists(t, name) {
			t.Errorf("database %s still exists after its test ended", name)
		}
	}
	if !databaseExists(t, "tpl_"+key) {
		t.Errorf("template tpl_%s does not exist", key)
	}

	// Many concurrent clones of one template: Prepare still runs once.
	t.Run("parallel", func(t *testing.T) {
		for i := range 8 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				conn := connect(t, Database(t, tmpl))
				var n int
				if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM widgets").Scan(&n); err != nil || n != 1 {
					t.Errorf("count = %d, %v", n, err)
				}
			})
		}
	})
	if prepared != 1 {
		t.Errorf("Prepare ran %d times, want 1", prepared)
	}
}

// A template left half-prepared (no completion mark, as after a crash) is
// dropped and rebuilt; so is one built for another Version.
func TestDatabaseRebuildsIncompleteTemplate(t *testing.T) {
	base := PostgresURL(t)
	key := "testsvc_" + randHex(4)
	tplName := "tpl_" + key
	dropTemplateAfter(t, key)
	maint, _ := withDatabase(base, "postgres")
	ctx := context.Background()
	if err := execOnce(ctx, maint, "CREATE DATABASE "+ident(tplName)); err != nil {
		t.Fatal(err)
	}
	tplURL, _ := withDatabase(base, tplName)
	if err := execOnce(ctx, tplURL, "CREATE TABLE junk (x int)"); err != nil {
		t.Fatal(err)
	}

	var (
		mu       sync.Mutex
		prepared int
	)
	tmpl := widgetsTemplate(key, &prepared, &mu)
	conn := connect(t, Database(t, tmpl))
	var junk, widgets bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass('junk') IS NOT NULL, to_regclass('widgets') IS NOT NULL").Scan(&junk, &widgets); err != nil {
		t.Fatal(err)
	}
	if junk || !widgets || prepared != 1 {
		t.Fatalf("junk=%v widgets=%v prepared=%d; want the incomplete template rebuilt", junk, widgets, prepared)
	}

	// Another Version rebuilds it again (new process-level cache key).
	tmpl.Version = "v2"
	Database(t, tmpl)
	if prepared != 2 {
		t.Fatalf("Prepare ran %d times after a Version change, want 2", prepared)
	}
}

// Prepare leaving a connection open must not break cloning.
func TestDatabaseTerminatesLeakedConnections(t *testing.T) {
	PostgresURL(t)
	key := "testsvc_" + randHex(4)
	dropTemplateAfter(t, key)
	var leaked *pgx.Conn
	t.Cleanup(func() {
		if leaked != nil {
			leaked.Close(context.Background())
		}
	})
	tmpl := Template{Key: key, Prepare: func(ctx context.Context, url string) error {
		var err error
		leaked, err = pgx.Connect(ctx, url) // deliberately left open
		if err != nil {
			return err
		}
		_, err = leaked.Exec(ctx, "CREATE TABLE t (x int)")
		return err
	}}
	conn := connect(t, Database(t, tmpl))
	if _, err := conn.Exec(context.Background(), "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
}

func TestDatabaseFailedPrepare(t *testing.T) {
	PostgresURL(t)
	key := "testsvc_" + randHex(4)
	dropTemplateAfter(t, key)
	f := &fakeTB{TB: t}
	inGoroutine(func() {
		Database(f, Template{Key: key, Prepare: func(context.Context, string) error { return errors.New("boom") }})
	})
	if !strings.Contains(f.fatal, "boom") {
		t.Fatalf("fatal = %q, want the Prepare error", f.fatal)
	}
	if databaseExists(t, "tpl_"+key) {
		t.Fatalf("a template whose Prepare failed was kept")
	}
}

func TestHashFS(t *testing.T) {
	a := HashFS(fstest.MapFS{"001.sql": {Data: []byte("CREATE TABLE a()")}})
	b := HashFS(fstest.MapFS{"001.sql": {Data: []byte("CREATE TABLE b()")}})
	if a == b || len(a) != 16 {
		t.Fatalf("HashFS: %q, %q", a, b)
	}
	if a != HashFS(fstest.MapFS{"001.sql": {Data: []byte("CREATE TABLE a()")}}) {
		t.Fatal("HashFS is not deterministic")
	}
}

func TestRedisURL(t *testing.T) {
	url, _ := RedisURL(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()

	_, other := RedisURL(t) // another test's prefix: must survive
	if err := rdb.Set(ctx, other+"keep", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}

	var prefix string
	t.Run("inner", func(t *testing.T) {
		_, prefix = RedisURL(t)
		if !strings.HasPrefix(prefix, "test:") || !strings.HasSuffix(prefix, ":") {
			t.Fatalf("prefix %q", prefix)
		}
		if prefix == other {
			t.Fatalf("two tests got the same prefix %q", prefix)
		}
		for i := range 2500 { // more than one SCAN page
			if err := rdb.Set(ctx, fmt.Sprintf("%sk%d", prefix, i), "v", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
	})
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) != 0 {
		t.Fatalf("after cleanup %d keys with %s remain (%v)", len(keys), prefix, err)
	}
	if n, err := rdb.Exists(ctx, other+"keep").Result(); err != nil || n != 1 {
		t.Fatalf("cleanup deleted another prefix's key (%d, %v)", n, err)
	}
}

func TestKafka(t *testing.T) {
	_, addrs := Kafka(t, kfake.SeedTopics(2, "events"))
	if len(addrs) != 1 || !strings.HasPrefix(addrs[0], "127.0.0.1:") {
		t.Fatalf("addrs = %v, want one 127.0.0.1 broker", addrs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	prod, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordRetries(2), kgo.UnknownTopicRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := range 10 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "events", Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf("v%d", i))}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	// Topics are not created on demand.
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "nope", Value: []byte("x")}).FirstErr(); err == nil {
		t.Fatal("produce to a topic that was never created succeeded")
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("events"),
		kgo.ConsumerGroup("testsvc"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	got := map[string]bool{}
	for len(got) < 10 {
		fetches := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 10 records: %v", len(got), err)
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
}

// kcat (librdkafka, installed by scripts/devstack.sh) interoperates with a
// testsvc cluster.
func TestKafkaWithKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		Require(t, "kcat", "not on PATH (scripts/devstack.sh up installs it)")
	}
	_, addrs := Kafka(t, kfake.SeedTopics(1, "kc"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, "-b", addrs[0], "-P", "-t", "kc", "-X", "message.timeout.ms=10000")
	cmd.Stdin = strings.NewReader("one\ntwo\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce: %v\n%s", err, out)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics("kc"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var vals []string
	for len(vals) < 2 {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("got %q: %v", vals, err)
		}
		fetches.EachRecord(func(r *kgo.Record) { vals = append(vals, string(r.Value)) })
	}
	if strings.Join(vals, ",") != "one,two" {
		t.Fatalf("consumed %q", vals)
	}
}

func TestStartPostgres(t *testing.T) {
	pg := StartPostgres(t)
	url := pg.URL()
	if !strings.HasPrefix(url, "postgres://postgres@127.0.0.1:") {
		t.Fatalf("URL = %q", url)
	}
	ctx := context.Background()
	ping := func() error {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		return conn.Ping(ctx)
	}

	conn := connect(t, url)
	if _, err := conn.Exec(ctx, "CREATE TABLE durable (x int); INSERT INTO durable VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	var listen string
	if err := conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&listen); err != nil || listen != "127.0.0.1" {
		t.Fatalf("listen_addresses = %q, %v", listen, err)
	}

	pg.Stop()
	if err := ping(); err == nil {
		t.Fatal("server still reachable after Stop")
	}
	if err := conn.Ping(ctx); err == nil {
		t.Fatal("existing connection still works after Stop")
	}
	pg.Stop() // idempotent

	pg.Start()
	if err := ping(); err != nil {
		t.Fatalf("server unreachable after Start: %v", err)
	}
	conn2 := connect(t, url)
	var x int
	if err := conn2.QueryRow(ctx, "SELECT x FROM durable").Scan(&x); err != nil || x != 42 {
		t.Fatalf("committed row lost across an immediate stop: %d, %v", x, err)
	}
	pg.Start() // idempotent

	if os.Geteuid() == 0 {
		st, err := os.Stat(pg.dir)
		if err != nil || st.Mode().Perm() != 0o755 {
			t.Fatalf("instance dir %s: %v %v", pg.dir, st.Mode(), err)
		}
	}
}

func TestStartPostgresCleanup(t *testing.T) {
	var dir string
	var port int
	t.Run("inner", func(t *testing.T) {
		pg := StartPostgres(t)
		dir, port = pg.dir, pg.Port()
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("instance dir %s still exists: %v", dir, err)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
		c.Close()
		t.Errorf("port %d still accepts connections after cleanup", port)
	}
}

// A fixed Key shared by every run, so concurrently running test processes
// (go test ./..., -count, several go test invocations) meet on one template
// and its advisory lock.
func TestDatabaseSharedTemplate(t *testing.T) {
	PostgresURL(t)
	tmpl := Template{Key: "testsvc_shared", Version: "1", Prepare: func(ctx context.Context, url string) error {
		time.Sleep(200 * time.Millisecond) // widen the window for races
		return execOnce(ctx, url, "CREATE TABLE shared (x int)")
	}}
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			if err := execOnce(context.Background(), Database(t, tmpl), "INSERT INTO shared VALUES (1)"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSweepStaleTestDBs(t *testing.T) {
	base := PostgresURL(t)
	maint, _ := withDatabase(base, "postgres")
	ctx := context.Background()
	stale := "t_1000000000_" + randHex(4)
	fresh := fmt.Sprintf("t_%d_%s", time.Now().Unix(), randHex(4))
	for _, name := range []string{stale, fresh} {
		if err := execOnce(ctx, maint, "CREATE DATABASE "+ident(name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = execOnce(ctx, maint, "DROP DATABASE IF EXISTS "+ident(fresh)) })
	sweepStaleTestDBs(ctx, t, connect(t, maint))
	if databaseExists(t, stale) {
		t.Errorf("stale test database %s survived the sweep", stale)
	}
	if !databaseExists(t, fresh) {
		t.Errorf("the sweep dropped a fresh test database %s", fresh)
	}
}

func TestSweepStaleInstances(t *testing.T) {
	bindir, err := pgBinDir()
	if err != nil {
		Require(t, "postgres server binaries", err.Error())
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(pid int) string {
		dir, err := os.MkdirTemp("", "testsvc-pg-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.WriteFile(dir+"/owner.pid", []byte(fmt.Sprint(pid)), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	orphan, live := mk(dead.Process.Pid), mk(os.Getpid())
	sweepStaleInstances(bindir, nil)
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphaned instance dir %s survived: %v", orphan, err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("live instance dir %s was removed: %v", live, err)
	}
}
