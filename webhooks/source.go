package webhooks

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

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
	// Secret is the provider's signing secret (HMAC key, Google Ads
	// google_key, …).
	Secret secret.Secret `yaml:"secret"`
	// VerifyToken answers Meta's GET hub.verify_token handshake.
	VerifyToken secret.Secret `yaml:"verify_token"`
	// ClientID completes keys built from two parts (SurveyMonkey signs with
	// "<client_id>&<secret>"); optional for SurveyMonkey, which also sends
	// it as Sm-Apikey.
	ClientID string `yaml:"client_id"`
	// PublicURL is this source's URL as the provider calls it
	// (https://hub.example.com/hooks/hubspot): schemes that sign the URI
	// need it when CycleHub sits behind a proxy.
	PublicURL string `yaml:"public_url"`
	// Tolerance is the accepted age of a signed timestamp (replay window).
	Tolerance time.Duration `yaml:"tolerance"`
	// APIToken and APIBase are for providers whose webhooks carry only ids
	// and need a fetch (Meta, HubSpot, LinkedIn, SurveyMonkey, Qualtrics,
	// Zendesk).
	APIToken secret.Secret `yaml:"api_token"`
	APIBase  string        `yaml:"api_base"`
	// DefaultRegion is the ISO region for national phone numbers.
	DefaultRegion string `yaml:"default_region"`
	// Mapping names the declarative mapping (mappings/<name>.yaml) the
	// source's requests are read with; by default the provider's own. A
	// second Typeform form with other question refs gets a mapping of its
	// own (provider: typeform) and a source that names it.
	Mapping string `yaml:"mapping"`
	// RateLimit, when set, caps the source's requests per replica (429
	// past it); none by default (see RateLimit).
	RateLimit *RateLimit `yaml:"rate_limit"`
}

// MappingName is the mapping the source uses: Mapping, or the provider's.
func (c SourceConfig) MappingName() string {
	if c.Mapping != "" {
		return c.Mapping
	}
	return c.Provider
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
	} else if p, ok := Providers()[c.Provider]; !ok {
		errs = append(errs, fmt.Errorf("provider: unknown provider %q (known: %s)", c.Provider, strings.Join(providerNames(), ", ")))
	} else if p.NeedsSecret && c.Secret.IsZero() {
		errs = append(errs, fmt.Errorf("secret: provider %s signs its requests: the source needs its signing secret", c.Provider))
	}
	if c.Provider == "meta" && c.VerifyToken.IsZero() {
		errs = append(errs, errors.New("verify_token: Meta verifies the endpoint with hub.verify_token before sending anything"))
	}
	if c.DefaultRegion != "" && !regexp.MustCompile(`^[A-Z]{2}$`).MatchString(c.DefaultRegion) {
		errs = append(errs, fmt.Errorf("default_region: must be an ISO 3166 alpha-2 code like BR, got %q", c.DefaultRegion))
	}
	if !c.Token.IsZero() && len(c.Token.Reveal()) < 16 {
		errs = append(errs, errors.New("token: must be at least 16 characters"))
	}
	if c.RateLimit != nil {
		errs = append(errs, c.RateLimit.Validate()...)
	}
	return errs
}

// source is a configured source ready to serve.
type source struct {
	name     string
	cfg      SourceConfig
	provider Provider
	// spec is the provider's declarative mapping; nil for the built-in
	// form mapper.
	spec *mapping.Compiled
	// keep lists the headers stored with each request.
	keep []string
	// limiter is the source's token bucket; nil without a rate limit. It
	// outlives mapping reloads (the Handler owns it).
	limiter *rate.Limiter
}

// commonHeaders are kept for every source: enough to parse the body again
// and to see where a request came from. Credentials are never kept.
var commonHeaders = []string{"Content-Type", "User-Agent", "Referer", "Origin", "X-Forwarded-For", "X-Real-Ip", "X-Request-Id"}

func newSource(name string, cfg SourceConfig) *source {
	p := Providers()[cfg.Provider]
	return &source{name: name, cfg: cfg, provider: p, keep: append(slices.Clone(commonHeaders), p.Headers...)}
}

// check authenticates a request: by the provider's signature, or by the
// source token. The code says which failed (invalid_signature,
// unauthorized).
func (s *source) check(r *http.Request, body []byte, now time.Time) (code string, err error) {
	if s.signed() {
		return "invalid_signature", s.provider.Verify(s.cfg, r, body, now)
	}
	return "unauthorized", s.authenticate(r)
}

// signed says the source's requests must carry the provider's signature:
// always for providers that always sign, and for those that sign
// optionally when the source has the signing secret. Otherwise the source
// token protects it.
func (s *source) signed() bool {
	return s.provider.Verify != nil && (!s.provider.SignsOptionally || !s.cfg.Secret.IsZero())
}

// authenticate checks the source token, if one is configured: the HTTP
// Basic password (or the user name, for tools that send an API key as the
// user, like Freshdesk's "key:X"), the ?token= query parameter, or the
// last path segment (/hooks/<source>/<token>).
func (s *source) authenticate(r *http.Request) error {
	if s.cfg.Token.IsZero() {
		return nil
	}
	if user, pass, ok := r.BasicAuth(); ok && (s.cfg.Token.Equal(pass) || s.cfg.Token.Equal(user)) {
		return nil
	}
	if tok := r.URL.Query().Get("token"); tok != "" && s.cfg.Token.Equal(tok) {
		return nil
	}
	if tok := r.PathValue("token"); tok != "" && s.cfg.Token.Equal(tok) {
		return nil
	}
	return &AuthError{Reason: "missing or invalid source token (HTTP Basic password, ?token= or /hooks/<source>/<token>)"}
}

// decode checks that the body is well formed for the provider and returns
// its dedup key ("" when it is a provider test or ping to acknowledge and
// drop). Errors are *mapping.MalformedError or *mapping.UnsupportedMediaError.
func (s *source) decode(raw *mapping.RawRequest) (key string, ignored bool, err error) {
	if s.spec == nil {
		if _, err := mapping.ParseFormBody(raw.Header("Content-Type"), raw.Body); err != nil {
			return "", false, err
		}
		return contentHash(raw.Body), false, nil
	}
	doc, err := s.spec.Decode(raw)
	if err != nil {
		return "", false, err
	}
	if s.spec.Ignored(doc) {
		return "", true, nil
	}
	return s.spec.DedupKey(doc), false, nil
}

func contentHash(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

func providerNames() []string {
	names := make([]string, 0, len(Providers()))
	for n := range Providers() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
