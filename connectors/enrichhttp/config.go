package enrichhttp

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/mapping"
)

// Config configures the enrichment API. An empty URL turns enrichment off.
type Config struct {
	// URL is the lookup URL with a {domain} placeholder:
	// https://enrich.example.com/v1/companies/find?domain={domain}.
	URL string `yaml:"url"`
	// Token is sent as a bearer token (empty: none).
	Token secret.Secret `yaml:"token"`
	// Traits maps a trait to the path of its value in the API's answer
	// (mapping path syntax): {company: name, industry: category.industry}.
	Traits map[string]string `yaml:"traits"`
	// Timeout bounds one lookup; Budget bounds all lookups of one pipeline
	// batch together (lookups run concurrently).
	Timeout time.Duration `yaml:"timeout"`
	Budget  time.Duration `yaml:"budget"`
	// CacheTTL keeps a found company; MissTTL an unknown domain.
	CacheTTL time.Duration `yaml:"cache_ttl"`
	MissTTL  time.Duration `yaml:"miss_ttl"`
	// BreakerFailures consecutive failures open the breaker for
	// BreakerCooldown, during which no lookup is made.
	BreakerFailures int           `yaml:"breaker_failures"`
	BreakerCooldown time.Duration `yaml:"breaker_cooldown"`
}

// DefaultConfig returns the defaults documented in the README (off).
func DefaultConfig() Config {
	return Config{Timeout: 300 * time.Millisecond, Budget: 500 * time.Millisecond, CacheTTL: 7 * 24 * time.Hour,
		MissTTL: 24 * time.Hour, BreakerFailures: 5, BreakerCooldown: 30 * time.Second}
}

// Enabled reports whether enrichment is configured.
func (c Config) Enabled() bool { return c.URL != "" }

// Validate reports every problem with c, each prefixed by its key.
func (c Config) Validate() []error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	if u, err := url.Parse(strings.ReplaceAll(c.URL, "{domain}", "example.com")); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, errors.New("url: must be an http(s) URL"))
	} else if !strings.Contains(c.URL, "{domain}") {
		errs = append(errs, errors.New("url: must contain the {domain} placeholder"))
	}
	if len(c.Traits) == 0 {
		errs = append(errs, errors.New("traits: map at least one trait to a path of the answer"))
	}
	for t, p := range c.Traits {
		if _, err := mapping.ParsePath(p); err != nil {
			errs = append(errs, fmt.Errorf("traits.%s: %v", t, err))
		}
	}
	for name, d := range map[string]time.Duration{"timeout": c.Timeout, "budget": c.Budget, "cache_ttl": c.CacheTTL,
		"miss_ttl": c.MissTTL, "breaker_cooldown": c.BreakerCooldown} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive, got %s", name, d))
		}
	}
	if c.BreakerFailures < 1 {
		errs = append(errs, fmt.Errorf("breaker_failures: must be at least 1, got %d", c.BreakerFailures))
	}
	return errs
}
