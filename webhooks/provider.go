package webhooks

import (
	"fmt"
	"net/http"
	"time"
)

// Provider describes how one provider type authenticates at the edge.
type Provider struct {
	Name string
	// Verify authenticates a request over its raw body. nil means the provider signs
	// nothing and the per-source token (Basic password or ?token=) protects it.
	// Every error it returns is an *AuthError. now is the clock: verifiers
	// never read the time themselves.
	Verify func(cfg SourceConfig, r *http.Request, body []byte, now time.Time) error
	// Handshake answers an endpoint-verification request (GET/HEAD) and reports
	// whether r was one. nil when the provider has none.
	Handshake func(cfg SourceConfig, w http.ResponseWriter, r *http.Request) bool
	// Headers are the provider's headers kept with the stored request
	// (signature, timestamp, event, delivery-id headers), in canonical form.
	Headers []string
	// NeedsSecret says the source config must set Secret (validated at start-up).
	NeedsSecret bool
	// SignsOptionally: the provider signs only some of its webhooks (Tally
	// without a signing secret, Webflow's dashboard-created webhooks,
	// HubSpot's workflow action). A source with a Secret requires the
	// signature; a source without one is protected by its token instead.
	SignsOptionally bool
}

// Providers returns the registry by name; an explicit table, no init() magic.
// Each call builds a new map, so callers may not change what others see.
func Providers() map[string]Provider {
	list := []Provider{
		// Web forms.
		{Name: "form"},
		{
			// Webhooks API requests are signed; workflow "Send a webhook"
			// posts are not (a source of its own, with a token).
			Name:            "hubspot",
			Verify:          verifyHubSpot,
			Headers:         []string{"X-Hubspot-Signature-V3", "X-Hubspot-Request-Timestamp", "X-Hubspot-Signature", "X-Hubspot-Signature-Version"},
			SignsOptionally: true,
		},
		{
			// Only webhooks created by an OAuth app (or through the API with
			// a whsec_ secret) are signed.
			Name:            "webflow",
			Verify:          verifyWebflow,
			Headers:         []string{"X-Webflow-Signature", "X-Webflow-Timestamp"},
			SignsOptionally: true,
		},
		{
			// Tally signs only when the webhook has a signing secret.
			Name:            "tally",
			Verify:          tallySignature.verify,
			Headers:         []string{"Tally-Signature"},
			SignsOptionally: true,
		},
		{Name: "jotform"},
		{Name: "unbounce"},
		{Name: "gravityforms"},

		// Ad lead forms.
		{
			Name:        "meta",
			Verify:      metaSignature.verify,
			Handshake:   handshakeMeta,
			Headers:     []string{"X-Hub-Signature-256", "X-Hub-Signature"},
			NeedsSecret: true,
		},
		{Name: "google_ads", Verify: verifyGoogleAds, NeedsSecret: true},
		{
			Name:        "linkedin",
			Verify:      linkedInSignature.verify,
			Handshake:   handshakeLinkedIn,
			Headers:     []string{"X-Li-Signature"},
			NeedsSecret: true,
		},

		// Support desks.
		{
			Name:   "zendesk",
			Verify: verifyZendesk,
			Headers: []string{
				"X-Zendesk-Webhook-Signature", "X-Zendesk-Webhook-Signature-Timestamp",
				"X-Zendesk-Webhook-Id", "X-Zendesk-Webhook-Invocation-Id", "X-Zendesk-Account-Id",
			},
			NeedsSecret: true,
		},
		{Name: "freshdesk"},
		{
			Name:        "intercom",
			Verify:      intercomSignature.verify,
			Headers:     []string{"X-Hub-Signature"},
			NeedsSecret: true,
		},
		{
			// The event name is only in X-HelpScout-Event, never in the body.
			Name:        "helpscout",
			Verify:      helpScoutSignature.verify,
			Headers:     []string{"X-Helpscout-Signature", "X-Helpscout-Event"},
			NeedsSecret: true,
		},

		// Surveys and NPS.
		{
			Name:        "typeform",
			Verify:      typeformSignature.verify,
			Headers:     []string{"Typeform-Signature"},
			NeedsSecret: true,
		},
		{
			Name:        "surveymonkey",
			Verify:      surveyMonkeySignature.verify,
			Handshake:   handshakeSurveyMonkey,
			Headers:     []string{"Sm-Signature"},
			NeedsSecret: true,
		},
		{Name: "delighted"},
		{Name: "qualtrics"},
		{Name: "google_forms"},
		{Name: "nps"},

		// Any sender that follows the Standard Webhooks specification.
		{
			Name:        "events",
			Verify:      verifyStandardWebhooks,
			Headers:     []string{"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"},
			NeedsSecret: true,
		},
	}
	m := make(map[string]Provider, len(list))
	for _, p := range list {
		m[p.Name] = p
	}
	return m
}

// AuthError is returned by every verifier; the handler answers 401 with Reason.
// Reason names what was wrong (a missing header, a stale timestamp, a
// signature that does not match) and never contains a secret or the
// expected signature.
type AuthError struct{ Reason string }

func (e *AuthError) Error() string { return e.Reason }

func authErrorf(format string, args ...any) *AuthError {
	return &AuthError{Reason: fmt.Sprintf(format, args...)}
}

// defaultTolerance is the replay window of timestamped schemes when the
// source sets no Tolerance: the five minutes HubSpot, Webflow and Standard
// Webhooks document.
const defaultTolerance = 5 * time.Minute

// tolerance is the replay window for cfg.
func tolerance(cfg SourceConfig) time.Duration {
	if cfg.Tolerance > 0 {
		return cfg.Tolerance
	}
	return defaultTolerance
}
