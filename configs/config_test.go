package configs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cyclehub/cyclehub/webhooks"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestTheDevConfigIsValid(t *testing.T) {
	data, err := os.ReadFile("cyclehub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(data, env(nil))
	if err != nil {
		t.Fatalf("configs/cyclehub.yaml: %v", err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:8080" || cfg.Ops.Addr != "127.0.0.1:8081" || cfg.Sources["form"].Provider != "form" {
		t.Fatalf("dev config = %+v", cfg)
	}
}

// The dev config's contract (README, "Wiring each provider"): one source
// per provider, named as the provider, its secret from
// CYCLEHUB_SECRET_<NAME>, its API token and base from
// CYCLEHUB_API_TOKEN_<NAME> and CYCLEHUB_API_BASE_<NAME>.
func TestTheDevConfigHasOneSourcePerProviderReadFromTheEnvironment(t *testing.T) {
	data, err := os.ReadFile("cyclehub.yaml")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"CYCLEHUB_VERIFY_TOKEN_META": "verify-from-env-000"}
	for name := range webhooks.Providers() {
		up := strings.ToUpper(name)
		vars["CYCLEHUB_SECRET_"+up] = "secret-from-env-" + name
		vars["CYCLEHUB_API_TOKEN_"+up] = "api-token-from-env-" + name
		vars["CYCLEHUB_API_BASE_"+up] = "http://127.0.0.1:9/" + name
	}
	cfg, err := Parse(data, env(vars))
	if err != nil {
		t.Fatalf("configs/cyclehub.yaml: %v", err)
	}
	specs, err := LoadMappings("mappings")
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range webhooks.Providers() {
		sc, ok := cfg.Sources[name]
		if !ok || sc.Provider != name {
			t.Errorf("no source %q of provider %q", name, name)
			continue
		}
		want := "secret-from-env-" + name
		if got := sc.Secret.Reveal() + sc.Token.Reveal(); got != want {
			t.Errorf("sources.%s: secret/token %q, want %q from CYCLEHUB_SECRET_%s", name, got, want, strings.ToUpper(name))
		}
		if p.Verify != nil && !p.SignsOptionally && sc.Secret.IsZero() {
			t.Errorf("sources.%s: a signing provider reads its secret as secret, not token", name)
		}
		if spec := specs[name]; spec != nil && spec.NeedsFetch() {
			if sc.APIToken.Reveal() != "api-token-from-env-"+name || sc.APIBase != "http://127.0.0.1:9/"+name {
				t.Errorf("sources.%s: api_token/api_base not read from the environment", name)
			}
		}
	}
	if cfg.Sources["meta"].VerifyToken.Reveal() != "verify-from-env-000" {
		t.Error("meta's verify_token is not read from CYCLEHUB_VERIFY_TOKEN_META")
	}
}

func TestABrokenFileReportsEveryProblemWithItsPath(t *testing.T) {
	broken := `
http:
  addr: nowhere
  read_timeout: 10 sec
  max_body_bytse: 5
postgres:
  max_conns: 1
kafka:
  brokers: []
  partitioner: crc32
pipeline:
  workers: 0
sources:
  form:
    providr: form
  Bad Name:
    provider: typo
admin:
  token: ${NOT_SET_ANYWHERE}
log:
  level: loud
`
	_, err := Parse([]byte(broken), env(nil))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want Errors", err)
	}
	text := err.Error()
	for _, want := range []string{
		`http.addr: "nowhere" is not host:port`,
		`http.read_timeout: cannot parse "10 sec" as duration (line 4)`,
		`http: unknown field "max_body_bytse" (line 5)`,
		`postgres.max_conns: must be at least 4`,
		`kafka.brokers: at least one broker is required`,
		`kafka.partitioner: must be murmur2 or fnv1a`,
		`pipeline.workers: must be between 1 and 256`,
		`sources.form: unknown field "providr" (line 15)`,
		`sources.form.provider: must be set`,
		`sources.Bad Name.provider: unknown provider "typo"`,
		`admin.token: environment variable NOT_SET_ANYWHERE is not set`,
		`log.level: must be one of`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	if len(errs) < 12 {
		t.Errorf("got %d errors, want every one of them at once:\n%s", len(errs), text)
	}
}

func TestEnvironmentOverridesConnectionSettings(t *testing.T) {
	data := []byte("admin: {token: file-token-0123456789}\nprivacy: {suppression_key: file-key-0123456789}\nsources: {form: {provider: form}}\n")
	cfg, err := Parse(data, env(map[string]string{
		EnvPostgresURL:  "postgres://u:pw@db.internal:5432/ch",
		EnvRedisURL:     "redis://cache:6379/1",
		EnvKafkaBrokers: "k1:9092, k2:9092",
		EnvHTTPAddr:     "0.0.0.0:9000",
		EnvOpsAddr:      "127.0.0.1:9001",
		EnvAdminToken:   "env-token-0123456789",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Postgres.URL.Reveal() != "postgres://u:pw@db.internal:5432/ch" || cfg.Redis.URL.Reveal() != "redis://cache:6379/1" ||
		strings.Join(cfg.Kafka.Brokers, ",") != "k1:9092,k2:9092" || cfg.HTTP.Addr != "0.0.0.0:9000" ||
		cfg.Ops.Addr != "127.0.0.1:9001" || cfg.Admin.Token.Reveal() != "env-token-0123456789" {
		t.Fatalf("overrides not applied: %+v", cfg)
	}
	if s := cfg.Postgres.URL.String(); s != "***" {
		t.Fatalf("the postgres URL prints as %q, want ***", s)
	}
}

func TestSecretsExpandFromTheEnvironmentWithDefaults(t *testing.T) {
	data := []byte(`
admin: {token: "${ADMIN:-default-token-0123456789}"}
privacy: {suppression_key: a-long-enough-suppression-key}
sources:
  form: {provider: form, token: "${CYCLEHUB_SECRET_FORM}"}
`)
	cfg, err := Parse(data, env(map[string]string{"CYCLEHUB_SECRET_FORM": "form-secret-0123456789"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Token.Reveal() != "default-token-0123456789" || cfg.Sources["form"].Token.Reveal() != "form-secret-0123456789" {
		t.Fatalf("expansion: admin=%q form=%q", cfg.Admin.Token.Reveal(), cfg.Sources["form"].Token.Reveal())
	}
}

// A second form of one provider is onboarded with a mapping file of its
// own and a source that names it; a source cannot borrow another
// provider's mapping.
func TestASourceMayNameItsOwnMappingOfItsProvider(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, "mappings"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("mappings/typeform.yaml", "provider: typeform\nidentities: {email: {path: email}}\n")
	write("mappings/typeform_churn_survey.yaml", "provider: typeform\nidentities: {email: {path: \"form_response.hidden.email\"}}\n")
	write("mappings/webflow.yaml", "provider: webflow\nidentities: {email: {path: email}}\n")
	rules, err := filepath.Abs("rules")
	if err != nil {
		t.Fatal(err)
	}
	base := `
rules_dir: ` + rules + `
admin: {token: a-long-enough-admin-token}
privacy: {suppression_key: a-long-enough-suppression-key}
sources:
  typeform: {provider: typeform, secret: s3cret}
  churn: {provider: typeform, secret: s3cret, mapping: typeform_churn_survey}
`
	write("ok.yaml", base)
	cfg, err := Load(filepath.Join(dir, "ok.yaml"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sources["churn"].MappingName() != "typeform_churn_survey" || cfg.Mappings["typeform_churn_survey"] == nil {
		t.Fatalf("mappings %v", cfg.Mappings)
	}
	write("bad.yaml", base+`  borrowed: {provider: typeform, secret: s3cret, mapping: webflow}
  missing: {provider: typeform, secret: s3cret, mapping: nope}
`)
	_, err = Load(filepath.Join(dir, "bad.yaml"), env(nil))
	for _, want := range []string{`sources.borrowed.mapping: webflow.yaml maps provider "webflow", not the source's "typeform"`,
		"sources.missing.mapping: no mapping nope.yaml"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func TestSourceRateLimits(t *testing.T) {
	const base = "admin: {token: file-token-0123456789}\nprivacy: {suppression_key: file-key-0123456789}\nsources:\n"
	tests := []struct {
		name    string
		sources string
		want    map[string]*webhooks.RateLimit // when the config is valid
		errs    []string                       // every error, when it is not
	}{
		{
			name:    "a source without a rate limit has none",
			sources: "  form: {provider: form}\n",
			want:    map[string]*webhooks.RateLimit{"form": nil},
		},
		{
			name:    "a source's rate limit is read with both keys",
			sources: "  form: {provider: form, rate_limit: {rps: 200, burst: 400}}\n  slow: {provider: form, rate_limit: {rps: 0.5, burst: 1}}\n",
			want:    map[string]*webhooks.RateLimit{"form": {RPS: 200, Burst: 400}, "slow": {RPS: 0.5, Burst: 1}},
		},
		{
			name: "every problem of every source's limit is reported at once, with its path",
			sources: "  a: {provider: form, rate_limit: {rps: 0, burst: 0}}\n" +
				"  b: {provider: form, rate_limit: {rsp: 5, burst: 5}}\n" +
				"  c: {provider: form, rate_limit: {rps: fast, burst: 2.5}}\n" +
				"  d: {provider: form, rate_limit: 100}\n",
			errs: []string{
				"sources.a.rate_limit.burst: must be at least 1 (the requests accepted at once), got 0",
				"sources.a.rate_limit.rps: must be a positive number of requests per second, got 0",
				"sources.b.rate_limit.rps: must be a positive number of requests per second, got 0",
				"sources.c.rate_limit.burst: must be at least 1 (the requests accepted at once), got 0",
				"sources.c.rate_limit.rps: must be a positive number of requests per second, got 0",
				"sources.d.rate_limit.burst: must be at least 1 (the requests accepted at once), got 0",
				"sources.d.rate_limit.rps: must be a positive number of requests per second, got 0",
				`sources.b.rate_limit: unknown field "rsp" (line 5)`,
				`sources.c.rate_limit.burst: cannot parse "2.5" as integer (line 6)`,
				`sources.c.rate_limit.rps: cannot parse "fast" as number (line 6)`,
				`sources.d.rate_limit: expected a mapping, got "100" (line 7)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(base+tt.sources), env(nil))
			if tt.errs != nil {
				var errs Errors
				if !errors.As(err, &errs) {
					t.Fatalf("err = %v, want Errors", err)
				}
				got := strings.Split(err.Error(), "\n")
				if strings.Join(got, "\n") != strings.Join(tt.errs, "\n") {
					t.Fatalf("errors:\n%s\nwant:\n%s", err, strings.Join(tt.errs, "\n"))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.want {
				got := cfg.Sources[name].RateLimit
				if (got == nil) != (want == nil) || (got != nil && *got != *want) {
					t.Errorf("sources.%s.rate_limit = %+v, want %+v", name, got, want)
				}
			}
		})
	}
}
