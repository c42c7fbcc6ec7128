package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
	"github.com/cyclehub/cyclehub/webhooks"
)

// Two records proven to be one person are merged; the merged id answers
// with a pointer to the survivor, which shows the merge, the consent
// choice and the enrichment.
func TestAMergedIDPointsToTheSurvivorWhichShowsItsHistory(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	d := startDaemon(t, testConfig(t, pgURL, brokers))
	post := func(body string) {
		t.Helper()
		if code, out := d.post("/hooks/form", "application/json", body); code != http.StatusAccepted {
			t.Fatalf("post: %d %v", code, out)
		}
	}
	post(`{"email":"hana.kim@example.com","opt_in":"yes","utm_source":"google","utm_medium":"cpc"}`)
	first := d.waitCustomer("hana.kim@example.com")["id"].(string)
	post(`{"phone":"+14155550188","company":"Kim Studio"}`)
	waitQuery(t, pgURL, `SELECT count(*) FROM customers`, 2)
	second := queryString(t, pgURL, `SELECT customer_id::text FROM identities WHERE type = 'phone'`)
	post(`{"email":"hana.kim@example.com","phone":"+1 415 555 0188"}`)
	waitQuery(t, pgURL, `SELECT count(*) FROM customers WHERE merged_into IS NOT NULL`, 1)

	req, _ := http.NewRequest(http.MethodGet, "http://"+d.httpAddr+"/v1/customers/"+second, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/v1/customers/"+first {
		t.Fatalf("the merged id: %d Location %q, want 301 to %s", resp.StatusCode, resp.Header.Get("Location"), first)
	}
	// A client that follows redirects lands on the survivor.
	if code, c := d.admin("/v1/customers/" + second); code != http.StatusOK || c["id"] != first {
		t.Fatalf("following the redirect: %d %v", code, c["id"])
	}
	code, c := d.admin("/v1/customers/" + first)
	if code != http.StatusOK {
		t.Fatalf("the survivor: %d %v", code, c)
	}
	merges, _ := c["merges"].([]any)
	consent, _ := c["consent"].(map[string]any)
	traits, _ := c["traits"].(map[string]any)
	touch, _ := c["attribution"].(map[string]any)["first_touch"].(map[string]any)
	switch {
	case len(merges) != 1 || merges[0].(map[string]any)["merged_id"] != second:
		t.Errorf("merges = %v", merges)
	case consent["email_marketing"] == nil || consent["email_marketing"].(map[string]any)["status"] != "granted":
		t.Errorf("consent = %v", consent)
	case traits["company"] != "Kim Studio" || traits["company_domain"] != "example.com" || traits["phone_country"] != "US":
		t.Errorf("traits = %v", traits)
	case touch["channel"] != "paid_search":
		t.Errorf("first touch = %v", touch)
	}
}

// The journey through the real provider mappings: a web form with
// a work email, a Zendesk ticket from the same email with a phone, a
// Typeform NPS answer carrying only the phone. One customer holds all
// three interactions, the ticket and the NPS response.
func TestAFormATicketAndAnNPSAnswerBecomeOneCustomer(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	cfg := testConfig(t, pgURL, brokers)
	cfg.Sources["zendesk"] = webhooks.SourceConfig{Provider: "zendesk", Secret: "zendesk-test-secret", DefaultRegion: "BR"}
	cfg.Sources["typeform"] = webhooks.SourceConfig{Provider: "typeform", Secret: "typeform-test-secret", DefaultRegion: "BR"}
	d := startDaemon(t, cfg)
	send := func(source, body string, sign func(*http.Request)) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+d.httpAddr+"/hooks/"+source, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sign != nil {
			sign(req)
		}
		if code, out := do(t, req); code != http.StatusAccepted {
			t.Fatalf("%s: %d %v", source, code, out)
		}
	}
	hmacB64 := func(secret string, parts ...string) string {
		m := hmac.New(sha256.New, []byte(secret))
		for _, p := range parts {
			m.Write([]byte(p))
		}
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}

	send("form", `{"email":"Marina.Costa@Costa-Engenharia.com.br","first_name":"Marina","last_name":"Costa","company":"Costa Engenharia","utm_source":"linkedin","utm_medium":"paid_social"}`, nil)
	id := d.waitCustomer("marina.costa@costa-engenharia.com.br")["id"].(string)

	ticket := `{"event":"ticket_created","ticket":{"id":"9001","subject":"Proposta","status":"New","via":"Web Form"},` +
		`"requester":{"id":"555","name":"Marina Costa","email":"marina.costa@costa-engenharia.com.br","phone":"(21) 99876-5432","locale":"pt-BR"}}`
	send("zendesk", ticket, func(r *http.Request) {
		ts := time.Now().UTC().Format(time.RFC3339)
		r.Header.Set("X-Zendesk-Webhook-Signature-Timestamp", ts)
		r.Header.Set("X-Zendesk-Webhook-Signature", hmacB64("zendesk-test-secret", ts, ticket))
		r.Header.Set("X-Zendesk-Webhook-Invocation-Id", "inv-1")
	})
	waitQuery(t, pgURL, `SELECT count(*) FROM identities WHERE type = 'phone'`, 1)

	nps := `{"event_id":"ev1","event_type":"form_response","form_response":{"form_id":"F1","token":"tok-1","submitted_at":"` +
		time.Now().UTC().Format(time.RFC3339) + `","answers":[{"type":"phone_number","phone_number":"+5521998765432","field":{"ref":"phone","type":"phone_number"}},` +
		`{"type":"number","number":9,"field":{"ref":"nps","type":"opinion_scale"}}]}}`
	send("typeform", nps, func(r *http.Request) {
		r.Header.Set("Typeform-Signature", "sha256="+hmacB64("typeform-test-secret", nps))
	})
	waitQuery(t, pgURL, `SELECT count(*) FROM timeline`, 3)

	if n := queryInt(t, pgURL, `SELECT count(*) FROM customers WHERE merged_into IS NULL`); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
	code, c := d.admin("/v1/customers/" + id)
	if code != http.StatusOK {
		t.Fatalf("customer: %d %v", code, c)
	}
	traits := c["traits"].(map[string]any)
	tickets, _ := c["tickets"].([]any)
	responses, _ := c["survey_responses"].([]any)
	switch {
	case traits["phone"] != "+5521998765432" || traits["company"] != "Costa Engenharia" || traits["company_domain"] != "costa-engenharia.com.br":
		t.Errorf("traits = %v", traits)
	case len(tickets) != 1 || tickets[0].(map[string]any)["ticket_id"] != "9001":
		t.Errorf("tickets = %v", tickets)
	case len(responses) != 1 || responses[0].(map[string]any)["score"] != "9" || responses[0].(map[string]any)["kind"] != "nps":
		t.Errorf("survey responses = %v", responses)
	}
}
