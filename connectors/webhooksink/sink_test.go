package webhooksink_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/connectors/conformance"
	"github.com/cyclehub/cyclehub/connectors/webhooksink"
	"github.com/cyclehub/cyclehub/internal/secret"
)

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func newSink(t *testing.T, url string, secrets ...webhooksink.SigningSecret) *webhooksink.Sink {
	t.Helper()
	cfg := webhooksink.DefaultConfig()
	cfg.URL, cfg.HTTP.Timeout = url, 2*time.Second
	cfg.Secrets = secrets
	if len(secrets) == 0 {
		cfg.Secrets = []webhooksink.SigningSecret{{Secret: testSecret}}
	}
	s, err := webhooksink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// eventOf reads the event id a request carries (the webhook-id is the
// delivery's idempotency key, "test:<event id>" in the suite).
func eventOf(r *http.Request, _ []byte) []string {
	return []string{strings.TrimPrefix(r.Header.Get("webhook-id"), "test:")}
}

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.Features{MaxBatch: 1, New: func(t *testing.T) (connectors.Connector, conformance.Destination) {
		d := conformance.NewHTTPDestination(t, eventOf)
		return newSink(t, d.URL), d
	}})
}

// The signature matches the Standard Webhooks published test vector, so
// any receiver's library verifies what CycleHub sends.
func TestSignaturesMatchTheStandardWebhooksTestVector(t *testing.T) {
	s := newSink(t, "http://127.0.0.1:1/")
	got := s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`), time.Unix(1614265330, 0))
	if got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("signature %q", got)
	}
}

// verify checks a request the way a Standard Webhooks receiver does, with
// one secret.
func verify(t *testing.T, req conformance.Request, whsec string) bool {
	t.Helper()
	k, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(whsec, "whsec_"))
	m := hmac.New(sha256.New, k)
	m.Write([]byte(req.Header.Get("webhook-id") + "." + req.Header.Get("webhook-timestamp") + "."))
	m.Write(req.Body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, sig := range strings.Fields(req.Header.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// During a rotation the old and the new secret both sign, so receivers
// verifying with either accept; once the old one's until has passed, only
// the new one signs.
func TestARotatedSecretSignsUntilItsOverlapEnds(t *testing.T) {
	const next = "whsec_bmV4dC1zZWNyZXQtb2YtYXQtbGVhc3QtMjQtYnl0ZXM="
	d := conformance.NewHTTPDestination(t, eventOf)
	until := time.Now().Add(time.Hour)
	s := newSink(t, d.URL, webhooksink.SigningSecret{Secret: next}, webhooksink.SigningSecret{Secret: testSecret, Until: until})
	rec := conformance.Records(1)
	if err := s.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	s.SetClock(func() time.Time { return until.Add(time.Second) })
	if err := s.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	reqs := d.Requests()
	switch {
	case !verify(t, reqs[0], next) || !verify(t, reqs[0], testSecret):
		t.Errorf("during the overlap: signature %q does not verify with both secrets", reqs[0].Header.Get("webhook-signature"))
	case !verify(t, reqs[1], next) || verify(t, reqs[1], testSecret):
		t.Errorf("after the overlap: signature %q", reqs[1].Header.Get("webhook-signature"))
	}
}

// Every attempt of one delivery carries the same webhook-id (receivers
// dedup on it) with a fresh timestamp; the body is the CloudEvent.
func TestRetriesKeepTheWebhookIDAndSendTheCloudEvent(t *testing.T) {
	d := conformance.NewHTTPDestination(t, eventOf)
	s := newSink(t, d.URL)
	rec := conformance.Records(1)
	d.FailNext(1, conformance.Retryable)
	_ = s.Write(context.Background(), rec)
	s.SetClock(func() time.Time { return time.Now().Add(time.Minute) })
	rec[0].Attempt = 2
	if err := s.Write(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	reqs := d.Requests()
	if len(reqs) != 2 || reqs[0].Header.Get("webhook-id") != rec[0].IdempotencyKey ||
		reqs[1].Header.Get("webhook-id") != rec[0].IdempotencyKey ||
		reqs[0].Header.Get("webhook-timestamp") == reqs[1].Header.Get("webhook-timestamp") {
		t.Fatalf("requests %+v", reqs)
	}
	if string(reqs[1].Body) != string(rec[0].Payload) || !strings.HasPrefix(reqs[1].Header.Get("Content-Type"), "application/cloudevents+json") {
		t.Fatalf("body %s (%s)", reqs[1].Body, reqs[1].Header.Get("Content-Type"))
	}
	if strings.Contains(string(reqs[1].Body), rec[0].Contact.Email) {
		t.Fatal("the webhook carries the contact's email")
	}
}

// 410 means the endpoint is gone for good: the destination is disabled.
func TestA410DisablesTheDestination(t *testing.T) {
	s := newSink(t, startServer(t, goneHandler{}))
	o, _ := connectors.Classify(s.Write(context.Background(), conformance.Records(1)))
	if o != connectors.Disable {
		t.Fatalf("a 410 gave %v", o)
	}
}

func TestConfigProblemsAreListedAtOnce(t *testing.T) {
	cfg := webhooksink.DefaultConfig()
	cfg.URL = "ftp://x"
	cfg.Secrets = []webhooksink.SigningSecret{{Secret: "plain"}, {Secret: secret.Secret("whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))), Until: time.Now()}}
	cfg.Headers = map[string]secret.Secret{"webhook-id": "x"}
	cfg.HTTP.Timeout = 0
	errs := cfg.Validate()
	var all []string
	for _, e := range errs {
		all = append(all, e.Error())
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{"url:", "secrets[0].secret: must start with whsec_", "secrets[1].secret: must hold at least 24 bytes", "headers.webhook-id", "http.timeout"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems do not mention %q:\n%s", want, joined)
		}
	}
}
