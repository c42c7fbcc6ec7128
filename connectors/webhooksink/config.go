package webhooksink

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/internal/secret"
)

// Config configures one webhook destination.
type Config struct {
	// URL is the endpoint events are POSTed to.
	URL string `yaml:"url" doc:"The http:// or https:// URL (with a host) each event is POSTed to, one event per request."`
	// Secrets sign every request. During a rotation list the new secret
	// and the old one with an `until`: both sign (the receiver accepts
	// either) until then, so receivers switch without a gap.
	Secrets []SigningSecret `yaml:"secrets" doc:"Standard Webhooks signing secrets. Every request is signed with each secret in use; at least one entry (the current secret) has no until."`
	// Headers are extra static headers (an API key the receiver wants).
	Headers map[string]secret.Secret `yaml:"headers" doc:"Extra static headers, name to value (an API key the receiver wants). A name must not be empty or hold a space, tab, colon or line break, and cannot be one CycleHub sets itself (case ignored): webhook-*, ce-*, Content-Type, Content-Length, Idempotency-Key, User-Agent, Host, Transfer-Encoding, Connection."`
	HTTP    connectors.HTTPConfig    `yaml:"http" doc:"The HTTP client."`
}

// SigningSecret is a Standard Webhooks secret: "whsec_" + base64 of at
// least 24 random bytes.
type SigningSecret struct {
	Secret secret.Secret `yaml:"secret" doc:"whsec_ followed by standard base64 of at least 24 bytes."`
	// Until, when set, ends this secret's use (a rotated-out secret).
	Until time.Time `yaml:"until" doc:"When set, the secret signs until then and is skipped afterwards: a secret being rotated out. An RFC 3339 time (2026-03-01T00:00:00Z), not a bare date."`
}

// DefaultConfig returns the defaults documented in the README.
func DefaultConfig() Config { return Config{HTTP: connectors.DefaultHTTPConfig()} }

// Validate reports every problem with c, each prefixed by its key.
func (c Config) Validate() []error {
	var errs []error
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs = append(errs, fmt.Errorf("url: must be set"))
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		errs = append(errs, fmt.Errorf("url: must be an http(s) URL, got %q", c.URL))
	}
	if len(c.Secrets) == 0 {
		errs = append(errs, fmt.Errorf("secrets: at least one signing secret is required"))
	}
	open := 0
	for i, s := range c.Secrets {
		if _, err := key(s.Secret); err != nil {
			errs = append(errs, fmt.Errorf("secrets[%d].secret: %v", i, err))
		}
		if s.Until.IsZero() {
			open++
		}
	}
	if len(c.Secrets) > 0 && open == 0 {
		errs = append(errs, fmt.Errorf("secrets: one secret must have no until (the current one)"))
	}
	for k := range c.Headers {
		if !ownHeader(k) {
			continue
		}
		errs = append(errs, fmt.Errorf("headers.%s: not a header CycleHub lets you set (it sets webhook-*, ce-*, Content-Type, Content-Length, Idempotency-Key, User-Agent, Host, Transfer-Encoding and Connection itself)", k))
	}
	for _, e := range c.HTTP.Validate() {
		errs = append(errs, fmt.Errorf("http.%w", e))
	}
	return errs
}

// ownHeader reports whether a header name is CycleHub's to set (or not a
// valid name at all).
func ownHeader(k string) bool {
	l := strings.ToLower(k)
	switch {
	case k == "" || strings.ContainsAny(k, " :\r\n\t"):
		return true
	case strings.HasPrefix(l, "webhook-"), strings.HasPrefix(l, "ce-"):
		return true
	}
	switch l {
	case "content-type", "content-length", "idempotency-key", "user-agent", "host", "transfer-encoding", "connection":
		return true
	}
	return false
}

// key decodes a whsec_ secret.
func key(s secret.Secret) ([]byte, error) {
	enc, ok := strings.CutPrefix(s.Reveal(), "whsec_")
	if !ok {
		return nil, fmt.Errorf("must start with whsec_ (Standard Webhooks)")
	}
	k, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("the part after whsec_ must be base64")
	}
	if len(k) < 24 {
		return nil, fmt.Errorf("must hold at least 24 bytes, got %d", len(k))
	}
	return k, nil
}

// SetDefaults fills a config block the YAML is about to be decoded over.
func (c *Config) SetDefaults() { *c = DefaultConfig() }
