package webhooksink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/mapping"
)

// Kind registers the connector.
var Kind = connectors.Kind{Name: "webhook", MaxBatch: 1, New: func(cfg any) (connectors.Connector, error) {
	switch c := cfg.(type) {
	case Config:
		return New(c)
	case *Config:
		return New(*c)
	}
	return nil, fmt.Errorf("webhook: config of type %T", cfg)
}}

// Sink posts each record as one signed request.
type Sink struct {
	cfg  Config
	http *resty.Client
	keys []signingKey
	// now is the clock of the signature timestamp.
	now func() time.Time
}

type signingKey struct {
	key   []byte
	until time.Time
}

// New returns a sink; it does no I/O.
func New(cfg Config) (*Sink, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("webhook config: %v", errs)
	}
	s := &Sink{cfg: cfg, http: connectors.NewHTTPClient(cfg.HTTP), now: time.Now}
	for _, sec := range cfg.Secrets {
		k, _ := key(sec.Secret)
		s.keys = append(s.keys, signingKey{key: k, until: sec.Until})
	}
	return s, nil
}

// Connect does nothing: each Write is self-contained.
func (s *Sink) Connect(context.Context) error { return nil }

// Close releases idle connections.
func (s *Sink) Close(context.Context) error {
	connectors.CloseIdleConnections(s.http)
	return nil
}

// Write posts each record; one record's error is returned as is, several
// as a *connectors.BatchError.
func (s *Sink) Write(ctx context.Context, batch []mapping.OutboxRecord) error {
	errs := make([]error, len(batch))
	failed := false
	for i := range batch {
		errs[i] = s.post(ctx, &batch[i])
		failed = failed || errs[i] != nil
	}
	switch {
	case !failed:
		return nil
	case len(batch) == 1:
		return errs[0]
	}
	return &connectors.BatchError{Errs: errs}
}

// post sends one record. webhook-id is the delivery's idempotency key
// (the same on every attempt, so receivers dedup on it); the timestamp is
// the attempt's; the signature covers id, timestamp and body.
func (s *Sink) post(ctx context.Context, r *mapping.OutboxRecord) error {
	id := r.IdempotencyKey
	if id == "" {
		id = r.EventID
	}
	now := s.now()
	ts := strconv.FormatInt(now.Unix(), 10)
	req := s.http.R().SetContext(ctx).
		SetHeader("Content-Type", "application/cloudevents+json; charset=utf-8").
		SetHeader("webhook-id", id).
		SetHeader("webhook-timestamp", ts).
		SetHeader("webhook-signature", s.sign(id, ts, r.Payload, now)).
		SetHeader("Idempotency-Key", id).
		SetHeader("ce-type", r.Type).
		SetHeader("ce-id", r.EventID).
		SetBody(r.Payload)
	for k, v := range s.cfg.Headers {
		req.SetHeader(k, v.Reveal())
	}
	resp, err := req.Post(s.cfg.URL)
	return connectors.ClassifyHTTP("webhook "+r.Type, resp, err)
}

// sign is the webhook-signature value: one "v1,<base64>" per secret in
// use, space-separated.
func (s *Sink) sign(id, ts string, body []byte, now time.Time) string {
	var sigs []string
	for _, k := range s.keys {
		if !k.until.IsZero() && !now.Before(k.until) {
			continue
		}
		m := hmac.New(sha256.New, k.key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}
