package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cyclehub/cyclehub/internal/eventschema"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
	"github.com/cyclehub/cyclehub/webhooks"
)

const eventsSecret = "whsec_" + "bGlmZWN5Y2xlLXRlc3Qtc2VjcmV0LWtleQ==" // "lifecycle-test-secret-key"

// lifecycleDaemon runs the daemon with the form, events (Standard
// Webhooks), Typeform and Zendesk sources and the default rules.
func lifecycleDaemon(t *testing.T) (*daemon, string, []string) {
	t.Helper()
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	cfg := testConfig(t, pgURL, brokers)
	cfg.Sources["events"] = webhooks.SourceConfig{Provider: "events", Secret: eventsSecret}
	cfg.Sources["typeform"] = webhooks.SourceConfig{Provider: "typeform", Secret: "typeform-test-secret"}
	cfg.Sources["zendesk"] = webhooks.SourceConfig{Provider: "zendesk", Secret: "zendesk-test-secret"}
	return startDaemon(t, cfg), pgURL, brokers
}

// send posts a signed webhook of source and expects 202.
func (d *daemon) send(source, body string) {
	d.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+d.httpAddr+"/hooks/"+source, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	mac := func(key []byte, parts ...string) string {
		m := hmac.New(sha256.New, key)
		for _, p := range parts {
			m.Write([]byte(p))
		}
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	now := time.Now().UTC()
	switch source {
	case "events": // Standard Webhooks
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(eventsSecret, "whsec_"))
		id, ts := fmt.Sprintf("msg_%d", now.UnixNano()), fmt.Sprint(now.Unix())
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", ts)
		req.Header.Set("webhook-signature", "v1,"+mac(key, id, ".", ts, ".", body))
	case "typeform":
		req.Header.Set("Typeform-Signature", "sha256="+mac([]byte("typeform-test-secret"), body))
	case "zendesk":
		ts := now.Format(time.RFC3339)
		req.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
		req.Header.Set("X-Zendesk-Webhook-Signature", mac([]byte("zendesk-test-secret"), ts, body))
		req.Header.Set("X-Zendesk-Webhook-Invocation-Id", fmt.Sprintf("inv-%d", now.UnixNano()))
	}
	if code, out := do(d.t, req); code != http.StatusAccepted {
		d.t.Fatalf("%s: %d %v", source, code, out)
	}
}

// waitLifecycle polls the customer until check holds.
func (d *daemon) waitLifecycle(email, what string, check func(c map[string]any) bool) map[string]any {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var c map[string]any
	for time.Now().Before(deadline) {
		var code int
		if code, c = d.customer(email); code == http.StatusOK && check(c) {
			return c
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("%s: %s never happened; last: stage %v, status %v, scores %v", email, what, c["stage"], c["customer_status"], c["scores"])
	return nil
}

func stageIs(stage string) func(map[string]any) bool {
	return func(c map[string]any) bool { return c["stage"] == stage }
}

func track(event, email string) string {
	return fmt.Sprintf(`{"type":"track","event":%q,"messageId":"m-%d","timestamp":%q,"context":{"traits":{"email":%q}}}`,
		event, time.Now().UnixNano(), time.Now().UTC().Format(time.RFC3339Nano), email)
}

func npsAnswer(email string, score int) string {
	return fmt.Sprintf(`{"event_id":"e-%d","event_type":"form_response","form_response":{"form_id":"NPS1","token":"tok-%d","submitted_at":%q,`+
		`"answers":[{"type":"email","email":%q,"field":{"ref":"email","type":"email"}},`+
		`{"type":"number","number":%d,"field":{"ref":"nps","type":"opinion_scale"}}]}}`,
		time.Now().UnixNano(), time.Now().UnixNano(), time.Now().UTC().Format(time.RFC3339), email, score)
}

// streamOf reads every event keyed by id from every partition of the topic,
// each checked against the published schemas (internal/eventschema).
func streamOf(t *testing.T, brokers []string, topic, id string) []map[string]any {
	t.Helper()
	conn, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, p := range parts {
		pc, err := kafka.DialLeader(context.Background(), "tcp", brokers[0], topic, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		last, _ := pc.ReadLastOffset()
		pc.Close()
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("partition %d: %v", p.ID, err)
			}
			if string(m.Key) == id {
				if err := eventschema.Validate(m.Value); err != nil {
					t.Fatalf("partition %d offset %d: %v\n%s", p.ID, m.Offset, err, m.Value)
				}
				var ev map[string]any
				if err := json.Unmarshal(m.Value, &ev); err != nil {
					t.Fatal(err)
				}
				out = append(out, ev)
			}
			if m.Offset >= last-1 {
				break
			}
		}
		cancel()
		r.Close()
	}
	return out
}

// The journey through real webhooks and the default rules: a VP
// with a business email requests a demo (MQL), a deal is won (customer),
// they answer NPS 10 and refer someone (evangelist); another customer has
// three urgent tickets and answers NPS 3 (at risk). The stage history the
// admin API shows and the stage_changed events on Kafka match, in order,
// with a gapless sequence.
func TestTheLifecycleJourneyMatchesOnTheStreamAndInTheHistory(t *testing.T) {
	d, pgURL, brokers := lifecycleDaemon(t)
	vera := "vera@acme-software.com"

	d.send("form", `{"email":"Vera@Acme-Software.com","name":"Vera Costa","job_title":"VP Marketing","company":"Acme Software","form_name":"Request a demo"}`)
	c := d.waitLifecycle(vera, "MQL", stageIs("marketingqualifiedlead"))
	id := c["id"].(string)

	d.send("events", track("Deal Won", vera))
	d.waitLifecycle(vera, "customer", stageIs("customer"))
	d.send("typeform", npsAnswer(vera, 10))
	d.waitLifecycle(vera, "promoter", func(c map[string]any) bool {
		return c["scores"].(map[string]any)["nps_category"] == "promoter"
	})
	d.send("form", `{"email":"li.wei@acme-software.com","name":"Li Wei","referred_by":"vera@acme-software.com"}`)
	c = d.waitLifecycle(vera, "evangelist", stageIs("evangelist"))
	if c["referral_count"] != float64(1) || c["customer_status"] != "active" {
		t.Errorf("evangelist: referral_count %v, status %v", c["referral_count"], c["customer_status"])
	}
	_, li := d.customer("li.wei@acme-software.com")
	if li["referred_by"] != id {
		t.Errorf("the referred lead points to %v, want %s", li["referred_by"], id)
	}

	var history, triggers []string
	for _, s := range c["stage_history"].([]any) {
		history = append(history, s.(map[string]any)["stage"].(string))
		triggers = append(triggers, s.(map[string]any)["trigger"].(string))
	}
	want := []string{"marketingqualifiedlead", "customer", "evangelist"}
	if !slices.Equal(history, want) {
		t.Fatalf("stage history %v, want %v", history, want)
	}
	if want := []string{"form_submitted", "deal_won", "lifecycle.requeued"}; !slices.Equal(triggers, want) {
		t.Errorf("stage history triggers %v, want %v", triggers, want)
	}
	scores := c["scores"].(map[string]any)
	if contributions, _ := scores["contributions"].(map[string]any); contributions["fit"] == nil || contributions["engagement"] == nil {
		t.Errorf("scores without contributions: %v", scores)
	}

	// At risk: three urgent tickets and an NPS of 3.
	ops := "ops@bigco.example.org"
	d.send("events", track("Order Completed", ops))
	d.waitLifecycle(ops, "customer", stageIs("customer"))
	for _, tid := range []string{"701", "702", "703"} {
		d.send("zendesk", `{"event":"ticket_created","ticket":{"id":"`+tid+`","subject":"Down","status":"open","priority":"urgent"},"requester":{"email":"`+ops+`"}}`)
	}
	d.send("typeform", npsAnswer(ops, 3))
	d.waitLifecycle(ops, "at risk", func(c map[string]any) bool { return c["customer_status"] == "at_risk" })

	// The stream: Vera's events in order, gapless, the stage changes as in
	// the history.
	waitQuery(t, pgURL, `SELECT count(*) FROM outbox WHERE published_at IS NULL`, 0)
	evs := streamOf(t, brokers, d.cfg.Kafka.Topic, id)
	var stages []string
	for i, ev := range evs {
		if ev["sequence"] != fmt.Sprint(i+1) {
			t.Fatalf("event %d of %s has sequence %v: not in order or not gapless", i, id, ev["sequence"])
		}
		if ev["type"] == "cyclehub.customer.stage_changed.v1" {
			data := ev["data"].(map[string]any)
			stages = append(stages, data["to_stage"].(string))
			if data["rule_id"] == "" || data["direction"] != "forward" || data["scores"] == nil {
				t.Errorf("stage_changed data %v", data)
			}
		}
	}
	if !slices.Equal(stages, want) {
		t.Fatalf("stage_changed on the stream %v, want %v", stages, want)
	}
}

// A rule change is tried first (backtest: counts and names who would
// change, writes nothing), then applied online (rules apply: the changes
// and their events are written).
func TestRulesBacktestAndApply(t *testing.T) {
	d, pgURL, _ := lifecycleDaemon(t)
	d.send("form", `{"email":"vera@acme-software.com","job_title":"VP Marketing","form_name":"Request a demo"}`)
	d.send("form", `{"email":"joe@gmail.com","form_name":"Newsletter"}`)
	d.waitLifecycle("vera@acme-software.com", "MQL", stageIs("marketingqualifiedlead"))
	d.waitLifecycle("joe@gmail.com", "lead", stageIs("lead"))
	id := queryString(t, pgURL, `SELECT customer_id::text FROM identities WHERE value = 'vera@acme-software.com'`)

	// The proposal: a demo request qualifies only fit leads of 60 or more.
	proposed := t.TempDir()
	for _, f := range []string{"model.yaml", "fit.yaml", "engagement.yaml", "health.yaml", "stages.yaml", "status.yaml"} {
		data, err := os.ReadFile(filepath.Join(configsAbs(t, "rules"), f))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if f == "stages.yaml" {
			text = strings.Replace(text, `scores.fit >= 30 && "demo_request" in event.matched`, `scores.fit >= 60 && "demo_request" in event.matched`, 1)
		}
		if f == "model.yaml" {
			text = strings.Replace(text, `version: "`, `version: "proposed-`, 1)
		}
		if err := os.WriteFile(filepath.Join(proposed, f), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgFile := filepath.Join(t.TempDir(), "cyclehub.yaml")
	if err := os.WriteFile(cfgFile, []byte(`
mappings_dir: `+configsAbs(t, "mappings")+`
rules_dir: `+configsAbs(t, "rules")+`
postgres: {url: "`+pgURL+`"}
admin: {token: `+testAdminToken+`}
privacy: {suppression_key: test-suppression-key-0123}
sources: {form: {provider: form}}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CYCLEHUB_POSTGRES_URL", pgURL) // the environment wins over the file
	outboxBefore := queryInt(t, pgURL, `SELECT count(*) FROM outbox`)

	var stdout, stderr strings.Builder
	if code := run([]string{"rules", "backtest", "--config", cfgFile, "--rules", proposed}, &stdout, &stderr); code != 0 {
		t.Fatalf("backtest: exit %d: %s", code, stderr.String())
	}
	report := stdout.String()
	t.Log(report)
	for _, want := range []string{"2 customers replayed", "would change stage:           1", "marketingqualifiedlead → lead", id, "nothing was written"} {
		if !strings.Contains(report, want) {
			t.Errorf("the backtest report lacks %q:\n%s", want, report)
		}
	}
	if n := queryInt(t, pgURL, `SELECT count(*) FROM outbox`); n != outboxBefore {
		t.Fatalf("the backtest wrote %d events", n-outboxBefore)
	}

	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"rules", "apply", "--config", cfgFile, "--rules", proposed}, &stdout, &stderr); code != 0 {
		t.Fatalf("apply: exit %d: %s", code, stderr.String())
	}
	var res struct {
		Customers int `json:"customers"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil || res.Customers != 2 {
		t.Fatalf("apply printed %s (%v)", stdout.String(), err)
	}
	// Forward-only: re-scoring with stricter rules moves nobody back, but
	// every score now comes from the proposed model.
	if n := queryInt(t, pgURL, `SELECT count(*) FROM customers WHERE scores->>'model' LIKE 'proposed-%'`); n != 2 {
		t.Fatalf("%d customers re-scored with the proposed model, want 2", n)
	}
	if n := queryInt(t, pgURL, `SELECT count(*) FROM customers WHERE id = $1 AND stage = 'marketingqualifiedlead'`, id); n != 1 {
		t.Fatal("rules apply moved a customer back without a backward rule")
	}
}

// SIGHUP reloads the rules: a valid change applies to the next event; a
// broken file keeps the last good model.
func TestReloadingRulesAppliesChangesAndKeepsTheLastGoodOnError(t *testing.T) {
	dir := t.TempDir()
	src := configsAbs(t, "rules")
	files, _ := filepath.Glob(filepath.Join(src, "*.yaml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	edit := func(name, old, repl string) {
		t.Helper()
		p := filepath.Join(dir, name)
		data, _ := os.ReadFile(p)
		if !strings.Contains(string(data), old) {
			t.Fatalf("%s has no %q", name, old)
		}
		if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, repl, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, brokers := testsvc.Kafka(t)
	cfg := testConfig(t, pgtest.URL(t), brokers)
	cfg.RulesDir = dir
	d := startDaemon(t, cfg)
	model := func(email string) any {
		t.Helper()
		if code, out := d.post("/hooks/form", "application/json", `{"email":"`+email+`"}`); code != http.StatusAccepted {
			t.Fatalf("post: %d %v", code, out)
		}
		return d.waitLifecycle(email, "scored", func(c map[string]any) bool { return c["scores"].(map[string]any)["model"] != nil })["scores"].(map[string]any)["model"]
	}
	if m := model("before@example.com"); m != cfg.Rules.Version {
		t.Fatalf("model %v, want %s", m, cfg.Rules.Version)
	}
	edit("model.yaml", `version: "`, `version: "v2-`)
	d.reload()
	if m := model("after@example.com"); m != "v2-"+cfg.Rules.Version {
		t.Fatalf("the reloaded rules were not applied: model %v", m)
	}
	edit("stages.yaml", `to: lead`, `to: nowhere`)
	edit("model.yaml", `version: "v2-`, `version: "v3-`)
	d.reload()
	if m := model("broken@example.com"); m != "v2-"+cfg.Rules.Version {
		t.Fatalf("broken rules replaced the last good ones: model %v", m)
	}
}
