package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
	"github.com/cyclehub/cyclehub/webhooks"
)

// The 2xx is sent only after commit: with PostgreSQL stopped the sender is
// told 503 (so it retries), and once PostgreSQL is back the same request
// is accepted and processed.
func TestStorageDownAnswers503AndTheRetrySucceeds(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	if _, err := pgtest.Migrate(context.Background(), pg.URL()); err != nil {
		t.Fatal(err)
	}
	_, brokers := testsvc.Kafka(t)
	cfg := testConfig(t, pg.URL(), brokers)
	cfg.Postgres.ConnectTimeout = 2 * time.Second
	d := startDaemon(t, cfg)

	const body = `{"email":"outage@example.com","first_name":"Otto"}`
	if code, _ := d.post("/hooks/form", "application/json", `{"email":"before@example.com"}`); code != http.StatusAccepted {
		t.Fatalf("before the outage: %d", code)
	}

	pg.Stop()
	code, out := d.post("/hooks/form", "application/json", body)
	if code != http.StatusServiceUnavailable || out["error"] != "storage_unavailable" {
		t.Fatalf("with PostgreSQL stopped: %d %v, want 503 storage_unavailable", code, out)
	}

	pg.Start()
	// A provider retries on 503; so do we, until the pool has reconnected.
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _ = d.post("/hooks/form", "application/json", body)
		if code == http.StatusAccepted {
			break
		}
		if code != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("after PostgreSQL came back: %d, want 202 within 30s", code)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c := d.waitCustomer("outage@example.com")
	if c["traits"].(map[string]any)["first_name"] != "Otto" {
		t.Fatalf("customer = %v", c)
	}
	d.waitCustomer("before@example.com")
}

// With Redis unreachable, ingest goes on and a redelivery is still
// recognized (the inbox's unique key is the backstop): it is answered
// 200 duplicate and has no second effect.
func TestWithRedisDownIngestAndDedupStayCorrect(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	cfg := testConfig(t, pgtest.URL(t), brokers)
	cfg.Redis.URL = secret.Secret(fmt.Sprintf("redis://127.0.0.1:%d/0", testsvc.FreePort(t)))
	cfg.Sources["typeform"] = webhooks.SourceConfig{Provider: "typeform", Secret: "redis-down-secret"}
	d := startDaemon(t, cfg)

	body := `{"event_id":"e1","event_type":"form_response","form_response":{"form_id":"f","token":"tok-1",` +
		`"submitted_at":"2025-03-14T12:00:00Z","answers":[{"type":"email","email":"nored@example.com","field":{"ref":"email","type":"email"}}]}}`
	post := func() (int, map[string]string) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+d.httpAddr+"/hooks/typeform", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		mac := hmac.New(sha256.New, []byte("redis-down-secret"))
		mac.Write([]byte(body))
		req.Header.Set("Typeform-Signature", "sha256="+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
		return do(t, req)
	}
	if code, out := post(); code != http.StatusAccepted {
		t.Fatalf("first delivery with Redis down: %d %v", code, out)
	}
	if code, out := post(); code != http.StatusOK || out["status"] != "duplicate" {
		t.Fatalf("redelivery with Redis down: %d %v, want 200 duplicate", code, out)
	}
	d.waitCustomer("nored@example.com")
	if n := queryInt(t, cfg.Postgres.URL.Reveal(), `SELECT count(*) FROM timeline`); n != 1 {
		t.Fatalf("%d timeline entries, want 1", n)
	}
}

// buildDaemon compiles the cyclehub binary for subprocess tests.
func buildDaemon(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cyclehub")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a cyclehub serve subprocess.
type process struct {
	cmd      *exec.Cmd
	httpAddr string
	opsAddr  string
	logs     *strings.Builder
	mu       *sync.Mutex
}

// startProcess runs the daemon on the test config plus extra YAML.
func startProcess(t *testing.T, bin, pgURL string, brokers []string, extra ...string) *process {
	t.Helper()
	redisURL, prefix := testsvc.RedisURL(t)
	cfgPath := filepath.Join(t.TempDir(), "cyclehub.yaml")
	cfgText := `
redis: {key_prefix: "` + prefix + `"}
mappings_dir: ` + configsAbs(t, "mappings") + `
rules_dir: ` + configsAbs(t, "rules") + `
admin: {token: ` + testAdminToken + `}
privacy: {suppression_key: test-suppression-key-0123}
pipeline: {poll_interval: 50ms}
relay: {poll_interval: 50ms}
sources:
  form: {provider: form, default_region: BR}
log: {level: info}
` + strings.Join(extra, "\n")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &process{
		httpAddr: fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t)),
		opsAddr:  fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t)),
		logs:     &strings.Builder{},
		mu:       &sync.Mutex{},
	}
	p.cmd = exec.Command(bin, "serve", "--config", cfgPath)
	p.cmd.Env = append(os.Environ(),
		"CYCLEHUB_POSTGRES_URL="+pgURL, "CYCLEHUB_REDIS_URL="+redisURL,
		"CYCLEHUB_KAFKA_BROKERS="+strings.Join(brokers, ","),
		"CYCLEHUB_HTTP_ADDR="+p.httpAddr, "CYCLEHUB_OPS_ADDR="+p.opsAddr)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + p.opsAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			p.mu.Lock()
			defer p.mu.Unlock()
			t.Fatalf("daemon not ready within 30s; logs:\n%s", p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A burst of concurrent posts while the daemon is killed with SIGKILL:
// every request that got a 2xx is in the database, and after a restart
// every one of them becomes a customer.
func TestEveryAckedRequestSurvivesSIGKILL(t *testing.T) {
	bin := buildDaemon(t)
	pgURL := pgtest.URL(t)
	_, brokers := testsvc.Kafka(t)
	p := startProcess(t, bin, pgURL, brokers)

	var (
		mu    sync.Mutex
		acked = map[string]string{} // request id → email
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 5 * time.Second}
	stop := make(chan struct{})
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("kill-%d-%d@example.com", w, i)
				resp, err := client.Post("http://"+p.httpAddr+"/hooks/form", "application/x-www-form-urlencoded",
					strings.NewReader("email="+email))
				if err != nil {
					return // the daemon is gone
				}
				var out struct {
					RequestID string `json:"request_id"`
				}
				_ = decodeJSON(resp, &out)
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					acked[out.RequestID] = email
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) < 50 {
		t.Fatalf("only %d requests were acked before the kill; the test proves nothing", len(acked))
	}

	ids := make([]string, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	if n := queryInt(t, pgURL, `SELECT count(*) FROM inbox WHERE request_id = ANY($1::uuid[])`, ids); n != len(ids) {
		t.Fatalf("%d of %d acked requests are in the inbox after SIGKILL", n, len(ids))
	}

	// Restart: everything acked is processed exactly once.
	startProcess(t, bin, pgURL, brokers)
	deadline := time.Now().Add(60 * time.Second)
	for queryInt(t, pgURL, `SELECT count(*) FROM inbox WHERE status = 'pending'`) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the restarted daemon did not process the backlog within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	emails := make([]string, 0, len(acked))
	for _, e := range acked {
		emails = append(emails, e)
	}
	if n := queryInt(t, pgURL, `SELECT count(DISTINCT customer_id) FROM identities WHERE type = 'email' AND value = ANY($1)`, emails); n != len(emails) {
		t.Fatalf("%d of %d acked emails became customers", n, len(emails))
	}
	if n := queryInt(t, pgURL, `SELECT count(*) FROM (SELECT inbox_id FROM timeline GROUP BY inbox_id HAVING count(*) > 1) d`); n != 0 {
		t.Fatalf("%d requests were processed twice", n)
	}
	t.Logf("%d acked requests survived SIGKILL", len(acked))
}

// SIGTERM under load: the daemon stops accepting, drains what it accepted
// and exits 0; every acked request is stored and processed.
func TestSIGTERMDrainsGracefully(t *testing.T) {
	bin := buildDaemon(t)
	pgURL := pgtest.URL(t)
	_, brokers := testsvc.Kafka(t)
	p := startProcess(t, bin, pgURL, brokers)

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 5 * time.Second}
	stop := make(chan struct{})
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("term-%d-%d@example.com", w, i)
				resp, err := client.Post("http://"+p.httpAddr+"/hooks/form", "application/x-www-form-urlencoded", strings.NewReader("email="+email))
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusAccepted {
					mu.Lock()
					acked = append(acked, email)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(700 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := p.cmd.Wait()
	close(stop)
	wg.Wait()
	p.mu.Lock()
	logs := p.logs.String()
	p.mu.Unlock()
	if err != nil {
		t.Fatalf("daemon exited with %v after SIGTERM; logs:\n%s", err, logs)
	}
	if !strings.Contains(logs, "shutting down") || !strings.Contains(logs, "cyclehub stopped") {
		t.Fatalf("no orderly shutdown in the logs:\n%s", logs)
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acked before SIGTERM")
	}
	if n := queryInt(t, pgURL, `SELECT count(*) FROM identities WHERE type = 'email' AND value = ANY($1)`, acked); n+queryInt(t, pgURL, `SELECT count(*) FROM inbox WHERE status = 'pending'`) < len(acked) {
		t.Fatalf("acked requests went missing: %d customers + pending < %d acked", n, len(acked))
	}
}

// configsAbs is the absolute path of a directory of configs/.
func configsAbs(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs("../../configs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
