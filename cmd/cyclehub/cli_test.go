package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCheckConfigListsEveryProblemAndExitsNonZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, []byte(`
http: {addr: nowhere, read_timeout: soon}
pipeline: {workers: 0, batch_sise: 10}
sources: {form: {provider: nope}}
admin: {token: short}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	t.Setenv("CYCLEHUB_ADMIN_TOKEN", "")
	if code := run([]string{"check-config", path}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	out := stderr.String()
	for _, want := range []string{
		"http.addr:", "http.read_timeout: cannot parse \"soon\" as duration (line 2)",
		"pipeline: unknown field \"batch_sise\" (line 3)", "pipeline.workers:",
		"sources.form.provider: unknown provider \"nope\"", "admin.token: must be at least 16 characters",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

func TestCheckConfigAcceptsTheDevConfig(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check-config", "--config", "../../configs/cyclehub.yaml"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), ": ok") {
		t.Fatalf("stdout = %q", stdout.String())
	}
}

func TestUnknownCommandsPrintUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"frobnicate"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "Usage:") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	stdout.Reset()
	if code := run([]string{"version"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stdout.String(), "cyclehub ") {
		t.Fatalf("version: exit %d, %q", code, stdout.String())
	}
}

func TestMappingTestMapsAnIDOnlySampleWithItsRecordedAPIAnswers(t *testing.T) {
	var stdout, stderr bytes.Buffer
	sample := filepath.Join("..", "..", "configs", "mappings", "testdata", "zendesk", "event-ticket-created-requester-id-only.json")
	code := run([]string{"mapping", "test", "--config", "../../configs/cyclehub.yaml", "--source", "zendesk", sample}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	for _, want := range []string{`"GET /api/v2/users/20394857610.json"`, `"value": "luiza.costa@example.com.br"`, `"type": "ticket_created"`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("missing %s in:\n%s", want, stdout.String())
		}
	}
	// Without the recorded answer, the call it needs is named.
	bare := filepath.Join(t.TempDir(), "bare.json")
	data, _ := os.ReadFile(sample)
	if err := os.WriteFile(bare, []byte(strings.Replace(string(data), `"api_responses"`, `"unused"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"mapping", "test", "--config", "../../configs/cyclehub.yaml", "--source", "zendesk", bare}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "needs GET /api/v2/users/20394857610.json") {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
}

func TestSIGHUPBecomesAReloadRequest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reloads := hangups(ctx) // registered before the signal is sent, so it cannot kill the test
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reloads:
	case <-time.After(5 * time.Second):
		t.Fatal("no reload request within 5s of SIGHUP")
	}
}
