package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/cyclehub/cyclehub/webhooks"
)

// source is one configured source, ready to render and sign requests.
type source struct {
	name     string
	provider string
	url      string
	body     *template
	// headers are the sample's fixed headers; perRequest are rendered.
	headers    http.Header
	perRequest map[string]*template
	sign       signer
}

// newSource prepares requests to the source name of the daemon at baseURL
// from the provider's sample under fixtures.
func newSource(name string, cfg webhooks.SourceConfig, baseURL, fixtures string) (*source, error) {
	spec, ok := supported[cfg.Provider]
	if !ok {
		if slices.Contains(needsFetch, cfg.Provider) {
			return nil, fmt.Errorf("source %s: provider %s sends only ids that the daemon fetches from the provider's API; the generator sends only providers it can process offline (%s)",
				name, cfg.Provider, supportedNames())
		}
		return nil, fmt.Errorf("source %s: no shared sample for provider %s (supported: %s)", name, cfg.Provider, supportedNames())
	}
	fx, err := readFixture(fixtures, spec.fixture)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	sign, err := signerFor(cfg.Provider, cfg)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", name, err)
	}
	s := &source{name: name, provider: cfg.Provider, url: baseURL + "/hooks/" + name, sign: sign,
		headers: http.Header{}, perRequest: map[string]*template{}}
	if spec.form {
		raw, err := fx.formBody()
		if err != nil {
			return nil, err
		}
		s.body, err = formTemplate(raw, spec.patches)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", name, err)
		}
	} else {
		patches := spec.patches
		if cfg.Provider == "google_ads" {
			// The key is a literal: braces in it are not variables.
			body, err := withLiteral(fx.Body, "google_key", cfg.Secret.Reveal())
			if err != nil {
				return nil, fmt.Errorf("source %s: %w", name, err)
			}
			fx.Body = body
		}
		s.body, err = jsonTemplate(fx.Body, patches)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", name, err)
		}
	}
	for k, v := range fx.Headers {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Authorization", "Content-Length":
			continue // set by the client or by the source's token
		}
		if v == "<computed>" {
			continue
		}
		s.headers.Set(k, v)
	}
	if s.headers.Get("Content-Type") == "" && fx.ContentType != "" {
		s.headers.Set("Content-Type", fx.ContentType)
	}
	for k, v := range spec.headers {
		value, err := sentinel(v)
		if err != nil {
			return nil, fmt.Errorf("source %s: header %s: %w", name, k, err)
		}
		t, err := compile([]byte(value), func(dst []byte, v string) []byte { return append(dst, v...) })
		if err != nil {
			return nil, err
		}
		s.perRequest[k] = t
	}
	return s, nil
}

// request renders, signs and returns the request for vals, sent at now.
// The body is new each time: the transport may still read a body after
// the answer came.
func (s *source) request(ctx context.Context, vals *values, now time.Time) (*http.Request, error) {
	body := s.body.render(make([]byte, 0, 4096), vals)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range s.headers {
		req.Header[k] = v
	}
	var hv []byte
	for k, t := range s.perRequest {
		hv = t.render(hv[:0], vals)
		req.Header.Set(k, string(hv))
	}
	s.sign(req.Header, body, now)
	return req, nil
}
