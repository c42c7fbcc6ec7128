package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/internal/testsvc"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
	"github.com/cyclehub/cyclehub/webhooks"
)

// lockedBuffer collects what every goroutine of the daemon logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// At debug level, in the production format, nothing the daemon logs while
// it is attacked and used holds a secret of its config, a credential
// presented to it (right or wrong), a signature it expected, or the data of
// the person it handles: bad signatures, a source token in every place it
// can be sent, an unknown source, malformed bodies, Meta's handshake, the
// admin API with a wrong token, destinations that answer 401, 500 and 410
// with bodies that echo what they got, and an erasure.
func TestLogsHoldNoSecretsOrPersonalData(t *testing.T) {
	_, brokers := testsvc.Kafka(t)
	pgURL := pgtest.URL(t)
	cfg := testConfig(t, pgURL, brokers)

	const (
		typeformSecret = "tf-signing-secret-LEAKCHECK-9f3k"
		metaSecret     = "meta-app-secret-LEAKCHECK-7h2m"
		metaVerify     = "meta-verify-token-LEAKCHECK-4q8z"
		formToken      = "form-token-0123456789" // testConfig's "secured" source
		email          = "zeferino.vazamento@example.org"
		phone          = "+55 11 97531-8642"
		given, family  = "Brazelina", "Quintanilha"
		destKey        = "dest-api-key-LEAKCHECK-3x7p"
	)
	cfg.Sources["typeform"] = webhooks.SourceConfig{Provider: "typeform", Secret: typeformSecret, DefaultRegion: "BR"}
	cfg.Sources["meta"] = webhooks.SourceConfig{Provider: "meta", Secret: metaSecret, VerifyToken: metaVerify}

	// Destinations that explain their refusals the way APIs do: naming
	// the contact, quoting the signature, then echoing the request.
	contact := regexp.MustCompile(`[a-z0-9.]+@example\.org`)
	echo := func(status int) configs.DestinationConfig {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":"refused contact %s with key %s","signature":%q,"request":%s}`,
				contact.Find(body), r.Header.Get("X-Api-Key"), r.Header.Get("webhook-signature"), body)
		}))
		t.Cleanup(srv.Close)
		// Each sends an API key of its own, as a secret header.
		dest := webhookDestination(srv.URL, 2*time.Second)
		wh := *dest.Webhook
		wh.Headers = map[string]secret.Secret{"X-Api-Key": secret.Secret(destKey)}
		dest.Webhook = &wh
		return dest
	}
	cfg.Destinations = map[string]configs.DestinationConfig{
		"rejecting": echo(http.StatusUnauthorized),
		"failing":   echo(http.StatusInternalServerError),
		"gone":      echo(http.StatusGone),
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}

	// What must never be logged, and what it is.
	needles := map[string]string{
		typeformSecret: "the typeform signing secret", metaSecret: "the Meta app secret", metaVerify: "the Meta verify token",
		formToken: "a source token", testAdminToken: "the admin token",
		destSecret: "the whsec signing secret", strings.TrimPrefix(destSecret, "whsec_"): "the whsec signing secret's key",
		cfg.Privacy.SuppressionKey.Reveal(): "the suppression key", destKey: "a destination's API key",
		"zeferino.vazamento": "the email", "975318642": "the phone", "97531-8642": "the phone",
		strings.ToLower(given): "the given name", strings.ToLower(family): "the family name",
	}
	for name, raw := range map[string]string{"postgres": pgURL, "redis": cfg.Redis.URL.Reveal()} {
		if u, err := url.Parse(raw); err == nil {
			if pw, ok := u.User.Password(); ok && pw != "" {
				needles[pw] = "the " + name + " password"
			}
		}
	}

	var logs lockedBuffer
	logger := newLogger(configs.LogConfig{Level: "debug", Format: "json"}, &logs)
	// Registered before the daemon starts, so it runs after the daemon's
	// own clean-up has stopped it, and sees the shutdown's lines too.
	t.Cleanup(func() { checkLogs(t, logs.String(), needles) })
	d := startDaemonWith(t, cfg, nil, logger)

	send := func(method, path, contentType, body string, header http.Header) int {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+d.httpAddr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		code, _ := do(t, req)
		return code
	}
	expect := func(what string, got, want int) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: %d, want %d", what, got, want)
		}
	}
	b64mac := func(key, body string) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(body))
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	hexmac := func(key, body string) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(body))
		return hex.EncodeToString(m.Sum(nil))
	}
	form := url.Values{"email": {email}, "first_name": {given}, "last_name": {family}, "phone": {phone}, "company": {"Vazamento Ltda"}}.Encode()
	const formType = "application/x-www-form-urlencoded"

	// The person arrives through a form and a signed survey.
	expect("the form", send("POST", "/hooks/form", formType, form, nil), http.StatusAccepted)
	id := d.waitCustomer(email)["id"].(string)
	survey := `{"event_id":"ev-leak-1","event_type":"form_response","form_response":{"form_id":"F1","token":"tok-leak-1","submitted_at":"` +
		time.Now().UTC().Format(time.RFC3339) + `","answers":[{"type":"email","email":"` + email + `","field":{"ref":"email","type":"email"}},` +
		`{"type":"phone_number","phone_number":"+5511975318642","field":{"ref":"phone","type":"phone_number"}},` +
		`{"type":"number","number":9,"field":{"ref":"nps","type":"opinion_scale"}}]}}`
	expect("a signed survey", send("POST", "/hooks/typeform", "application/json", survey,
		http.Header{"Typeform-Signature": {"sha256=" + b64mac(typeformSecret, survey)}}), http.StatusAccepted)

	// Bad signatures: the one the daemon expected is as secret as the key.
	forged := strings.Replace(survey, "ev-leak-1", "ev-leak-2", 1)
	needles[b64mac(typeformSecret, forged)] = "the signature the daemon expected"
	for what, sig := range map[string][]string{
		"signed with another key":  {"sha256=" + b64mac("not-the-secret", forged)},
		"signed over another body": {"sha256=" + b64mac(typeformSecret, survey)},
		"not signed":               nil,
	} {
		h := http.Header{}
		if sig != nil {
			h["Typeform-Signature"] = sig
		}
		expect("a survey "+what, send("POST", "/hooks/typeform", "application/json", forged, h), http.StatusUnauthorized)
	}
	metaLead := `{"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"leadgen","value":{"leadgen_id":"9","form_id":"8","page_id":"1","email":"` + email + `"}}]}]}`
	needles[hexmac(metaSecret, metaLead)] = "the Meta signature the daemon expected"
	expect("a badly signed Meta lead", send("POST", "/hooks/meta", "application/json", metaLead,
		http.Header{"X-Hub-Signature-256": {"sha256=" + hexmac("wrong-app-secret", metaLead)}}), http.StatusUnauthorized)

	// Meta's handshake, with the wrong verify token and the right one.
	const wrongVerify = "wrong-verify-token-LEAKCHECK-0005"
	needles[wrongVerify] = "a wrong verify token presented"
	expect("a handshake with a wrong verify token", send("GET", "/hooks/meta?hub.mode=subscribe&hub.challenge=c1&hub.verify_token="+wrongVerify, "", "", nil), http.StatusForbidden)
	expect("the handshake", send("GET", "/hooks/meta?hub.mode=subscribe&hub.challenge=c2&hub.verify_token="+metaVerify, "", "", nil), http.StatusOK)

	// The source token, wrong in every place it is read, then right.
	const wrongToken = "wrong-source-token-LEAKCHECK-0001"
	needles[wrongToken] = "a wrong source token presented"
	expect("a wrong ?token=", send("POST", "/hooks/secured?token="+wrongToken, formType, form, nil), http.StatusUnauthorized)
	expect("a wrong path token", send("POST", "/hooks/secured/"+wrongToken, formType, form, nil), http.StatusUnauthorized)
	expect("a wrong Basic password", send("POST", "/hooks/secured", formType, form,
		http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+wrongToken))}}), http.StatusUnauthorized)
	expect("the right ?token=", send("POST", "/hooks/secured?token="+formToken, formType, form+"&message=via+token", nil), http.StatusAccepted)
	expect("the right path token", send("POST", "/hooks/secured/"+formToken, formType, form+"&message=via+path", nil), http.StatusAccepted)

	// An unknown source, with a credential-looking query.
	const strayToken = "stray-token-LEAKCHECK-0004"
	needles[strayToken] = "a token sent to an unknown source"
	expect("an unknown source", send("POST", "/hooks/nowhere?token="+strayToken+"&email="+url.QueryEscape(email), formType, form, nil), http.StatusNotFound)

	// Malformed bodies full of personal data.
	expect("a malformed form", send("POST", "/hooks/form", "application/json", `{"email":"`+email+`","first_name":"`+given+`",`, nil), http.StatusBadRequest)
	broken := `{"event_id":"ev-leak-3","form_response":{"answers":[{"email":"` + email + `"`
	expect("a signed malformed survey", send("POST", "/hooks/typeform", "application/json", broken,
		http.Header{"Typeform-Signature": {"sha256=" + b64mac(typeformSecret, broken)}}), http.StatusBadRequest)

	// The admin API with a wrong token, and a lookup by email.
	const wrongAdmin = "wrong-admin-token-LEAKCHECK-0002"
	needles[wrongAdmin] = "a wrong admin token presented"
	expect("the admin API with a wrong token", send("GET", "/v1/customers?email="+url.QueryEscape(email), "", "",
		http.Header{"Authorization": {"Bearer " + wrongAdmin}}), http.StatusUnauthorized)
	if code, _ := d.customer(email); code != http.StatusOK {
		t.Fatalf("lookup by email: %d", code)
	}

	// Every destination has refused the person's created event.
	waitFor(t, "the rejecting destination's 401", 20*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE destination = 'rejecting' AND last_status = 401`) > 0
	})
	waitFor(t, "the failing destination's 500", 20*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM deliveries WHERE destination = 'failing' AND last_status = 500`) > 0
	})
	waitFor(t, "the gone destination disabled", 20*time.Second, func() bool {
		return queryInt(t, pgURL, `SELECT count(*) FROM destination_state WHERE destination = 'gone'`) == 1
	})

	// The erasure, then the same person again (suppressed).
	req, _ := http.NewRequest(http.MethodDelete, "http://"+d.httpAddr+"/v1/customers/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	if code, out := do(t, req); code != http.StatusOK || out["status"] != "erased" {
		t.Fatalf("erase: %d %v", code, out)
	}
	expect("the erased person again", send("POST", "/hooks/form", formType, form+"&message=again", nil), http.StatusAccepted)
	waitQuery(t, pgURL, `SELECT count(*) FROM inbox WHERE status = 'suppressed'`, 1)

	// The capture works and saw the paths above.
	for _, want := range []string{`"level":"info","msg":"cyclehub is serving"`, `"msg":"customer erased on request"`, `"msg":"destination gone: disabled until its dead letters are replayed`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the logs lack %s:\n%s", want, logs.String())
		}
	}
}

// checkLogs reports each log line holding a needle: secrets exactly, and
// personal data in any letter case.
func checkLogs(t *testing.T, logs string, needles map[string]string) {
	t.Helper()
	lower := strings.ToLower(logs)
	for needle, what := range needles {
		if needle == "" {
			continue
		}
		hay, n := logs, needle
		if strings.HasPrefix(what, "the email") || strings.HasPrefix(what, "the phone") || strings.HasSuffix(what, "name") {
			hay, n = lower, strings.ToLower(needle)
		}
		if !strings.Contains(hay, n) {
			continue
		}
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(strings.ToLower(line), strings.ToLower(needle)) {
				t.Errorf("%s is in the logs: %s", what, line)
			}
		}
	}
}
