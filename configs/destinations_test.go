package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadWithDestinations loads a minimal config with the given destinations
// block (YAML, indented under destinations:).
func loadWithDestinations(t *testing.T, dests string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	text := `
rules_dir: ` + abs("rules") + `
mappings_dir: ` + abs("mappings") + `
admin: {token: a-long-enough-admin-token}
privacy: {suppression_key: a-long-enough-suppression-key}
sources:
  form: {provider: form}
destinations:
` + dests
	path := filepath.Join(dir, "cyclehub.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path, env(nil))
}

const secretOK = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestEachConnectorsConfigLoadsWithItsDefaults(t *testing.T) {
	cfg, err := loadWithDestinations(t, `
  hook:
    connector: webhook
    webhook: {url: "https://example.com/hook", secrets: [{secret: `+secretOK+`}]}
  sales:
    connector: slack
    slack: {url: "https://hooks.slack.com/services/T000/B000/XXXXXXXX"}
    subscribe: {types: [stage_changed], stages: [salesqualifiedlead, customer]}
  crm:
    connector: hubspot
    hubspot: {token: pat-na1-0000, properties: {traits.industry: industry}}
    delivery: {rate_limit: 10}
`)
	if err != nil {
		t.Fatal(err)
	}
	hook, crm := cfg.Destinations["hook"], cfg.Destinations["crm"]
	if hook.Delivery.MaxAttempts != 20 || hook.Delivery.Lease != 2*time.Minute || hook.Webhook.HTTP.Timeout != 10*time.Second {
		t.Errorf("webhook defaults not applied: %+v %+v", hook.Delivery, hook.Webhook.HTTP)
	}
	if crm.Delivery.RateLimit != 10 || crm.Delivery.Concurrency != 4 {
		t.Errorf("delivery block not merged over the defaults: %+v", crm.Delivery)
	}
	if crm.HubSpot.Properties["email"] != "email" || crm.HubSpot.Properties["traits.industry"] != "industry" {
		t.Errorf("hubspot properties not merged over the defaults: %v", crm.HubSpot.Properties)
	}
}

func TestABadDestinationIsReportedByItsPath(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"an unknown connector", `
  x: {connector: carrier-pigeon}`, `destinations.x.connector: must be one of [hubspot slack webhook], got "carrier-pigeon"`},
		{"the connector's block missing", `
  x: {connector: webhook}`, "destinations.x.webhook: the webhook connector's settings are required"},
		{"another connector's block", `
  x: {connector: webhook, webhook: {url: "https://e.com", secrets: [{secret: ` + secretOK + `}]}, slack: {url: "https://hooks.slack.com/services/T/B/X"}}`,
			`destinations.x.slack: settings of another connector (this one is "webhook")`},
		{"a header CycleHub sets", `
  x: {connector: webhook, webhook: {url: "https://e.com", secrets: [{secret: ` + secretOK + `}], headers: {Content-Type: text/plain}}}`,
			"destinations.x.webhook.headers.Content-Type: not a header CycleHub lets you set"},
		{"a stage not on the ladder", `
  x: {connector: webhook, webhook: {url: "https://e.com", secrets: [{secret: ` + secretOK + `}]}, subscribe: {types: [stage_changed], stages: [salesqualifiedlaed]}}`,
			`destinations.x.subscribe.stages[0]: "salesqualifiedlaed" is not on the rules' stage ladder`},
		{"an unknown event type", `
  x: {connector: webhook, webhook: {url: "https://e.com", secrets: [{secret: ` + secretOK + `}]}, subscribe: {types: [deleted]}}`,
			`subscribe.types[0]: unknown event type "deleted"`},
		{"a lease shorter than the request timeout", `
  x: {connector: webhook, webhook: {url: "https://e.com", secrets: [{secret: ` + secretOK + `}], http: {timeout: 30s}}, delivery: {lease: 10s}}`,
			"delivery.lease: must be longer than webhook.http.timeout (30s), got 10s"},
		{"a batch the connector cannot take", `
  x: {connector: webhook, webhook: {url: "https://e.com", secrets: [{secret: ` + secretOK + `}]}, delivery: {batch_size: 5}}`,
			"delivery.batch_size: the webhook connector takes at most 1 record(s) per request, got 5"},
		{"a misspelt key", `
  x: {connector: webhook, webhook: {url: "https://e.com", secrets: [{secret: ` + secretOK + `}]}, delivery: {max_attempt: 5}}`,
			"max_attempt"},
		{"a name that cannot name metrics", `
  "bad name": {connector: webhook, webhook: {url: "https://e.com", secrets: [{secret: ` + secretOK + `}]}}`,
			"destinations.bad name: a destination name is letters, digits, _ and -"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadWithDestinations(t, tc.yaml)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}
