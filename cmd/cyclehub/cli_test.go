package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
