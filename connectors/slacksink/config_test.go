package slacksink_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/connectors/slacksink"
	"github.com/cyclehub/cyclehub/internal/secret"
)

func TestValidationListsEveryProblemAtOnce(t *testing.T) {
	cfg := slacksink.Config{
		URL:  "ftp://hooks.slack.com" + tokenPath,
		HTTP: slacksink.DefaultConfig().HTTP,
		Templates: map[string]string{
			"stage_changed":  "{{.Name",
			"stage_chanegd":  "{{.Name}}",
			"stage_changed:": "{{.Name}}",
			"default":        "  ",
			"created":        "{{nosuchfunc .Name}}",
		},
	}
	cfg.HTTP.Timeout, cfg.HTTP.Retries = 0, 9
	errs := cfg.Validate()
	var got []string
	for _, e := range errs {
		got = append(got, e.Error())
		if strings.Contains(e.Error(), "xoxTOKEN") {
			t.Errorf("%q holds the URL", e)
		}
	}
	for _, prefix := range []string{"url:", "http.timeout:", "http.retries:", "templates.created:", "templates.default:",
		"templates.stage_chanegd:", "templates.stage_changed:", "templates.stage_changed::"} {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, prefix)
		}
		if !found {
			t.Errorf("no %q problem in %q", prefix, got)
		}
	}
	if len(errs) != 8 {
		t.Errorf("%d problems, want 8: %q", len(errs), got)
	}
	if _, err := slacksink.New(cfg); err == nil {
		t.Error("New accepted an invalid config")
	}
}

func TestTheURLMustBeHTTPSButForTheLoopback(t *testing.T) {
	for url, ok := range map[string]bool{
		"https://hooks.slack.com/services/T/B/x": true,
		"http://127.0.0.1:8080/hook":             true,
		"http://localhost:8080/hook":             true,
		"http://[::1]:8080/hook":                 true,
		"":                                       false,
		"http://hooks.slack.com/services/T/B/x":  false,
		"hooks.slack.com/services/T/B/x":         false,
		"https:///services":                      false,
		"ws://127.0.0.1/hook":                    false,
	} {
		cfg := slacksink.DefaultConfig()
		cfg.URL = secret.Secret(url)
		errs := cfg.Validate()
		if (len(errs) == 0) != ok {
			t.Errorf("%q: problems %v, want valid=%v", url, errs, ok)
		}
	}
}

func TestTheDefaultsAreValidOnceTheURLIsSet(t *testing.T) {
	cfg := slacksink.DefaultConfig()
	if errs := cfg.Validate(); len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "url:") {
		t.Fatalf("defaults: %v, want only the missing url", errs)
	}
	cfg.URL = "https://hooks.slack.com" + tokenPath
	if errs := cfg.Validate(); len(errs) != 0 {
		t.Fatalf("defaults with a URL: %v", errs)
	}
	if cfg.HTTP.Timeout != 10*time.Second {
		t.Fatalf("http defaults %+v", cfg.HTTP)
	}
	for _, k := range []string{"stage_changed", "score_changed", "default"} {
		if cfg.Templates[k] == "" {
			t.Errorf("no built-in %s template", k)
		}
	}
}
