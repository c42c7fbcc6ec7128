package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// cliResult is what one command line did.
type cliResult struct {
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// runCLI runs a command line as the binary would, stdin not a terminal.
func runCLI(args ...string) cliResult {
	return runCLIWith(&cliEnv{stdin: strings.NewReader(""), lookupEnv: os.LookupEnv}, args...)
}

func runCLIWith(env *cliEnv, args ...string) cliResult {
	var stdout, stderr bytes.Buffer
	env.stdout, env.stderr = &stdout, &stderr
	code := execute(args, env)
	return cliResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// cliDaemon is a daemon holding one customer (Ana, from a form), one
// quarantined request and a dead delivery (to a destination that answers
// 410 Gone).
type cliDaemon struct {
	*daemon
	pgURL      string
	customerID string
	quarantine int64
	delivery   int64
}

func startCLIDaemon(t *testing.T) *cliDaemon {
	t.Helper()
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	cfg := testConfig(t, pgURL, brokers)
	gone := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "this endpoint was deleted", http.StatusGone)
	})
	cfg.Destinations = map[string]configs.DestinationConfig{"gone": webhookDestination(gone.URL, 2*time.Second)}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	d := &cliDaemon{daemon: startDaemon(t, cfg), pgURL: pgURL}
	if code, out := d.post("/hooks/form", "application/x-www-form-urlencoded", anaForm); code != http.StatusAccepted {
		t.Fatalf("post: %d %v", code, out)
	}
	if code, out := d.post("/hooks/form", "application/json", `{"comment":"no identifier here"}`); code != http.StatusAccepted {
		t.Fatalf("post: %d %v", code, out)
	}
	d.customerID = d.waitCustomer("ana.lima@example.com")["id"].(string)
	waitFor(t, "the unmappable request quarantined", 10*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM inbox WHERE status = 'quarantined'`) == 1
	})
	d.quarantine = int64(queryInt(t, pgURL, `SELECT id::int FROM inbox WHERE status = 'quarantined'`))
	waitFor(t, "the delivery to the gone destination dead", 10*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE destination = 'gone' AND status = 'dead'`) == 1
	})
	d.delivery = int64(queryInt(t, pgURL, `SELECT id::int FROM deliveries WHERE destination = 'gone' AND status = 'dead'`))
	return d
}

// requarantined waits until the replayed request is quarantined again
// (it still has no identifier).
func (d *cliDaemon) requarantined(t *testing.T) {
	t.Helper()
	waitFor(t, "the request quarantined again", 10*time.Second, func() bool {
		return queryInt(t, d.pgURL, `SELECT count(*) FROM inbox WHERE id = $1 AND status = 'quarantined'`, d.quarantine) == 1
	})
}

// cli runs an admin command against the daemon with its address and token.
func (d *cliDaemon) cli(args ...string) cliResult {
	return runCLI(append([]string{"--api", "http://" + d.httpAddr, "--token", testAdminToken}, args...)...)
}

func TestCLIReadsTheDaemonThroughItsAdminAPI(t *testing.T) {
	d := startCLIDaemon(t)
	id := d.customerID
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
		check  func(t *testing.T, r cliResult)
	}{
		{name: "customers get prints the record as tables", args: []string{"customers", "get", id},
			stdout: []string{"ID ", id, "Scores", "TRAITS", "email", "ana.lima@example.com", "IDENTITIES", "First touch", "google / cpc / spring_launch_2025"}},
		{name: "customers get --json prints the API's document", args: []string{"customers", "get", id, "--json"},
			check: func(t *testing.T, r cliResult) {
				var c map[string]any
				if err := json.Unmarshal([]byte(r.stdout), &c); err != nil || c["id"] != id || c["traits"] == nil {
					t.Errorf("not the customer document (%v): %s", err, r.stdout)
				}
			}},
		{name: "customers search finds by an email normalized as on ingest", args: []string{"customers", "search", "--email", " Ana.Lima@Example.COM"},
			stdout: []string{id}},
		{name: "customers search finds by phone", args: []string{"customers", "search", "--phone", "+55 11 98765-4321", "--json"},
			stdout: []string{`"id": "` + id + `"`}},
		{name: "an unknown customer fails quoting the API's error", args: []string{"customers", "get", "0195b3c4-7e2a-7c1d-9a6b-2f4e8d1c0a37"},
			code: 1, stderr: []string{"HTTP 404", `{"error":"not_found","message":"no customer with that id"}`}},
		{name: "a search that finds nobody fails quoting the API's error", args: []string{"customers", "search", "--email", "nobody@example.com"},
			code: 1, stderr: []string{"GET /v1/customers: HTTP 404", `"no customer has that identifier"`}},
		{name: "timeline lists the customer's interactions", args: []string{"timeline", id},
			stdout: []string{"ENTRY", "OCCURRED", "SOURCE", "form"}},
		{name: "timeline --json prints the API's page", args: []string{"timeline", id, "--json", "--limit", "5"},
			check: func(t *testing.T, r cliResult) {
				var page struct{ Items []map[string]any }
				if err := json.Unmarshal([]byte(r.stdout), &page); err != nil || len(page.Items) != 1 {
					t.Errorf("want one timeline entry (%v): %s", err, r.stdout)
				}
			}},
		{name: "quarantine list shows the unmappable request and why", args: []string{"quarantine", "list", "--source", "form"},
			stdout: []string{"REASON", fmt.Sprint(d.quarantine), "quarantined", "no valid user id, email or phone"}},
		{name: "quarantine list of another source is empty", args: []string{"quarantine", "list", "--source", "secured"},
			stdout: []string{"no quarantined or rejected requests"}},
		{name: "dlq list shows the dead delivery with the destination's answer", args: []string{"dlq", "list"},
			stdout: []string{"LAST ERROR", fmt.Sprint(d.delivery), "gone", "410"}},
		{name: "dlq list --json filters by destination", args: []string{"dlq", "list", "--destination", "gone", "--from", "1h", "--json"},
			check: func(t *testing.T, r cliResult) {
				var page struct{ Items []struct{ ID int64 } }
				if err := json.Unmarshal([]byte(r.stdout), &page); err != nil || len(page.Items) != 1 || page.Items[0].ID != d.delivery {
					t.Errorf("want delivery %d (%v): %s", d.delivery, err, r.stdout)
				}
			}},
		{name: "dlq list of a time range with nothing in it says so", args: []string{"dlq", "list", "--to", "2020-01-01"},
			stdout: []string{"no dead deliveries"}},
		{name: "funnel prints the stages and the KPIs", args: []string{"funnel", "--from", "7d", "--horizon", "30d"},
			stdout: []string{"Funnel from", "horizon 30 days", "STAGE", "CONVERSION", "MEDIAN TIME", "Win rate", "Churn", "NPS", "Referral rate", "Leads", "1 new"}},
		{name: "funnel --json prints the API's metrics", args: []string{"funnel", "--json"},
			check: func(t *testing.T, r cliResult) {
				var f struct {
					Stages []any
					Leads  struct{ Total int }
				}
				if err := json.Unmarshal([]byte(r.stdout), &f); err != nil || len(f.Stages) == 0 || f.Leads.Total != 1 {
					t.Errorf("want the funnel with one lead (%v): %s", err, r.stdout)
				}
			}},
		{name: "a bad horizon fails quoting the API's reason", args: []string{"funnel", "--horizon", "soon"},
			code: 1, stderr: []string{"HTTP 400", `"error":"invalid_horizon"`}},
		{name: "export streams JSON lines to stdout", args: []string{"export"},
			check: func(t *testing.T, r cliResult) {
				lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
				var c map[string]any
				if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &c) != nil || c["id"] != id {
					t.Errorf("want one JSON line, Ana's record: %s", r.stdout)
				}
				if r.stderr != "" {
					t.Errorf("stderr is not clean: %q", r.stderr)
				}
			}},
		{name: "export --json is JSON lines too, filtered by stage", args: []string{"export", "--json", "--stage", "evangelist"},
			check: func(t *testing.T, r cliResult) {
				if r.stdout != "" {
					t.Errorf("nobody is an evangelist, yet: %q", r.stdout)
				}
			}},
		{name: "a wrong token is refused with what to check", args: []string{"--token", "not-the-admin-token", "customers", "get", id},
			code: 1, stderr: []string{"HTTP 401", `"error":"unauthorized"`, "refused the token", "CYCLEHUB_ADMIN_TOKEN"}},
		{name: "replay --dry-run counts and queues nothing", args: []string{"replay", "--source", "form", "--from", "1h", "--dry-run"},
			stdout: []string{"would queue 1 request from form received between", "1 skipped: 1 already on the record"}},
		{name: "replay off a terminal without --yes shows the count and refuses", args: []string{"replay", "--source", "form", "--from", "1h"},
			code: 2, stderr: []string{"1 request from form received between", "would be queued again", "pass --yes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := d.cli(tc.args...)
			if r.code != tc.code {
				t.Fatalf("want exit %d; %s", tc.code, r)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q; %s", want, r)
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q; %s", want, r)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}

	t.Run("the address and token come from the environment", func(t *testing.T) {
		t.Setenv("CYCLEHUB_API_URL", d.httpAddr) // host:port means http
		t.Setenv("CYCLEHUB_ADMIN_TOKEN", testAdminToken)
		if r := runCLI("customers", "get", id); r.code != 0 || !strings.Contains(r.stdout, id) {
			t.Fatal(r)
		}
	})

	t.Run("with --config the address comes from the config's http.addr", func(t *testing.T) {
		// The dev config's token is not this daemon's: the 401 proves the
		// call reached the address the config names.
		env := map[string]string{"CYCLEHUB_HTTP_ADDR": d.httpAddr}
		r := runCLIWith(&cliEnv{stdin: strings.NewReader(""), lookupEnv: func(k string) (string, bool) {
			if k == "CYCLEHUB_ADMIN_TOKEN" || k == "CYCLEHUB_API_URL" {
				return "", false
			}
			if v, ok := env[k]; ok {
				return v, true
			}
			return os.LookupEnv(k)
		}}, "--config", "../../configs/cyclehub.yaml", "funnel")
		if r.code != 1 || !strings.Contains(r.stderr, "HTTP 401") || !strings.Contains(r.stderr, "(http://"+d.httpAddr+" refused the token") {
			t.Fatal(r)
		}
	})

	t.Run("export to a file writes CSV with a header and says how many rows", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "customers.csv")
		r := d.cli("export", "--format", "csv", "--updated-since", "2020-01-01", "-o", path)
		if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "exported 1 customer to "+path) {
			t.Fatal(r)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "id,version,") || !strings.HasPrefix(lines[1], id+",") {
			t.Fatalf("want a header and Ana's row:\n%s", data)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Errorf("the export holds personal data but is %v", st.Mode().Perm())
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*partial")); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
}

func TestCLIReplaysQuarantinedRequestsDeadDeliveriesAndTheInbox(t *testing.T) {
	d := startCLIDaemon(t)
	q, dl := fmt.Sprint(d.quarantine), fmt.Sprint(d.delivery)

	t.Run("quarantine replay queues the request again", func(t *testing.T) {
		r := d.cli("quarantine", "replay", q)
		if r.code != 0 || r.stdout != "queued request "+q+"\n" {
			t.Fatal(r)
		}
	})

	t.Run("quarantine replay of several ids goes on past a failure and answers with each", func(t *testing.T) {
		d.requarantined(t)
		r := d.cli("quarantine", "replay", "--json", "999999", q)
		if r.code != 1 || !strings.Contains(r.stderr, "request 999999: POST /v1/quarantine/999999/replay: HTTP 404") ||
			!strings.Contains(r.stderr, "1 of 2 queued; 1 failed") {
			t.Fatal(r)
		}
		var answers []map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &answers); err != nil || len(answers) != 2 {
			t.Fatalf("want one JSON array of two answers (%v): %s", err, r.stdout)
		}
		if answers[0]["status"] != "failed" || answers[0]["http_status"] != 404.0 || answers[0]["error"] != "not_found" ||
			answers[1]["status"] != "queued" || answers[1]["id"] != float64(d.quarantine) {
			t.Fatalf("answers: %v", answers)
		}
	})

	t.Run("dlq replay by id queues the dead delivery again", func(t *testing.T) {
		r := d.cli("dlq", "replay", dl)
		if r.code != 0 || r.stdout != "queued delivery "+dl+"\n" {
			t.Fatal(r)
		}
		waitFor(t, "the delivery dead again (the destination still answers 410)", 10*time.Second, func() bool {
			return queryInt(t, d.pgURL, `SELECT count(*) FROM deliveries WHERE id = $1 AND status = 'dead'`, d.delivery) == 1
		})
	})

	t.Run("dlq replay --destination queues every dead delivery of it", func(t *testing.T) {
		r := d.cli("dlq", "replay", "--destination", "gone", "--from", "2020-01-01")
		if r.code != 0 || r.stdout != "queued 1 dead delivery to gone again\n" {
			t.Fatal(r)
		}
		r = d.cli("dlq", "replay", "--destination", "nowhere")
		if r.code != 1 || !strings.Contains(r.stderr, `{"error":"unknown_destination","message":"no destination \"nowhere\" is configured"}`) {
			t.Fatal(r)
		}
	})

	t.Run("replay asks on a terminal and queues nothing when told no", func(t *testing.T) {
		d.requarantined(t)
		env := &cliEnv{stdin: strings.NewReader("n\n"), stdinTTY: true, lookupEnv: os.LookupEnv}
		r := runCLIWith(env, "--api", "http://"+d.httpAddr, "--token", testAdminToken, "replay", "--source", "form", "--from", "1h")
		if r.code != 1 || !strings.Contains(r.stderr, "would be queued again") || !strings.Contains(r.stderr, "Queue them again? [y/N] ") ||
			!strings.Contains(r.stderr, "aborted: nothing was queued") {
			t.Fatal(r)
		}
	})

	t.Run("replay asks on a terminal and queues when told yes", func(t *testing.T) {
		d.requarantined(t)
		env := &cliEnv{stdin: strings.NewReader("yes\n"), stdinTTY: true, lookupEnv: os.LookupEnv}
		r := runCLIWith(env, "--api", "http://"+d.httpAddr, "--token", testAdminToken, "replay", "--source", "form", "--from", "1h", "--to", "now")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "queued 1 request from form received between") {
			t.Fatal(r)
		}
	})

	t.Run("replay --yes --json prints the API's counts", func(t *testing.T) {
		d.requarantined(t)
		r := d.cli("replay", "--source", "form", "--from", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "--yes", "--json")
		var res struct {
			Source         string
			Queued         int
			SkippedApplied int  `json:"skipped_applied"`
			DryRun         bool `json:"dry_run"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.Source != "form" || res.Queued != 1 || res.SkippedApplied != 1 || res.DryRun {
			t.Fatal(r)
		}
	})
}

func TestCLIUsageErrorsExitWith2AndSayWhatIsWrong(t *testing.T) {
	// No daemon: each of these is refused before any call.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"an unknown command", []string{"frobnicate"}, `cyclehub: unknown command "frobnicate"`},
		{"an unknown command of a group, with a suggestion", []string{"customers", "gett"}, `unknown command "gett"; did you mean get?`},
		{"a group without its command", []string{"dlq"}, "cyclehub dlq [command]"},
		{"customers get without an id", []string{"customers", "get"}, "accepts 1 arg(s), received 0"},
		{"customers search without an identifier", []string{"customers", "search"}, "give an identifier: --email, --phone"},
		{"customers search with two identifiers", []string{"customers", "search", "--email", "a@example.com", "--phone", "+5511987654321"}, "give one identifier, not --email and --phone"},
		{"quarantine replay of something that is not an id", []string{"quarantine", "replay", "12", "abc"}, `"abc" is not an id`},
		{"quarantine replay without ids", []string{"quarantine", "replay"}, "requires at least 1 arg(s)"},
		{"dlq replay with ids and a destination", []string{"dlq", "replay", "1", "--destination", "crm"}, "give delivery ids or --destination, not both"},
		{"dlq replay with nothing to replay", []string{"dlq", "replay"}, "give delivery ids, or --destination D"},
		{"dlq replay of ids with a time range", []string{"dlq", "replay", "7", "--from", "7d"}, "--from and --to select with --destination"},
		{"a time that is not one", []string{"dlq", "list", "--from", "yesterday"}, `invalid argument "yesterday" for "--from" flag`},
		{"replay without a source", []string{"replay", "--from", "1h"}, "give the --source"},
		{"replay without a start", []string{"replay", "--source", "form"}, "give --from"},
		{"replay of an empty range", []string{"replay", "--source", "form", "--from", "2026-02-01", "--to", "2026-01-01"}, "must be before --to"},
		{"export --json as CSV", []string{"export", "--json", "--format", "csv"}, "--json exports JSON lines"},
		{"export in an unknown format", []string{"export", "--format", "xml"}, `--format must be jsonl or csv, not "xml"`},
		{"an unknown flag", []string{"funnel", "--hoizon", "30d"}, "unknown flag: --hoizon"},
		{"no token anywhere", []string{"customers", "get", "x"}, "no admin token: set CYCLEHUB_ADMIN_TOKEN"},
		{"an API address that is not one", []string{"--api", "ftp://x", "--token", "t", "funnel"}, `API URL "ftp://x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CYCLEHUB_ADMIN_TOKEN", "")
			t.Setenv("CYCLEHUB_API_URL", "")
			r := runCLI(tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "Usage:") || r.stdout != "" {
				t.Fatalf("want exit 2 with %q and the usage on stderr; %s", tc.want, r)
			}
		})
	}
}
