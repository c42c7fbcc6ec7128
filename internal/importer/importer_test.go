package importer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/importer"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

// env is one test's database and the shared mapping and rules.
type env struct {
	t    *testing.T
	st   *pgstore.Store
	conn *pgx.Conn
	spec *mapping.Compiled
	rule *mapping.Model
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, url := pgtest.Open(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	specs, err := configs.LoadMappings("../../configs/mappings")
	if err != nil {
		t.Fatal(err)
	}
	model, err := configs.LoadRules("../../configs/rules")
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, st: st, conn: conn, spec: specs["import-contacts"], rule: model}
}

func (e *env) config(format importer.Format) importer.Config {
	pc := pipeline.DefaultConfig()
	pc.Workers, pc.BatchSize, pc.PollInterval = 2, 40, 20*time.Millisecond
	return importer.Config{
		Source: "import", Mapping: e.spec, DefaultRegion: "US",
		Reader:   importer.ReaderOptions{Format: format},
		Pipeline: pc, Identity: pipeline.DefaultIdentityConfig(), Model: e.rule,
		SuppressionKey: []byte("test-suppression-key-0123"), EnqueueBatch: 50,
	}
}

func (e *env) importer(cfg importer.Config) *importer.Importer {
	e.t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	im, err := importer.New(e.st, cfg, logrus.NewEntry(log), time.Now)
	if err != nil {
		e.t.Fatal(err)
	}
	im.PollInterval = 20 * time.Millisecond
	return im
}

func (e *env) run(im *importer.Importer, name string, data []byte) importer.Report {
	e.t.Helper()
	rep, err := im.Run(context.Background(), importer.Input{Name: name, Src: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil {
		e.t.Fatalf("import %s: %v", name, err)
	}
	return rep
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// record is what the test compares between runs: every row the record
// and the stream are made of.
type record struct {
	customers, identities, timeline, outbox, inboxRows, waiting int
}

func (e *env) record() record {
	return record{
		customers:  e.count(`SELECT count(*) FROM customers WHERE merged_into IS NULL`),
		identities: e.count(`SELECT count(*) FROM identities`),
		timeline:   e.count(`SELECT count(*) FROM timeline`),
		outbox:     e.count(`SELECT count(*) FROM outbox`),
		inboxRows:  e.count(`SELECT count(*) FROM inbox`),
		waiting:    e.count(`SELECT count(*) FROM inbox WHERE status IN ('importing', 'pending')`),
	}
}

// trait reads a trait of the customer an email identifies.
func (e *env) trait(email, name string) string {
	e.t.Helper()
	var v *string
	err := e.conn.QueryRow(context.Background(), `
		SELECT c.traits->$2->>'value' FROM customers c JOIN identities i ON i.customer_id = c.id
		WHERE i.type = 'email' AND i.value = $1`, email, name).Scan(&v)
	if err != nil {
		e.t.Fatalf("customer %s: %v", email, err)
	}
	if v == nil {
		return ""
	}
	return *v
}

func contacts(t *testing.T, first, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := writeContacts(&b, first, n, true); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// badRows are appended to a contacts file (its lines after the contacts):
// two that cannot be read, two that cannot be mapped, and a blank one.
var badRows = strings.Join([]string{
	csvRow("1", `broken"quote@example.com`, "A", "B"), // a bare quote: rejected
	"2,short@example.com,A",                           // 3 fields: rejected
	csvRow("", "", "Nobody", "Known"),                 // no identifier: quarantined
	csvRow("4", "late@example.com", "Late", "Date", "", "", "", "", "", "yesterday-ish"), // a date that does not parse: quarantined
	csvRow(), // blank: not a row
}, "\n") + "\n"

// csvRow is a contacts row of the given leading fields, the rest empty.
func csvRow(fields ...string) string {
	return strings.Join(append(fields, make([]string, 11-len(fields))...), ",")
}

func TestImportCSVOnceAndAgain(t *testing.T) {
	e := newEnv(t)
	data := append(contacts(t, 0, 300), badRows...)
	rep := e.run(e.importer(e.config(importer.CSV)), "contacts.csv", data)

	if !rep.Complete || rep.Interrupted || rep.Resumed {
		t.Fatalf("report: %+v", rep)
	}
	want := importer.Report{RowsRead: 304, Enqueued: 302, Rejected: 2, Processed: 302, Quarantined: 2, CustomersCreated: 300}
	if rep.RowsRead != want.RowsRead || rep.Enqueued != want.Enqueued || rep.Skipped != 0 || rep.Rejected != want.Rejected ||
		rep.Processed != want.Processed || rep.Quarantined != want.Quarantined || rep.CustomersCreated != want.CustomersCreated {
		t.Fatalf("report %+v, want the counts of %+v", rep, want)
	}
	wantProblems := []importer.Problem{
		{Line: 302, Status: "rejected", Reason: "line 302: field 2: a quote in a field that is not quoted"},
		{Line: 303, Status: "rejected", Reason: "line 303: 3 fields, the header row has 11"},
		{Line: 304, Status: "quarantined", Reason: "no identifier"},
		{Line: 305, Status: "quarantined", Reason: "event.occurred_at"},
	}
	if len(rep.Problems) != len(wantProblems) {
		t.Fatalf("problems %+v, want %+v", rep.Problems, wantProblems)
	}
	for i, w := range wantProblems {
		p := rep.Problems[i]
		if p.Line != w.Line || p.Status != w.Status || !strings.Contains(p.Reason, w.Reason) {
			t.Errorf("problem %d: %+v, want %+v", i, p, w)
		}
	}

	// Customers hold the mapped traits; their events are on the outbox.
	if got := e.trait("person7@company7.example.com", "first_name"); got != "Kenji" {
		t.Errorf("first_name %q, want Kenji", got)
	}
	if got := e.trait("person7@company7.example.com", "phone"); got != "+5511900000007" {
		t.Errorf("phone %q", got)
	}
	if got := e.trait("person3@company3.example.com", "company"); got != "Fromagerie Dubois, SARL" {
		t.Errorf("company %q", got)
	}
	customers := 0 // the CRM stage moves them
	for i := range 300 {
		if stages[i%len(stages)] == "Customer" {
			customers++
		}
	}
	if n := e.count(`SELECT count(*) FROM customers WHERE stage = 'customer'`); n != customers {
		t.Errorf("%d customers in stage customer, want %d", n, customers)
	}
	if n := e.count(`SELECT count(*) FROM outbox WHERE type = $1`, mapping.TypeCustomerCreated); n != 300 {
		t.Errorf("%d created events on the outbox, want 300", n)
	}
	if n := e.count(`SELECT count(*) FROM customers WHERE created_at = '2023-01-01T00:07:00Z'`); n != 1 {
		t.Errorf("the contact's create date is not the record's creation: %d", n)
	}
	before := e.record()
	if before.customers != 300 || before.timeline != 300 || before.waiting != 0 {
		t.Fatalf("record %+v", before)
	}

	// The same file again adds nothing.
	again := e.run(e.importer(e.config(importer.CSV)), "contacts-copy.csv", data)
	if again.Run == rep.Run || !again.Complete || again.Enqueued != 0 || again.Skipped != 302 || again.Rejected != 2 ||
		again.Processed != 0 || again.CustomersCreated != 0 {
		t.Fatalf("second import: %+v", again)
	}
	if after := e.record(); after != withRejects(before, 2) {
		t.Fatalf("second import changed the record: %+v, then %+v", before, after)
	}
}

// withRejects: each run stores the rows it rejected (its own report).
func withRejects(r record, n int) record {
	r.inboxRows += n
	return r
}

func TestImportEditedFile(t *testing.T) {
	e := newEnv(t)
	data := contacts(t, 0, 200)
	e.run(e.importer(e.config(importer.CSV)), "contacts.csv", data)
	before := e.record()

	// Two rows edited, one added, the rows in another order: only the
	// edited and the new rows are imported.
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "100010,"):
			lines[i] = strings.Replace(l, ",BR,", ",PT,", 1)
		case strings.HasPrefix(l, "100021,"):
			lines[i] = strings.Replace(l, ",Lead,", ",Customer,", 1)
		}
	}
	lines[1], lines[len(lines)-1] = lines[len(lines)-1], lines[1]
	var edited bytes.Buffer
	edited.WriteString(strings.Join(lines, "\n") + "\n")
	if err := writeContacts(&edited, 200, 1, false); err != nil {
		t.Fatal(err)
	}
	rep := e.run(e.importer(e.config(importer.CSV)), "contacts.csv", edited.Bytes())
	if !rep.Complete || rep.RowsRead != 201 || rep.Enqueued != 3 || rep.Skipped != 198 || rep.CustomersCreated != 1 || rep.CustomersUpdated != 2 {
		t.Fatalf("edited file: %+v", rep)
	}
	if got := e.trait("person10@company10.example.com", "country"); got != "PT" {
		t.Errorf("edited country: %q", got)
	}
	var stage string
	if err := e.conn.QueryRow(context.Background(), `SELECT c.stage FROM customers c JOIN identities i ON i.customer_id = c.id
		WHERE i.type = 'email' AND i.value = 'person21@company21.example.com'`).Scan(&stage); err != nil || stage != "customer" {
		t.Errorf("edited stage: %q %v", stage, err)
	}
	after := e.record()
	if after.customers != before.customers+1 || after.timeline != before.timeline+3 {
		t.Errorf("record %+v, then %+v", before, after)
	}
}

func TestImportInterruptedThenResumed(t *testing.T) {
	e := newEnv(t)
	data := append(contacts(t, 0, 400), badRows...)
	cfg := e.config(importer.CSV)
	im := e.importer(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var batches atomic.Int32
	im.OnProgress = func(p importer.Progress) {
		if p.Phase == importer.Reading && batches.Add(1) == 3 {
			cancel()
		}
	}
	first, err := im.Run(ctx, importer.Input{Name: "contacts.csv", Src: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if !first.Interrupted || first.Complete || first.RowsRead != 150 || first.Enqueued != 150 {
		t.Fatalf("interrupted import: %+v", first)
	}
	// Its waiting rows are the import's alone: the daemon's claim does
	// not see them.
	if waiting := e.count(`SELECT count(*) FROM inbox WHERE status = 'importing'`); waiting != 150-int(first.Processed) {
		t.Fatalf("%d rows waiting, %d processed", waiting, first.Processed)
	}
	b, err := e.st.Claim(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	n := len(b.Requests())
	_ = b.Rollback(context.Background())
	if n != 0 {
		t.Fatalf("the daemon's claim took %d import rows", n)
	}

	rep := e.run(e.importer(cfg), "contacts.csv", data)
	if !rep.Resumed || !rep.Complete || rep.Run != first.Run {
		t.Fatalf("resumed import: %+v", rep)
	}
	if rep.RowsRead != 404 || rep.Enqueued != 402 || rep.Skipped != 0 || rep.Rejected != 2 || rep.Processed != 402 ||
		rep.Quarantined != 2 || rep.CustomersCreated != 400 {
		t.Fatalf("resumed import's counts: %+v", rep)
	}
	r := e.record()
	if r.customers != 400 || r.timeline != 400 || r.waiting != 0 || r.inboxRows != 404 {
		t.Fatalf("record after resuming: %+v", r)
	}
	if n := e.count(`SELECT count(*) FROM (SELECT customer_id FROM timeline GROUP BY customer_id HAVING count(*) > 1) d`); n != 0 {
		t.Fatalf("%d customers have a row applied twice", n)
	}
}

// A file edited after an interruption is another run; the rows the first
// one left waiting are taken over, not skipped unprocessed.
func TestImportEditedAfterInterruptionAdoptsWaitingRows(t *testing.T) {
	e := newEnv(t)
	data := contacts(t, 0, 300)
	// One row per transaction: the workers are far behind when the
	// import is interrupted.
	slow := e.config(importer.CSV)
	slow.Pipeline.Workers, slow.Pipeline.BatchSize = 1, 1
	im := e.importer(slow)
	ctx, cancel := context.WithCancel(context.Background())
	var batches atomic.Int32
	im.OnProgress = func(p importer.Progress) {
		if p.Phase == importer.Reading && batches.Add(1) == 4 {
			cancel()
		}
	}
	if _, err := im.Run(ctx, importer.Input{Name: "contacts.csv", Src: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	held := e.count(`SELECT count(*) FROM inbox WHERE status = 'importing'`)
	if held == 0 {
		t.Fatal("no row left waiting")
	}
	cfg := e.config(importer.CSV)
	var more bytes.Buffer
	if err := writeContacts(&more, 300, 1, false); err != nil {
		t.Fatal(err)
	}
	edited := append(data, more.Bytes()...)
	rep := e.run(e.importer(cfg), "contacts-v2.csv", edited)
	if rep.Resumed || !rep.Complete || rep.Adopted != int64(held) || rep.RowsRead != 301 || rep.Skipped != 200 || rep.Enqueued != 101 {
		t.Fatalf("edited import: %+v (held %d)", rep, held)
	}
	if r := e.record(); r.customers != 301 || r.timeline != 301 || r.waiting != 0 {
		t.Fatalf("record %+v", r)
	}
}

func TestImportJSONL(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	for i := range 120 {
		fmt.Fprintf(&b, `{"email": "jl%d@example.org", "first_name": "J%d", "created_at": "2024-05-01T10:00:00Z", "lifecycle_stage": "customer"}`+"\n", i, i)
	}
	b.WriteString("{\"email\": \n")
	b.WriteString(`{"first_name": "nobody"}` + "\n")
	data := []byte(b.String())
	rep := e.run(e.importer(e.config(importer.JSONL)), "contacts.jsonl", data)
	if !rep.Complete || rep.RowsRead != 122 || rep.Enqueued != 121 || rep.Rejected != 1 || rep.Quarantined != 1 || rep.CustomersCreated != 120 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.Problems) != 2 || rep.Problems[0].Line != 121 || rep.Problems[1].Line != 122 {
		t.Fatalf("problems %+v", rep.Problems)
	}
	if got := e.trait("jl5@example.org", "first_name"); got != "J5" {
		t.Errorf("first_name %q", got)
	}
	// Key order and spacing do not make a row new.
	var c strings.Builder
	for i := range 120 {
		fmt.Fprintf(&c, `{"lifecycle_stage":"customer","created_at":"2024-05-01T10:00:00Z","first_name":"J%d","email":"jl%d@example.org"}`+"\n", i, i)
	}
	again := e.run(e.importer(e.config(importer.JSONL)), "reordered.jsonl", []byte(c.String()))
	if again.Enqueued != 0 || again.Skipped != 120 {
		t.Fatalf("reordered keys imported again: %+v", again)
	}
}

// A changed mapping reads the same rows differently: they are imported
// again, updating the customers they resolve to.
func TestImportWithAnotherMappingImportsAgain(t *testing.T) {
	e := newEnv(t)
	data := contacts(t, 0, 50)
	e.run(e.importer(e.config(importer.CSV)), "contacts.csv", data)
	cfg := e.config(importer.CSV)
	cfg.DefaultRegion = "BR"
	rep := e.run(e.importer(cfg), "contacts.csv", data)
	if rep.Enqueued != 50 || rep.CustomersCreated != 0 || rep.Processed != 50 {
		t.Fatalf("report %+v", rep)
	}
	if r := e.record(); r.customers != 50 || r.timeline != 100 {
		t.Fatalf("record %+v", r)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	specs, err := configs.LoadMappings("../../configs/mappings")
	if err != nil {
		t.Fatal(err)
	}
	data := append(contacts(t, 0, 3), badRows...)
	cfg := importer.Config{Source: "import", Mapping: specs["import-contacts"], DefaultRegion: "US",
		Reader: importer.ReaderOptions{Format: importer.CSV}, Pipeline: pipeline.DefaultConfig()}
	var rows []importer.DryRow
	err = importer.DryRun(importer.Input{Name: "c.csv", Src: bytes.NewReader(data), Size: int64(len(data))}, cfg, 6,
		time.Now(), func(r importer.DryRow) error { rows = append(rows, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || rows[0].Status != "ok" || rows[3].Status != "rejected" || rows[5].Status != "quarantined" {
		t.Fatalf("rows %+v", rows)
	}
	ev := rows[0].Events[0]
	if ev.Type != "contact_imported" || ev.Traits["email"] != "person0@company0.example.com" || ev.Traits["hubspot_lifecycle_stage"] != "lead" ||
		ev.Traits["email_domain"] != "company0.example.com" {
		t.Errorf("event %+v", ev)
	}
}

// An import runs once at a time; an interrupted one left past the raw
// payload retention starts afresh (its stored rows may have been purged)
// and takes over what of it still waits.
func TestImportRunLockAndStaleRuns(t *testing.T) {
	e := newEnv(t)
	data := contacts(t, 0, 200)
	cfg := e.config(importer.CSV)
	digest, err := importer.MappingDigest(cfg.Mapping, cfg.DefaultRegion)
	if err != nil {
		t.Fatal(err)
	}
	fileSHA, err := importer.FileDigest(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	_, _, lock, err := e.st.OpenImportRun(context.Background(), pgstore.ImportRunKey{
		Source: "import", FileName: "other-process.csv", FileSHA256: fileSHA, FileSize: int64(len(data)),
		Format: "csv", MappingSHA256: digest,
	}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.importer(cfg).Run(context.Background(), importer.Input{Name: "contacts.csv", Src: bytes.NewReader(data), Size: int64(len(data))})
	if !errors.Is(err, pgstore.ErrImportRunning) {
		t.Fatalf("second import of a running one: %v", err)
	}
	lock.Release(context.Background())

	// Interrupted with rows waiting, then run again after the retention.
	slow := e.config(importer.CSV)
	slow.Pipeline.Workers, slow.Pipeline.BatchSize = 1, 1
	im := e.importer(slow)
	ctx, cancel := context.WithCancel(context.Background())
	im.OnProgress = func(p importer.Progress) {
		if p.Phase == importer.Reading && p.RowsRead >= 100 {
			cancel()
		}
	}
	first, err := im.Run(ctx, importer.Input{Name: "contacts.csv", Src: bytes.NewReader(data), Size: int64(len(data))})
	if err != nil || !first.Interrupted {
		t.Fatalf("interrupted import: %+v %v", first, err)
	}
	held := e.count(`SELECT count(*) FROM inbox WHERE status = 'importing'`)
	cfg.Retention = time.Nanosecond
	rep := e.run(e.importer(cfg), "contacts.csv", data)
	if rep.Resumed || rep.Run == first.Run || !rep.Complete || rep.Adopted != int64(held) || rep.RowsRead != 200 || rep.Skipped != 100 || rep.Enqueued != 100 {
		t.Fatalf("import after the retention: %+v (held %d)", rep, held)
	}
	if r := e.record(); r.customers != 200 || r.timeline != 200 || r.waiting != 0 {
		t.Fatalf("record %+v", r)
	}
}

// An import's quarantined rows cannot be replayed by the daemon (it does
// not have the import's mapping): a quarantine replay says to run the
// import again, and a range replay of the source skips them.
func TestImportedRowsAreNotReplayedByTheDaemon(t *testing.T) {
	e := newEnv(t)
	e.run(e.importer(e.config(importer.CSV)), "contacts.csv", append(contacts(t, 0, 5), badRows...))
	ctx := context.Background()
	var id int64
	if err := e.conn.QueryRow(ctx, `SELECT id FROM inbox WHERE status = 'quarantined' ORDER BY id LIMIT 1`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Replay(ctx, id, false); !errors.Is(err, pgstore.ErrImportedRequest) {
		t.Fatalf("quarantine replay of an imported row: %v, want ErrImportedRequest", err)
	}
	res, err := e.st.ReplayInbox(ctx, pgstore.InboxReplay{Source: "import", From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Queued != 0 || res.SkippedImported != int64(e.count(`SELECT count(*) FROM inbox WHERE import_run IS NOT NULL`)) {
		t.Fatalf("range replay of the import's source: %+v", res)
	}
	if n := e.count(`SELECT count(*) FROM inbox WHERE status = 'pending'`); n != 0 {
		t.Fatalf("%d imported rows were queued for the daemon", n)
	}
}
