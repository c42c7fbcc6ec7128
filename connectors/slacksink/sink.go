package slacksink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-resty/resty/v2"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/mapping"
)

// Kind is the slack connector kind: one message per request, with the
// person's contact (the message names them).
var Kind = connectors.Kind{
	Name:         "slack",
	MaxBatch:     1,
	NeedsContact: true,
	New: func(cfg any) (connectors.Connector, error) {
		switch c := cfg.(type) {
		case Config:
			return New(c)
		case *Config:
			if c != nil {
				return New(*c)
			}
		}
		return nil, fmt.Errorf("slack connector: want a slacksink.Config, got %T", cfg)
	},
}

// what names the call in errors (never the URL, which holds the token).
const what = "slack post"

// Sink posts one Slack message per outbox record. It is safe for
// concurrent use.
type Sink struct {
	url       string
	hide      []string // forms of url redacted from errors
	http      *resty.Client
	templates templates
}

var _ connectors.Connector = (*Sink)(nil)

// New returns a sink for a valid cfg; it parses the templates and does no
// I/O.
func New(cfg Config) (*Sink, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("slack connector: %w", errors.Join(errs...))
	}
	ts, err := parseTemplates(cfg.Templates)
	if err != nil {
		return nil, fmt.Errorf("slack connector: %w", err)
	}
	s := &Sink{url: cfg.URL.Reveal(), hide: secretsOf(cfg.URL.Reveal()), http: connectors.NewHTTPClient(cfg.HTTP), templates: ts}
	// Slack answers a few bytes ("ok", "no_service").
	s.http.SetResponseBodyLimit(64 << 10)
	return s, nil
}

// Connect does nothing: an incoming webhook cannot be checked without
// posting to the channel.
func (s *Sink) Connect(context.Context) error { return nil }

// Close releases idle connections.
func (s *Sink) Close(context.Context) error {
	connectors.CloseIdleConnections(s.http)
	return nil
}

// Write posts one message per record; see connectors.Connector. A single
// record's error is returned as it is; for several, a
// *connectors.BatchError when any failed.
func (s *Sink) Write(ctx context.Context, batch []mapping.OutboxRecord) error {
	if len(batch) == 1 {
		return s.post(ctx, batch[0])
	}
	errs := make([]error, len(batch))
	failed := false
	for i, r := range batch {
		if ctx.Err() != nil {
			errs[i] = connectors.Retryable(fmt.Errorf("%s: canceled", what), 0)
		} else {
			errs[i] = s.post(ctx, r)
		}
		failed = failed || errs[i] != nil
	}
	if failed {
		return &connectors.BatchError{Errs: errs}
	}
	return nil
}

// message is an incoming webhook's payload.
type message struct {
	Text        string `json:"text"`
	UnfurlLinks bool   `json:"unfurl_links"`
}

// post sends r's message and classifies the answer.
func (s *Sink) post(ctx context.Context, r mapping.OutboxRecord) error {
	text, err := s.templates.render(r)
	if err != nil {
		return connectors.Permanent(fmt.Errorf("slack message of event %s: %w", r.EventID, err))
	}
	body, err := json.Marshal(message{Text: text})
	if err != nil {
		return connectors.Permanent(fmt.Errorf("slack message of event %s: %w", r.EventID, err))
	}
	req := s.http.R().SetContext(ctx).SetHeader("Content-Type", "application/json").SetBody(body)
	if r.IdempotencyKey != "" {
		req.SetHeader("Idempotency-Key", r.IdempotencyKey)
	}
	resp, err := req.Post(s.url)
	return s.redact(classify(resp, err))
}

// Slack's plain-text error codes that mean the webhook delivers nowhere
// any more: removed (no_service), its workspace gone or disabled, its
// channel deleted or archived.
var goneCodes = map[string]bool{
	"no_service": true, "no_team": true, "team_disabled": true,
	"channel_not_found": true, "channel_is_archived": true,
}

// classify reads Slack's answer: connectors.ClassifyHTTP (410 such as
// channel_is_archived gone; 408, 429 and 5xx but 501 retryable with
// Retry-After; other 4xx such as 400 invalid_payload or 403
// action_prohibited / invalid_token permanent), with a 404 whose code says
// the webhook is gone (no_service, no_team...) disabling the destination.
// A 404 with another body (a proxy's) stays permanent.
func classify(resp *resty.Response, err error) error {
	cerr := connectors.ClassifyHTTP(what, resp, err)
	if cerr == nil || err != nil {
		return cerr
	}
	code := strings.TrimSpace(resp.String())
	if resp.StatusCode() == http.StatusNotFound && goneCodes[code] {
		return connectors.Gone(cerr)
	}
	return cerr
}

// redact rebuilds an error whose message holds the webhook URL, or its
// path (the token), with them replaced by ***, keeping its class.
func (s *Sink) redact(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, v := range s.hide {
		clean = strings.ReplaceAll(clean, v, "***")
	}
	if clean == msg {
		return err
	}
	plain := errors.New(clean)
	switch o, after := connectors.Classify(err); o {
	case connectors.Disable:
		return connectors.Gone(plain)
	case connectors.Dead:
		return connectors.Permanent(plain)
	default:
		return connectors.Retryable(plain, after)
	}
}

// secretsOf lists the forms of the webhook URL that must not be shown,
// longest first: the URL, its escaped form, its path and query (where the
// token is; too short to be one, they are left alone).
func secretsOf(raw string) []string {
	out := []string{raw, url.QueryEscape(raw)}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	for _, v := range []string{u.EscapedPath(), u.Path, u.RawQuery} {
		if len(v) >= minSecretLen {
			out = append(out, v)
		}
	}
	return out
}

// minSecretLen is the shortest path or query redacted from errors.
const minSecretLen = 8
