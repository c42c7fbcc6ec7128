package slacksink

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"text/template"

	"github.com/cyclehub/cyclehub/connectors"
	"github.com/cyclehub/cyclehub/internal/secret"
)

// Config configures the Slack sink.
type Config struct {
	// URL is the incoming webhook URL (https://hooks.slack.com/services/…);
	// it holds the webhook's token.
	URL  secret.Secret         `yaml:"url" doc:"The Slack incoming webhook URL (https://hooks.slack.com/services/...). It holds the webhook's token, so it is never quoted in errors or logs. https only; http is accepted only to 127.0.0.1 or localhost, for tests."`
	HTTP connectors.HTTPConfig `yaml:"http" doc:"The HTTP client."`
	// Templates are the message texts (Go text/template, Slack mrkdwn)
	// keyed by event type short name (stage_changed, score_changed,
	// created, updated, merged, erased), by stage_changed:<to_stage>, or
	// by default. The most specific key wins: stage_changed:<to_stage>,
	// then the type, then default. The built-in templates (see
	// DefaultTemplates) apply to keys left out.
	Templates map[string]string `yaml:"templates" doc:"Message texts (Go text/template, Slack mrkdwn) by key: an event type's short name (created, updated, merged, erased, stage_changed, score_changed), stage_changed:<to_stage>, or default. The most specific key wins. Your entries are merged over the built-ins, and checked when the config loads."`
}

// DefaultConfig returns the defaults documented in the README (the URL
// must be set).
func DefaultConfig() Config {
	return Config{HTTP: connectors.DefaultHTTPConfig(), Templates: DefaultTemplates()}
}

// Built-in templates. Every field may be empty: a missing contact, stage
// or rule leaves its part out rather than printing "<no value>".
const (
	// stageChangedTemplate: *Ana Lima* (Lima Consultoria) is now
	// *salesqualifiedlead* (from marketingqualifiedlead, rule sql).
	stageChangedTemplate = `*{{.Name}}*{{with .Contact.Company}} ({{.}}){{end}} is now *{{or .Data.to_stage "an unknown stage"}}*` +
		`{{if or .Data.from_stage .Data.rule_id}} (` +
		`{{with .Data.from_stage}}from {{.}}{{end}}{{if and .Data.from_stage .Data.rule_id}}, {{end}}` +
		`{{with .Data.rule_id}}rule {{.}}{{end}}){{end}}`
	// scoreChangedTemplate: :warning: *Ana Lima* (Lima Consultoria): band
	// *cold* (was warm), status *at_risk* (was active).
	scoreChangedTemplate = `{{if eq (print .Data.customer_status_to) "at_risk" "churned"}}:warning: {{end}}` +
		`*{{.Name}}*{{with .Contact.Company}} ({{.}}){{end}}:` +
		`{{with .Data.band_to}} band *{{.}}*{{with $.Data.band_from}} (was {{.}}){{end}}{{end}}` +
		`{{if and .Data.band_to .Data.customer_status_to}},{{end}}` +
		`{{with .Data.customer_status_to}} status *{{.}}*{{with $.Data.customer_status_from}} (was {{.}}){{end}}{{end}}` +
		`{{if not (or .Data.band_to .Data.customer_status_to)}} scores changed{{with .Data.crossed}} ({{join . ", "}} crossed a threshold){{end}}{{end}}`
	// defaultTemplate: *Ana Lima* (Lima Consultoria): customer created.
	defaultTemplate = `*{{.Name}}*{{with .Contact.Company}} ({{.}}){{end}}: customer {{.Short}}`
)

// DefaultTemplates returns the built-in templates: stage_changed,
// score_changed and default.
func DefaultTemplates() map[string]string {
	return map[string]string{
		"stage_changed": stageChangedTemplate,
		"score_changed": scoreChangedTemplate,
		keyDefault:      defaultTemplate,
	}
}

// keyDefault is the template of events no other key matches.
const keyDefault = "default"

// shortTypes are the event types' short names, the template keys.
var shortTypes = []string{"stage_changed", "score_changed", "created", "updated", "merged", "erased"}

// Validate reports every problem with c, each prefixed by its key. No
// message holds the URL.
func (c Config) Validate() []error {
	var errs []error
	if err := checkURL(c.URL.Reveal()); err != nil {
		errs = append(errs, err)
	}
	for _, err := range c.HTTP.Validate() {
		errs = append(errs, fmt.Errorf("http.%w", err))
	}
	keys := make([]string, 0, len(c.Templates))
	for k := range c.Templates {
		keys = append(keys, k)
	}
	slices.Sort(keys) // stable messages
	for _, k := range keys {
		text := c.Templates[k]
		switch {
		case !validKey(k):
			errs = append(errs, fmt.Errorf("templates.%s: unknown key: use an event type (%s), stage_changed:<to_stage> or default",
				k, strings.Join(shortTypes, ", ")))
		case strings.TrimSpace(text) == "":
			errs = append(errs, fmt.Errorf("templates.%s: must not be empty", k))
		default:
			if _, err := parseTemplate(k, text); err != nil {
				errs = append(errs, fmt.Errorf("templates.%s: %v", k, err))
			}
		}
	}
	return errs
}

// checkURL requires an https URL with a host; http only to the loopback
// (tests). The error never quotes the URL.
func checkURL(raw string) error {
	if raw == "" {
		return errors.New("url: must be set (the Slack incoming webhook URL)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("url: is not an absolute URL (value not shown: it holds a token)")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("url: must use https:// (http:// only to 127.0.0.1 or localhost, for tests)")
	}
	return errors.New("url: must be an https:// URL")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validKey reports whether k is a template key.
func validKey(k string) bool {
	if k == keyDefault || slices.Contains(shortTypes, k) {
		return true
	}
	stage, ok := strings.CutPrefix(k, "stage_changed:")
	return ok && stage != ""
}

// parseTemplate parses one message template.
func parseTemplate(name, text string) (*template.Template, error) {
	return template.New(name).Funcs(funcs).Option("missingkey=default").Parse(text)
}

// SetDefaults fills a config block the YAML is about to be decoded over.
func (c *Config) SetDefaults() { *c = DefaultConfig() }
