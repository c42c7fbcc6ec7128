package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/internal/importer"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// importCLI runs `cyclehub import args…` with the config at cfgPath and
// returns its exit code and output.
func importCLI(t *testing.T, cfgPath string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	g := &globals{env: &cliEnv{stdout: &stdout, stderr: &stderr, lookupEnv: func(string) (string, bool) { return "", false }}, config: cfgPath}
	for _, a := range args {
		if a == "--json" {
			g.json = true
		}
	}
	var rest []string
	for _, a := range args {
		if a != "--json" {
			rest = append(rest, a)
		}
	}
	c := newImportCmd()
	c.SetArgs(rest)
	c.SetOut(&stdout)
	c.SetErr(&stderr)
	c.SilenceErrors, c.SilenceUsage = true, true
	err := c.ExecuteContext(withGlobals(context.Background(), g))
	var code exitCode
	var ue *usageError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &code):
		return int(code), stdout.String(), stderr.String()
	case errors.As(err, &ue):
		return 2, stdout.String(), stderr.String() + err.Error()
	}
	t.Fatalf("import: %v", err)
	return 0, "", ""
}

// importTestConfig writes a config on the test's own database (only
// PostgreSQL is needed: no daemon, Redis or Kafka).
func importTestConfig(t *testing.T, pgURL string) string {
	t.Helper()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	path := filepath.Join(t.TempDir(), "cyclehub.yaml")
	cfg := `admin: {token: test-admin-token-0123456789, default_region: US}
postgres: {url: "` + pgURL + `"}
privacy: {suppression_key: test-suppression-key-0123}
mappings_dir: ` + abs("../../configs/mappings") + `
rules_dir: ` + abs("../../configs/rules") + `
sources:
  form: {provider: form}
log: {level: warn}
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const exampleContacts = "../../docs/examples/contacts.csv"

// The example file in docs/ maps cleanly: the dry run shows every row's
// events and writes nothing.
func TestImportDryRunOfTheExample(t *testing.T) {
	cfgPath := importTestConfig(t, "postgres://nobody@127.0.0.1:1/none") // never connected to
	code, out, errOut := importCLI(t, cfgPath, exampleContacts, "--mapping", "../../configs/mappings/import-contacts.yaml", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Rows []importer.DryRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(doc.Rows) != 10 {
		t.Fatalf("%d rows, want 10: %s", len(doc.Rows), out)
	}
	for _, r := range doc.Rows {
		if r.Status != "ok" || len(r.Events) != 1 {
			t.Errorf("line %d: %s %s", r.Line, r.Status, r.Reason)
		}
	}
	ev := doc.Rows[0].Events[0]
	if ev.Traits["email"] != "ana.souza@acme-logistics.com.br" || ev.Traits["phone"] != "+5511987654321" ||
		ev.Traits["company"] != "Acme Logistics" || ev.OccurredAt.Format("2006-01-02") != "2024-02-11" {
		t.Errorf("first row's event: %+v", ev)
	}
	// By name, from the config's mappings, and just the first rows.
	code, out, _ = importCLI(t, cfgPath, exampleContacts, "--mapping", "import-contacts", "--dry-run=2")
	if code != 0 || strings.Count(out, `"line"`) != 2 {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func TestImportCommand(t *testing.T) {
	_, url := pgtest.Open(t)
	cfgPath := importTestConfig(t, url)
	mappingFile := "../../configs/mappings/import-contacts.yaml"

	code, out, errOut := importCLI(t, cfgPath, exampleContacts, "--mapping", mappingFile, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep importer.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !rep.Complete || rep.RowsRead != 10 || rep.Enqueued != 10 || rep.Processed != 10 || rep.CustomersCreated != 10 || rep.Quarantined != 0 {
		t.Fatalf("report %s", out)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var stage string
	if err := conn.QueryRow(context.Background(), `SELECT c.stage FROM customers c JOIN identities i ON i.customer_id = c.id
		WHERE i.type = 'email' AND i.value = 'm.dubois@fromagerie.fr'`).Scan(&stage); err != nil || stage != "customer" {
		t.Errorf("Marie Dubois's stage %q (%v): the CRM's Customer stage moves her", stage, err)
	}

	// Again: nothing added, and the table says so.
	code, out, errOut = importCLI(t, cfgPath, exampleContacts, "--mapping", mappingFile)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	table := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			table[strings.Join(f[:len(f)-1], " ")] = f[len(f)-1]
		}
	}
	for label, want := range map[string]string{"rows read": "10", "enqueued": "0", "skipped (already imported)": "10", "customers created": "0"} {
		if table[label] != want {
			t.Errorf("%s: %q, want %s:\n%s", label, table[label], want, out)
		}
	}
	if !strings.Contains(out, "(complete, source import)") {
		t.Errorf("report:\n%s", out)
	}

	// Bad rows go to the rejects file with their lines.
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("Email;First Name;Create Date\nok@example.com;Ok;\nbad\"quote;x;\n;nobody;\nlate@example.com;L;someday\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rejects := filepath.Join(dir, "rejects.jsonl")
	code, out, errOut = importCLI(t, cfgPath, bad, "--mapping", mappingFile, "--delimiter", ";", "--rejects", rejects, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Rejected != 1 || rep.Quarantined != 2 || rep.CustomersCreated != 1 {
		t.Fatalf("report %s (%v)", out, err)
	}
	data, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	var lines []int64
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct {
			Line   int64           `json:"line"`
			Status string          `json:"status"`
			Row    json.RawMessage `json:"row"`
			Raw    string          `json:"raw"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		lines = append(lines, rec.Line)
		if rec.Status == "rejected" && rec.Raw != `bad"quote;x;` || rec.Status == "quarantined" && len(rec.Row) == 0 {
			t.Errorf("rejects line %s", l)
		}
	}
	if len(lines) != 3 || lines[0] != 3 || lines[1] != 4 || lines[2] != 5 {
		t.Errorf("rejects file lines %v, want [3 4 5]:\n%s", lines, data)
	}
}

func TestImportUsage(t *testing.T) {
	cfgPath := importTestConfig(t, "postgres://nobody@127.0.0.1:1/none")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{exampleContacts}, 2, "--mapping"},
		{[]string{"--mapping", "import-contacts"}, 2, "accepts 1 arg"},
		{[]string{exampleContacts, "--mapping", "import-contacts", "--dry-run=0"}, 2, "--dry-run=N"},
		{[]string{"contacts.xlsx", "--mapping", "import-contacts"}, 1, "cannot tell the format"},
		{[]string{exampleContacts, "--mapping", "nope.yaml", "--dry-run"}, 1, "nope.yaml"},
		{[]string{exampleContacts, "--mapping", "import-contacts", "--region", "Brazil", "--dry-run"}, 1, "--region"},
		{[]string{exampleContacts, "--mapping", "import-contacts", "--delimiter", ";;", "--dry-run"}, 1, "--delimiter"},
	} {
		code, _, errOut := importCLI(t, cfgPath, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d (%s), want %d with %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
}
