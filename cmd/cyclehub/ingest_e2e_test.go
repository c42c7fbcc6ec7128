package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/cyclehub/cyclehub/internal/eventschema"
	"github.com/cyclehub/cyclehub/internal/testsvc"
)

const anaForm = "first_name=Ana&last_name=Lima&email=Ana.Lima%40Example.com+&phone=%2B55+11+98765-4321" +
	"&company=Lima+Consultoria+Ltda&message=Quero+uma+demonstra%C3%A7%C3%A3o&utm_source=google" +
	"&utm_medium=cpc&utm_campaign=spring_launch_2025&gclid=Cj0KCQjw-TEST"

func TestAFormPostBecomesACustomerAndACloudEventOnTheStream(t *testing.T) {
	d, _, brokers := newTestDaemon(t)

	code, ack := d.post("/hooks/form", "application/x-www-form-urlencoded", anaForm)
	if code != http.StatusAccepted || ack["request_id"] == "" {
		t.Fatalf("ack = %d %v, want 202 with a request_id", code, ack)
	}

	c := d.waitCustomer("ana.lima@example.com")
	traits := c["traits"].(map[string]any)
	for k, want := range map[string]string{
		"email": "ana.lima@example.com", "phone": "+5511987654321", "first_name": "Ana",
		"last_name": "Lima", "company": "Lima Consultoria Ltda",
	} {
		if traits[k] != want {
			t.Errorf("traits.%s = %v, want %q", k, traits[k], want)
		}
	}
	first := c["attribution"].(map[string]any)["first_touch"].(map[string]any)
	if first["utm_source"] != "google" || first["utm_campaign"] != "spring_launch_2025" || first["gclid"] != "Cj0KCQjw-TEST" {
		t.Errorf("first touch = %v", first)
	}
	id := c["id"].(string)

	// The event, read back by an independent consumer (kafka-go Reader).
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: d.cfg.Kafka.Topic, Partition: partitionOf(t, brokers, d.cfg.Kafka.Topic, id), MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msg, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("read event: %v", err)
	}
	if string(msg.Key) != id {
		t.Fatalf("key = %s, want customer id %s", msg.Key, id)
	}
	var ev map[string]any
	if err := json.Unmarshal(msg.Value, &ev); err != nil {
		t.Fatal(err)
	}
	if ev["specversion"] != "1.0" || ev["type"] != "cyclehub.customer.created.v1" || ev["subject"] != "customer/"+id || ev["sequence"] != "1" {
		t.Fatalf("event envelope = %v", ev)
	}
	if strings.Contains(string(msg.Value), "ana.lima@example.com") {
		t.Fatalf("the stream carries the email: %s", msg.Value)
	}
	headers := map[string]string{}
	for _, h := range msg.Headers {
		headers[h.Key] = string(h.Value)
	}
	if headers["ce_type"] != "cyclehub.customer.created.v1" || !strings.HasPrefix(headers["content-type"], "application/cloudevents+json") {
		t.Fatalf("headers = %v", headers)
	}
}

// partitionOf finds the partition holding key by reading every partition.
func partitionOf(t *testing.T, brokers []string, topic, key string) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := kafka.Dial("tcp", brokers[0])
		if err != nil {
			t.Fatal(err)
		}
		parts, err := conn.ReadPartitions(topic)
		conn.Close()
		if err == nil {
			for _, p := range parts {
				pc, err := kafka.DialLeader(context.Background(), "tcp", brokers[0], topic, p.ID)
				if err != nil {
					continue
				}
				last, _ := pc.ReadLastOffset()
				pc.Close()
				if last > 0 {
					r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p.ID, MaxWait: 100 * time.Millisecond})
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					m, err := r.ReadMessage(ctx)
					cancel()
					r.Close()
					if err == nil && string(m.Key) == key {
						return p.ID
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no partition of %s holds key %s", topic, key)
	return 0
}

func TestKcatReadsTheCloudEvent(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		testsvc.Require(t, "kcat", "Debian's kcat is not installed (scripts/devstack.sh up installs it)")
	}
	d, _, brokers := newTestDaemon(t)
	if code, _ := d.post("/hooks/form", "application/json", `{"email":"kcat@example.com","name":"Kay Cat"}`); code != http.StatusAccepted {
		t.Fatalf("post: %d", code)
	}
	id := d.waitCustomer("kcat@example.com")["id"].(string)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		out, err := exec.CommandContext(ctx, "kcat", "-b", brokers[0], "-C", "-t", d.cfg.Kafka.Topic, "-e", "-q",
			"-f", "%k\t%h\t%s\n").CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("kcat: %v\n%s", err, out)
		}
		// Every event on the topic, whoever it is about, matches the
		// published schemas (internal/eventschema/schemas).
		seen := false
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if line == "" {
				continue
			}
			parts := strings.SplitN(line, "\t", 3)
			if len(parts) != 3 {
				t.Fatalf("kcat printed a line that is not key, headers, value: %q", line)
			}
			if err := eventschema.Validate([]byte(parts[2])); err != nil {
				t.Fatalf("key %s: %v\n%s", parts[0], err, parts[2])
			}
			if parts[0] != id || seen {
				continue
			}
			seen = true
			if !strings.Contains(parts[1], "ce_type=cyclehub.customer.created.v1") {
				t.Fatalf("kcat headers = %s", parts[1])
			}
			var ev struct {
				SpecVersion string `json:"specversion"`
				Type        string `json:"type"`
				Subject     string `json:"subject"`
				Data        struct {
					CustomerID string `json:"customer_id"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(parts[2]), &ev); err != nil {
				t.Fatalf("kcat value is not JSON: %v: %s", err, parts[2])
			}
			if ev.SpecVersion != "1.0" || ev.Subject != "customer/"+id || ev.Data.CustomerID != id {
				t.Fatalf("kcat event = %+v", ev)
			}
		}
		if seen {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("kcat never saw the event for %s", id)
}

func TestBadInputGetsAClearAnswer(t *testing.T) {
	d, pgURL, _ := newTestDaemon(t)
	big := strings.Repeat("x", int(d.cfg.HTTP.MaxBodyBytes)+1)
	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		auth        string
		want        int
		wantError   string
	}{
		{"an unknown source is 404", "POST", "/hooks/nope", "application/json", `{}`, "", 404, "unknown_source"},
		{"a GET on a form source is 405", "GET", "/hooks/form", "", "", "", 405, "method_not_allowed"},
		{"a body past the limit is 413", "POST", "/hooks/form", "application/x-www-form-urlencoded", "email=" + big, "", 413, "body_too_large"},
		{"an XML body is 415", "POST", "/hooks/form", "application/xml", "<a/>", "", 415, "unsupported_media_type"},
		{"broken JSON is 400 with the reason", "POST", "/hooks/form", "application/json", `{"email":`, "", 400, "malformed_body"},
		{"a missing source token is 401", "POST", "/hooks/secured", "application/json", `{"email":"a@example.com"}`, "", 401, "unauthorized"},
		{"a wrong source token is 401", "POST", "/hooks/secured?token=wrong-token-0000000000", "application/json", `{"email":"a@example.com"}`, "", 401, "unauthorized"},
		{"the token as a query parameter is accepted", "POST", "/hooks/secured?token=form-token-0123456789", "application/json", `{"email":"q@example.com"}`, "", 202, ""},
		{"the token as the Basic password is accepted", "POST", "/hooks/secured", "application/json", `{"email":"b@example.com"}`, "form-token-0123456789", 202, ""},
		{"the token as the last path segment is accepted", "POST", "/hooks/secured/form-token-0123456789", "application/json", `{"email":"p@example.com"}`, "", 202, ""},
		{"a wrong path token is 401", "POST", "/hooks/secured/wrong-token-0000000000", "application/json", `{"email":"p@example.com"}`, "", 401, "unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, "http://"+d.httpAddr+tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.auth != "" {
				req.SetBasicAuth("cyclehub", tc.auth)
			}
			code, out := do(t, req)
			if code != tc.want || out["error"] != tc.wantError {
				t.Fatalf("got %d %v, want %d %q", code, out, tc.want, tc.wantError)
			}
			if code >= 400 && out["message"] == "" {
				t.Fatalf("error answer has no message: %v", out)
			}
		})
	}
	if n := queryInt(t, pgURL, `SELECT count(*) FROM inbox WHERE status = 'rejected' AND body = convert_to('{"email":', 'UTF8') AND reason LIKE 'malformed body: invalid JSON%'`); n != 1 {
		t.Fatalf("the malformed request was not kept for inspection (rows=%d)", n)
	}
	if n := queryInt(t, pgURL, `SELECT count(*) FROM inbox WHERE query LIKE '%token%'`); n != 0 {
		t.Fatal("a source token was stored with the request")
	}
}

func TestAnUnmappableRequestIsQuarantinedAndDoesNotBlockOthers(t *testing.T) {
	d, pgURL, _ := newTestDaemon(t)
	if code, _ := d.post("/hooks/form", "application/json", `{"comment":"no identifier here"}`); code != http.StatusAccepted {
		t.Fatalf("post: %d", code)
	}
	if code, _ := d.post("/hooks/form", "application/json", `{"email":"after@example.com"}`); code != http.StatusAccepted {
		t.Fatalf("post: %d", code)
	}
	d.waitCustomer("after@example.com")
	deadline := time.Now().Add(10 * time.Second)
	for queryInt(t, pgURL, `SELECT count(*) FROM inbox WHERE status = 'quarantined' AND reason LIKE '%no valid user id, email or phone%'`) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the unmappable request was not quarantined with its reason")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSubmissionsFromOnePersonUpdateOneCustomerWithGaplessVersions(t *testing.T) {
	d, pgURL, _ := newTestDaemon(t)
	for i, body := range []string{
		"email=ONE%40example.com&first_name=Jo",
		"email=one%40example.com&company=Acme",
		"email=one%40example.com&phone=%2B5511987654321",
		"phone=%2B55+11+98765-4321&job_title=VP+Sales",
	} {
		if code, _ := d.post("/hooks/form", "application/x-www-form-urlencoded", body); code != http.StatusAccepted {
			t.Fatalf("post %d: %d", i, code)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, c := d.customer("one@example.com")
		if traits, ok := c["traits"].(map[string]any); ok && traits["job_title"] == "VP Sales" && traits["company"] == "Acme" && traits["first_name"] == "Jo" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("customer never got every trait: %v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := queryInt(t, pgURL, `SELECT count(*) FROM customers`); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
	if n := queryInt(t, pgURL, `SELECT count(*) FROM timeline`); n != 4 {
		t.Fatalf("%d timeline entries, want 4", n)
	}
	// sequence = version, gapless: 1..max with no holes or repeats.
	if bad := queryInt(t, pgURL, `SELECT count(*) FROM (SELECT sequence, row_number() OVER (ORDER BY id) AS rn FROM outbox) s WHERE sequence <> rn`); bad != 0 {
		t.Fatalf("outbox sequences are not 1..n in order")
	}
}
