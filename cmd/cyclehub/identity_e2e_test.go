package main

import (
	"net/http"
	"testing"

	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
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
