package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
	"github.com/cyclehub/cyclehub/webhooks"
)

const testAdminToken = "test-admin-token-0123456789"

// daemon is a CycleHub running in process on ephemeral loopback ports.
type daemon struct {
	t        testing.TB
	cfg      *configs.Config
	httpAddr string
	opsAddr  string
	cancel   context.CancelFunc
	done     chan error
	reloads  chan struct{}
}

// reload asks the daemon to reload its mappings (as SIGHUP does) and
// returns once it has: the second send waits for the first reload to end.
func (d *daemon) reload() {
	d.reloads <- struct{}{}
	d.reloads <- struct{}{}
}

// testConfig is a config on the test's own database, Redis and Kafka.
func testConfig(t testing.TB, pgURL string, brokers []string) *configs.Config {
	t.Helper()
	cfg := configs.Default()
	cfg.Postgres.URL = secret.Secret(pgURL)
	redisURL, prefix := testsvc.RedisURL(t)
	cfg.Redis.URL = secret.Secret(redisURL)
	cfg.Redis.KeyPrefix = prefix
	cfg.Kafka.Brokers = brokers
	cfg.Kafka.Partitions = 3
	cfg.Admin.Token = testAdminToken
	cfg.Privacy.SuppressionKey = "test-suppression-key-0123"
	cfg.Pipeline.PollInterval = 50 * time.Millisecond
	cfg.Relay.PollInterval = 50 * time.Millisecond
	cfg.Sources = map[string]webhooks.SourceConfig{
		"form":    {Provider: "form", DefaultRegion: "BR"},
		"secured": {Provider: "form", Token: "form-token-0123456789"},
	}
	cfg.Log.Level = "warn"
	specs, err := configs.LoadMappings("../../configs/mappings")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mappings = specs
	cfg.RulesDir = "../../configs/rules"
	if cfg.Rules, err = configs.LoadRules(cfg.RulesDir); err != nil {
		t.Fatal(err)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("test config invalid: %v", errs)
	}
	return &cfg
}

func startDaemon(t testing.TB, cfg *configs.Config) *daemon {
	t.Helper()
	return startDaemonAt(t, cfg, nil)
}

// startDaemonAt runs the daemon with a clock (nil: the real one).
func startDaemonAt(t testing.TB, cfg *configs.Config, now func() time.Time) *daemon {
	t.Helper()
	logger := logrus.New()
	logger.SetOutput(testLogWriter{t})
	logger.SetLevel(logrus.WarnLevel)
	return startDaemonWith(t, cfg, now, logger)
}

// startDaemonWith runs the daemon with a clock (nil: the real one) and
// its logger.
func startDaemonWith(t testing.TB, cfg *configs.Config, now func() time.Time, logger *logrus.Logger) *daemon {
	t.Helper()
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &daemon{t: t, cfg: cfg, cancel: cancel, done: make(chan error, 1), reloads: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		d.done <- serve(ctx, cfg, logger, serveOptions{
			httpListener: httpLn, opsListener: opsLn,
			ready:  func(h, o string) { d.httpAddr, d.opsAddr = h, o; close(ready) },
			now:    now,
			reload: d.reloads,
		})
	}()
	select {
	case <-ready:
	case err := <-d.done:
		t.Fatalf("daemon exited before serving: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not start within 30s")
	}
	t.Cleanup(d.stop)
	return d
}

func (d *daemon) stop() {
	d.cancel()
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Errorf("daemon stopped with error: %v", err)
		}
	case <-time.After(60 * time.Second):
		d.t.Error("daemon did not stop within 60s")
	}
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// post sends a webhook and returns the status and decoded JSON answer.
func (d *daemon) post(path, contentType, body string) (int, map[string]string) {
	d.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+d.httpAddr+path, strings.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(d.t, req)
}

func do(t testing.TB, req *http.Request) (int, map[string]string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// customer reads GET /v1/customers?email=.
func (d *daemon) customer(email string) (int, map[string]any) {
	d.t.Helper()
	return d.admin("/v1/customers?email=" + url.QueryEscape(email))
}

// admin GETs an admin API path and decodes the JSON answer.
func (d *daemon) admin(path string) (int, map[string]any) {
	d.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.httpAddr+path, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// adminPost POSTs a JSON body to an admin API path.
func (d *daemon) adminPost(path, body string) (int, map[string]any) {
	d.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+d.httpAddr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// waitCustomer polls the admin API until the customer exists.
func (d *daemon) waitCustomer(email string) map[string]any {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if code, c := d.customer(email); code == http.StatusOK {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("customer %s did not appear within 20s", email)
	return nil
}

func queryInt(t *testing.T, pgURL, sql string, args ...any) int {
	t.Helper()
	return queryOne[int](t, pgURL, sql, args...)
}

func queryString(t *testing.T, pgURL, sql string, args ...any) string {
	t.Helper()
	return queryOne[string](t, pgURL, sql, args...)
}

// queryOne reads the single value a query returns.
func queryOne[T any](t *testing.T, pgURL, sql string, args ...any) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v T
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func newTestDaemon(t *testing.T) (*daemon, string, []string) {
	t.Helper()
	pgURL := pgtest.URL(t)
	_, brokers := testsvc.Kafka(t)
	return startDaemon(t, testConfig(t, pgURL, brokers)), pgURL, brokers
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// queryRows reads every row a query returns.
func queryRows(t testing.TB, pgURL, sql string, args ...any) [][]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		v, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
