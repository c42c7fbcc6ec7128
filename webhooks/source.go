package webhooks

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/mapping"
)

// SourceConfig configures one ingest source: a named endpoint
// (/hooks/{name}) of a provider type.
type SourceConfig struct {
	// Provider is the provider type (form, …).
	Provider string `yaml:"provider"`
	// Token, when set, must be presented as the HTTP Basic password or the
	// ?token= query parameter (for providers that sign nothing).
	Token secret.Secret `yaml:"token"`
	// DefaultRegion is the ISO region for national phone numbers.
	DefaultRegion string `yaml:"default_region"`
}

var sourceName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// Validate reports every problem with the source named name.
func (c SourceConfig) Validate(name string) []error {
	var errs []error
	if !sourceName.MatchString(name) {
		errs = append(errs, fmt.Errorf("name %q: must be lowercase letters, digits, _ or - (at most 63)", name))
	}
	if c.Provider == "" {
		errs = append(errs, errors.New("provider: must be set"))
	} else if !slices.Contains(mapping.Providers(), c.Provider) {
		errs = append(errs, fmt.Errorf("provider: unknown provider %q (known: %v)", c.Provider, mapping.Providers()))
	}
	if c.DefaultRegion != "" && !regexp.MustCompile(`^[A-Z]{2}$`).MatchString(c.DefaultRegion) {
		errs = append(errs, fmt.Errorf("default_region: must be an ISO 3166 alpha-2 code like BR, got %q", c.DefaultRegion))
	}
	if !c.Token.IsZero() && len(c.Token.Reveal()) < 16 {
		errs = append(errs, errors.New("token: must be at least 16 characters"))
	}
	return errs
}

// source is a configured source ready to serve.
type source struct {
	name string
	cfg  SourceConfig
	// keep lists the headers stored with each request.
	keep []string
}

// commonHeaders are kept for every source: enough to parse the body again
// and to see where a request came from. Credentials are never kept.
var commonHeaders = []string{"Content-Type", "User-Agent", "Referer", "Origin", "X-Forwarded-For", "X-Real-Ip", "X-Request-Id"}

func newSource(name string, cfg SourceConfig) *source {
	return &source{name: name, cfg: cfg, keep: commonHeaders}
}

// authenticate checks the source token, if one is configured.
func (s *source) authenticate(r *http.Request) error {
	if s.cfg.Token.IsZero() {
		return nil
	}
	if _, pass, ok := r.BasicAuth(); ok && s.cfg.Token.Equal(pass) {
		return nil
	}
	if tok := r.URL.Query().Get("token"); tok != "" && s.cfg.Token.Equal(tok) {
		return nil
	}
	return errors.New("missing or invalid source token (HTTP Basic password or ?token=)")
}

// verify checks that the body is well formed for the provider; the error is
// a *mapping.MalformedError or *mapping.UnsupportedMediaError.
func (s *source) verify(contentType string, body []byte) error {
	switch s.cfg.Provider {
	case "form":
		_, err := mapping.ParseFormBody(contentType, body)
		return err
	default:
		return nil
	}
}
