package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// The generator against the real daemon (built and run as a subprocess
// with the dev config, on a fresh database, the test's Redis prefix and an
// in-process Kafka cluster): 80 requests at a low rate over every default
// provider lose nothing, duplicate nothing, and give a sane report. A count,
// not a duration: on a loaded machine a starved sender would otherwise
// leave the slots of the seconds it lost unsent (a CI run sent 1 of 80).
func TestLoadAgainstTheDaemonLosesNothing(t *testing.T) {
	requireFixtures(t)
	pgURL := pgtest.URL(t)
	redisURL, prefix := testsvc.RedisURL(t)
	_, brokers := testsvc.Kafka(t)
	d := startDaemon(t, pgURL, redisURL, brokers, testConfig(t, prefix))

	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := run(ctx, []string{
		"--config", d.config, "--url", "http://" + d.httpAddr, "--fixtures", testFixtures,
		"--rate", "40/s", "--requests", "80", "--repeat-share", "0.3",
		"--kafka", strings.Join(brokers, ","), "--postgres", pgURL, "--drain", "60s", "--json",
	}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\ndaemon:\n%s", code, stdout.String(), stderr.String(), d.logTail())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	t.Logf("report:\n%s\nprogress:\n%s", stdout.String(), stderr.String())
	q, loss := rep.Requests, rep.Loss
	if !rep.OK || loss == nil || loss.Stream == nil || rep.StreamLatency == nil {
		t.Fatalf("report: %s", stdout.String())
	}
	if q.Sent != 80 || q.Acked != q.Sent || q.Status.S2xx != q.Sent || len(q.BySource) != len(supported) {
		t.Errorf("sent %d, acked %d, 2xx %d, sources %d: want 80 requests, all acked, over %d sources",
			q.Sent, q.Acked, q.Status.S2xx, len(q.BySource), len(supported))
	}
	if q.People >= q.Sent || q.People < q.Sent/2 {
		t.Errorf("%d people for %d requests: want repeats at a share of 0.3", q.People, q.Sent)
	}
	if loss.Acked != q.Acked || loss.Processed != q.Acked || loss.Lost+loss.Duplicated+loss.Quarantined+loss.SplitPeople != 0 {
		t.Errorf("loss check: %+v", loss)
	}
	s := loss.Stream
	if s.EventsExpected < q.People || s.EventsSeen != s.EventsExpected || s.LostRequests+s.PeopleWithoutEvent != 0 {
		t.Errorf("stream: %+v (people %d)", s, q.People)
	}
	for name, l := range map[string]latency{"ack": rep.AckLatency, "webhook→kafka": *rep.StreamLatency} {
		if l.Count == 0 || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
			t.Errorf("%s latency not sane: %+v", name, l)
		}
	}
	if rep.StreamLatency.P50 < rep.AckLatency.P50 {
		t.Errorf("webhook→kafka p50 %.2fms below the ack's %.2fms", rep.StreamLatency.P50, rep.AckLatency.P50)
	}
}

// testConfig writes the dev config with what a test must change: the
// Redis key prefix, absolute mapping and rule directories, short polls,
// and quieter logs. Secrets and sources stay as in the dev config.
func testConfig(t *testing.T, redisPrefix string) string {
	t.Helper()
	data, err := os.ReadFile(devConfig)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	abs := func(dir string) string {
		p, err := filepath.Abs(filepath.Join(filepath.Dir(devConfig), dir))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := doc.Content[0]
	setYAML(root, "redis.key_prefix", redisPrefix)
	setYAML(root, "mappings_dir", abs("mappings"))
	setYAML(root, "rules_dir", abs("rules"))
	setYAML(root, "pipeline.poll_interval", "50ms")
	setYAML(root, "relay.poll_interval", "50ms")
	setYAML(root, "fetch.poll_interval", "50ms")
	setYAML(root, "log.level", "warn")
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cyclehub.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// setYAML sets the scalar at a dotted path of a mapping node, adding keys.
func setYAML(n *yaml.Node, path, value string) {
	key, rest, nested := strings.Cut(path, ".")
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			if nested {
				setYAML(n.Content[i+1], rest, value)
			} else {
				n.Content[i+1] = &yaml.Node{Kind: yaml.ScalarNode, Value: value}
			}
			return
		}
	}
	child := &yaml.Node{Kind: yaml.ScalarNode, Value: value}
	if nested {
		child = &yaml.Node{Kind: yaml.MappingNode}
		setYAML(child, rest, value)
	}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, child)
}

// daemon is a cyclehub serve subprocess.
type daemon struct {
	config   string
	httpAddr string
	mu       sync.Mutex
	logs     []string
}

func (d *daemon) logTail() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.logs[max(0, len(d.logs)-40):], "\n")
}

// startDaemon builds cyclehub and serves config on free ports, the
// connections given by the environment as the README says; it is killed
// when the test ends.
func startDaemon(t *testing.T, pgURL, redisURL string, brokers []string, config string) *daemon {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cyclehub")
	if out, err := exec.Command("go", "build", "-o", bin, "../cyclehub").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	d := &daemon{config: config, httpAddr: fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t))}
	opsAddr := fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t))
	cmd := exec.Command(bin, "serve", "--config", config)
	cmd.Env = append(os.Environ(),
		"CYCLEHUB_POSTGRES_URL="+pgURL, "CYCLEHUB_REDIS_URL="+redisURL,
		"CYCLEHUB_KAFKA_BROKERS="+strings.Join(brokers, ","),
		"CYCLEHUB_HTTP_ADDR="+d.httpAddr, "CYCLEHUB_OPS_ADDR="+opsAddr)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.mu.Lock()
			d.logs = append(d.logs, sc.Text())
			d.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + opsAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not ready within 30s; logs:\n%s", d.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
