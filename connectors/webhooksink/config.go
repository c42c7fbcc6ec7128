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
	URL string `yaml:"url"`
	// Secrets sign every request. During a rotation list the new secret
	// and the old one with an `until`: both sign (the receiver accepts
	// either) until then, so receivers switch without a gap.
	Secrets []SigningSecret `yaml:"secrets"`
	// Headers are extra static headers (an API key the receiver wants).
	Headers map[string]secret.Secret `yaml:"headers"`
	HTTP    connectors.HTTPConfig    `yaml:"http"`
}

// SigningSecret is a Standard Webhooks secret: "whsec_" + base64 of at
// least 24 random bytes.
type SigningSecret struct {
	Secret secret.Secret `yaml:"secret"`
	// Until, when set, ends this secret's use (a rotated-out secret).
	Until time.Time `yaml:"until"`
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
