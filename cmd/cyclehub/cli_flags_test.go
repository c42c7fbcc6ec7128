package main

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCLIKeepsTheCommandLinesOfTheFlagPackage(t *testing.T) {
	const cfg = "../../configs/cyclehub.yaml"
	sample := "../../configs/mappings/testdata/zendesk/event-ticket-created-requester-id-only.json"
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"check-config takes -config with one dash", []string{"check-config", "-config", cfg}, 0, ": ok", ""},
		{"check-config takes -config=FILE", []string{"check-config", "-config=" + cfg}, 0, ": ok", ""},
		{"check-config takes the file as its argument", []string{"check-config", cfg}, 0, ": ok", ""},
		{"check-config refuses a second file", []string{"check-config", cfg, cfg}, 2, "", "accepts at most 1 arg(s)"},
		{"mapping test takes single-dash flags", []string{"mapping", "test", "-config", cfg, "-source", "zendesk", sample}, 0, `"type": "ticket_created"`, ""},
		{"mapping test without a source is a usage error", []string{"mapping", "test", "--config", cfg, sample}, 2, "", "give --source NAME and one request file"},
		{"mapping without test is a usage error", []string{"mapping"}, 2, "", "cyclehub mapping [command]"},
		{"rules without a verb is a usage error", []string{"rules"}, 2, "", "cyclehub rules [command]"},
		{"rules backtest without --rules is a usage error", []string{"rules", "backtest", "--config", cfg}, 2, "", "give the proposed rules with --rules DIR"},
		{"rules apply with a batch out of range is a usage error", []string{"rules", "apply", "-batch", "0"}, 2, "", "--batch must be between 1 and 10000"},
		{"serve with an unknown flag is a usage error", []string{"serve", "--nope"}, 2, "", "unknown flag: --nope"},
		{"--version prints the version", []string{"--version"}, 0, "cyclehub ", ""},
		{"-v prints the version", []string{"-v"}, 0, "cyclehub ", ""},
		{"help prints the usage on stdout", []string{"help"}, 0, "Admin API commands:", ""},
		{"-h prints the usage on stdout", []string{"-h"}, 0, "Daemon and offline commands:", ""},
		{"-help prints the usage on stdout", []string{"-help"}, 0, "Usage:", ""},
		{"a command's --help shows its flags", []string{"replay", "--help"}, 0, "--dry-run", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(tc.args...)
			if r.code != tc.code || !strings.Contains(r.stdout, tc.stdout) || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("want exit %d, stdout with %q, stderr with %q; %s", tc.code, tc.stdout, tc.stderr, r)
			}
		})
	}
}

func TestSingleDashLongFlagsAreNormalizedAndNothingElse(t *testing.T) {
	root, _ := newRootCmd(&cliEnv{stdout: io.Discard, stderr: io.Discard})
	got := normalizeArgs(root, []string{"export", "-o", "f.csv", "-q", "-format", "csv", "-stage=lead", "-x", "-", "--", "-json"})
	want := []string{"export", "-o", "f.csv", "-q", "--format", "csv", "--stage=lead", "-x", "-", "--", "-json"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestTimesAreRFC3339DatesNowOrDurationsAgo(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 30, 45, 500, time.UTC)
	for in, want := range map[string]string{
		"2026-01-31T09:00:00Z":      "2026-01-31T09:00:00Z",
		"2026-01-31T09:00:00-03:00": "2026-01-31T12:00:00Z",
		"2026-01-31":                "2026-01-31T00:00:00Z",
		"now":                       "2026-03-10T12:30:45Z",
		"36h":                       "2026-03-09T00:30:45Z",
		"7d":                        "2026-03-03T12:30:45Z",
		"90m":                       "2026-03-10T11:00:45Z",
	} {
		got, err := parseTime(in, now)
		if err != nil || got.UTC().Format(time.RFC3339) != want {
			t.Errorf("%q: %v %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-7d", "2026-13-01", "7 d", ""} {
		if _, err := parseTime(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestAWildcardListenAddressIsCalledOnLoopback(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		":8080":          "http://127.0.0.1:8080",
		"0.0.0.0:9000":   "http://127.0.0.1:9000",
		"[::]:9000":      "http://[::1]:9000",
		"hub.local:80":   "http://hub.local:80",
	} {
		if got := listenURL(addr); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
}

func TestCSVRowsAreCountedByRecordNotByLine(t *testing.T) {
	lc := &lineCounter{w: io.Discard, bar: &progress{}, csv: true}
	for _, chunk := range []string{"id,note\n", "1,\"two\nlines\"\n2,\"a \"\"quoted", "\"\" word\"\n3,plain\n"} {
		if _, err := lc.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	if lc.lines != 4 {
		t.Fatalf("%d records, want 4 (a header and three rows)", lc.lines)
	}
}
