package webhooks

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestProvidersRegistry(t *testing.T) {
	signed := []string{"hubspot", "webflow", "tally", "meta", "google_ads", "linkedin", "zendesk", "intercom", "helpscout", "typeform", "surveymonkey", "events"}
	unsigned := []string{"form", "jotform", "unbounce", "gravityforms", "freshdesk", "delighted", "qualtrics", "google_forms", "nps"}
	handshakes := []string{"meta", "linkedin", "surveymonkey"}
	reg := Providers()

	t.Run("the registry holds exactly the documented provider names", func(t *testing.T) {
		want := slices.Sorted(slices.Values(append(slices.Clone(signed), unsigned...)))
		if got := slices.Sorted(maps.Keys(reg)); !slices.Equal(got, want) {
			t.Fatalf("providers %v, want %v", got, want)
		}
	})
	t.Run("each entry is registered under its own name", func(t *testing.T) {
		for name, p := range reg {
			if p.Name != name {
				t.Errorf("%q registered as %q", p.Name, name)
			}
		}
	})
	t.Run("signed providers verify and unsigned ones leave it to the token", func(t *testing.T) {
		for _, name := range signed {
			if reg[name].Verify == nil {
				t.Errorf("%s has no verifier", name)
			}
		}
		for _, name := range unsigned {
			if p := reg[name]; p.Verify != nil || p.NeedsSecret || p.Handshake != nil || len(p.Headers) != 0 {
				t.Errorf("%s is unsigned but has %+v", name, p)
			}
		}
	})
	t.Run("every signed provider needs a secret but those that sign optionally", func(t *testing.T) {
		for _, name := range signed {
			optional := slices.Contains([]string{"tally", "webflow", "hubspot"}, name)
			if reg[name].NeedsSecret == optional || reg[name].SignsOptionally != optional {
				t.Errorf("%s NeedsSecret = %v, SignsOptionally = %v", name, reg[name].NeedsSecret, reg[name].SignsOptionally)
			}
		}
	})
	t.Run("only meta, linkedin and surveymonkey answer handshakes", func(t *testing.T) {
		for name, p := range reg {
			if want := slices.Contains(handshakes, name); (p.Handshake != nil) != want {
				t.Errorf("%s has a handshake: %v, want %v", name, p.Handshake != nil, want)
			}
		}
	})
	t.Run("kept headers are canonical, unique and never credentials", func(t *testing.T) {
		for name, p := range reg {
			seen := map[string]bool{}
			for _, h := range p.Headers {
				if h != http.CanonicalHeaderKey(h) {
					t.Errorf("%s keeps %q, not in canonical form %q", name, h, http.CanonicalHeaderKey(h))
				}
				if seen[h] {
					t.Errorf("%s keeps %q twice", name, h)
				}
				seen[h] = true
				if l := strings.ToLower(h); l == "authorization" || strings.Contains(l, "apikey") || strings.Contains(l, "token") {
					t.Errorf("%s keeps the credential header %q", name, h)
				}
			}
		}
	})
	t.Run("every signature header a verifier reads is kept", func(t *testing.T) {
		for _, s := range schemes() {
			headers := reg[s.provider].Headers
			for _, h := range []string{s.sigHeader, s.tsHeader} {
				if h != "" && !slices.Contains(headers, http.CanonicalHeaderKey(h)) {
					t.Errorf("%s does not keep %s", s.provider, h)
				}
			}
		}
	})
	t.Run("each call returns a fresh table", func(t *testing.T) {
		a := Providers()
		a["hubspot"].Headers[0] = "X-Changed"
		delete(a, "meta")
		b := Providers()
		if b["hubspot"].Headers[0] == "X-Changed" || b["meta"].Name != "meta" {
			t.Error("changing one table changed the next")
		}
	})
}
