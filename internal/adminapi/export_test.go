package adminapi_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// exportCustomers is how many live customers seedExportAPI stores: more
// than two pages of the store's 500.
const exportCustomers = 1203

// seedExportAPI stores exportCustomers live customers (n = 1…; every
// third in stage lead, the others customer; updated on 2026-11-01 when n
// ≤ 600, on 2026-11-20 after), each with an email, a phone, a company
// trait, a stint and an NPS answer; customer 1 also has a formula-like
// trait and two emails. Customer 1204 is merged into 1, 1205 erased.
func seedExportAPI(e *apiEnv) {
	e.exec(`
		INSERT INTO customers (id, version, created_at, updated_at, stage, stage_entered_at, customer_status, traits, consent, scores, first_touch)
		SELECT ('0198f3a0-0000-7000-8000-' || lpad(n::text, 12, '0'))::uuid, 1, '2026-10-01',
		       CASE WHEN n <= 600 THEN timestamptz '2026-11-01' ELSE timestamptz '2026-11-20' END,
		       CASE WHEN n % 3 = 0 THEN 'lead' ELSE 'customer' END, '2026-10-02', 'active',
		       jsonb_build_object('company', jsonb_build_object('value', 'Acme ' || n, 'source', 'form', 'observed_at', '2026-10-01T00:00:00Z')),
		       '{"email_marketing": {"status": "granted", "source": "form", "method": "checkbox", "at": "2026-10-01T00:00:00Z"}}',
		       '{"fit": 42.5, "engagement": 10, "health": 80, "band": "B3", "model": "m1"}',
		       '{"source": "google", "medium": "cpc", "channel": "paid_search", "at": "2026-10-01T00:00:00Z"}'
		FROM generate_series(1, 1205) AS n`,
		`UPDATE customers SET merged_into = '0198f3a0-0000-7000-8000-000000000001', merged_at = now() WHERE id = '0198f3a0-0000-7000-8000-000000001204'`,
		`UPDATE customers SET erased_at = now(), traits = '{}', stage = NULL WHERE id = '0198f3a0-0000-7000-8000-000000001205'`,
		`UPDATE customers SET traits = traits || '{"note": {"value": "=HYPERLINK(\"http://x\")", "source": "form", "observed_at": "2026-10-01T00:00:00Z"}}'
		 WHERE id = '0198f3a0-0000-7000-8000-000000000001'`,
		`INSERT INTO identities (type, value, customer_id, source, first_seen, last_seen)
		 SELECT kind, CASE kind WHEN 'email' THEN 'p' || n || '@example.com' ELSE '+49301234' || lpad(n::text, 4, '0') END,
		        ('0198f3a0-0000-7000-8000-' || lpad(n::text, 12, '0'))::uuid, 'form', '2026-10-01', '2026-10-01'
		 FROM generate_series(1, 1203) AS n, unnest(ARRAY['email', 'phone']) AS kind`,
		`INSERT INTO identities (type, value, customer_id, source, first_seen, last_seen)
		 VALUES ('email', 'p1.work@example.com', '0198f3a0-0000-7000-8000-000000000001', 'form', '2026-10-01', '2026-10-01')`,
		`INSERT INTO stage_history (customer_id, stage, entered_at, direction)
		 SELECT id, stage, '2026-10-02', 'forward' FROM customers WHERE merged_into IS NULL AND erased_at IS NULL`,
		`INSERT INTO survey_responses (customer_id, source, response_id, kind, score, answered_at)
		 SELECT id, 'delighted', 'r' || id, 'nps', 9, '2026-10-05' FROM customers WHERE merged_into IS NULL AND erased_at IS NULL`)
}

func exportCustomerID(n int) string { return fmt.Sprintf("0198f3a0-0000-7000-8000-%012d", n) }

func TestExportRefusesBadParameters(t *testing.T) {
	e := newAPIEnv(t, nil)
	for _, tt := range []struct{ name, query, code string }{
		{"an unknown format", "format=xml", "invalid_format"},
		{"an updated_since that is not a time", "updated_since=yesterday", "invalid_updated_since"},
	} {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			code, body := e.doJSON("GET", "/v1/customers/export?"+tt.query, "")
			if code != http.StatusBadRequest || body["error"] != tt.code {
				t.Errorf("%d %v, want 400 %s", code, body, tt.code)
			}
		})
	}
}

func TestExportJSONLinesAreTheCustomerViewsInIDOrderAcrossPages(t *testing.T) {
	e := newAPIEnv(t, nil)
	seedExportAPI(e)
	code, h, body := e.do("GET", "/v1/customers/export", "")
	if code != http.StatusOK || h.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%d %s: %.200s", code, h.Get("Content-Type"), body)
	}
	var ids []string
	byID := map[string]json.RawMessage{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %d is not JSON: %v", len(ids)+1, err)
		}
		ids = append(ids, c.ID)
		byID[c.ID] = slices.Clone(sc.Bytes())
	}
	if len(ids) != exportCustomers || !slices.IsSorted(ids) {
		t.Fatalf("%d customers (sorted: %v), want %d in id order", len(ids), slices.IsSorted(ids), exportCustomers)
	}
	for _, gone := range []int{1204, 1205} {
		if _, ok := byID[exportCustomerID(gone)]; ok {
			t.Errorf("customer %d (merged or erased) was exported", gone)
		}
	}
	// Each line is what GET /v1/customers/{id} answers: first and last of
	// each page, and a few between.
	for _, n := range []int{1, 2, 250, 500, 501, 1000, 1001, 1203} {
		id := exportCustomerID(n)
		code, _, one := e.do("GET", "/v1/customers/"+id, "")
		if code != http.StatusOK {
			t.Fatalf("GET customer %d: %d", n, code)
		}
		var want, got any
		if err := json.Unmarshal(one, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(byID[id], &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("customer %d exported as\n%s\nGET answers\n%s", n, byID[id], one)
		}
	}
}

func TestExportCSVFlattensEachCustomerIntoARow(t *testing.T) {
	e := newAPIEnv(t, nil)
	seedExportAPI(e)
	code, h, body := e.do("GET", "/v1/customers/export?format=csv", "")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Fatalf("%d %s", code, h.Get("Content-Type"))
	}
	records, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v", err)
	}
	header := records[0]
	col := map[string]int{}
	for i, c := range header {
		col[c] = i
	}
	for _, c := range []string{"id", "stage", "email", "phone", "fit", "first_touch_source", "consent", "trait.company", "trait.note"} {
		if _, ok := col[c]; !ok {
			t.Errorf("no column %s in %v", c, header)
		}
	}
	if len(records)-1 != exportCustomers {
		t.Fatalf("%d rows, want %d", len(records)-1, exportCustomers)
	}
	first := records[1]
	for name, want := range map[string]string{
		"id": exportCustomerID(1), "stage": "customer", "email": "p1.work@example.com;p1@example.com", "phone": "+493012340001",
		"fit": "42.5", "first_touch_source": "google", "consent": "email_marketing:granted",
		"trait.company": "Acme 1", "trait.note": `'=HYPERLINK("http://x")`, // a formula is defused
	} {
		if got := first[col[name]]; got != want {
			t.Errorf("customer 1 %s = %q, want %q", name, got, want)
		}
	}
	if got := records[2][col["trait.note"]]; got != "" {
		t.Errorf("customer 2 has no note, got %q", got)
	}
}

func TestExportFiltersByStageAndUpdatedSince(t *testing.T) {
	e := newAPIEnv(t, nil)
	seedExportAPI(e)
	count := func(query string) int {
		t.Helper()
		code, _, body := e.do("GET", "/v1/customers/export?"+query, "")
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", query, code, body)
		}
		return bytes.Count(body, []byte("\n"))
	}
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"stage=lead", exportCustomers / 3},                                      // every third: 401
		{"updated_since=2026-11-10", exportCustomers - 600},                      // updated on 11-20
		{"updated_since=2026-11-20T00:00:00Z&stage=lead", 401 - 200},             // leads after 600
		{"stage=evangelist", 0},                                                  // nobody: an empty 200
		{"format=csv&stage=evangelist", 1},                                       // the header alone
		{"format=csv&updated_since=2026-11-20T00:00:00%2B00:00", 1 + 1203 - 600}, // header and rows
	} {
		if got := count(tt.query); got != tt.want {
			t.Errorf("%s: %d lines, want %d", tt.query, got, tt.want)
		}
	}
}
