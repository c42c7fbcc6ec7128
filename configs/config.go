package configs

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/connectors/enrichhttp"
	"github.com/cyclehub/cyclehub/connectors/kafkasink"
	"github.com/cyclehub/cyclehub/internal/providerapi"
	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/mapping"
	"github.com/cyclehub/cyclehub/pipeline"
	"github.com/cyclehub/cyclehub/store/pgstore"
	"github.com/cyclehub/cyclehub/store/redisstore"
	"github.com/cyclehub/cyclehub/webhooks"
)

// Config is CycleHub's whole configuration: one YAML file. Every section is
// owned by the package that uses it; this type only aggregates them.
type Config struct {
	HTTP     webhooks.Config           `yaml:"http"`
	Ops      OpsConfig                 `yaml:"ops"`
	Admin    AdminConfig               `yaml:"admin"`
	Postgres pgstore.Config            `yaml:"postgres"`
	Redis    redisstore.Config         `yaml:"redis"`
	Kafka    kafkasink.Config          `yaml:"kafka"`
	Ingest   pgstore.InboxWriterConfig `yaml:"ingest"`
	Pipeline pipeline.Config           `yaml:"pipeline"`
	Relay    pipeline.RelayConfig      `yaml:"relay"`
	Fetch    FetchConfig               `yaml:"fetch"`
	Identity pipeline.IdentityConfig   `yaml:"identity"`
	// Enrichment is the optional HTTP enrichment API (off unless url is set).
	Enrichment enrichhttp.Config                `yaml:"enrichment"`
	Privacy    PrivacyConfig                    `yaml:"privacy"`
	Sources    map[string]webhooks.SourceConfig `yaml:"sources"`
	// Destinations are the outbound destinations lifecycle events are
	// delivered to, by name.
	Destinations map[string]DestinationConfig `yaml:"destinations"`
	Log          LogConfig                    `yaml:"log"`
	// MappingsDir holds one declarative mapping per provider
	// (<provider>.yaml); relative to the config file's directory.
	MappingsDir string `yaml:"mappings_dir"`

	// RulesDir holds the scoring and lifecycle rules (*.yaml, one model);
	// relative to the config file's directory.
	RulesDir string `yaml:"rules_dir"`
	// Sweep schedules the re-evaluation of customers as time passes.
	Sweep pipeline.SweepConfig `yaml:"sweep"`

	// Mappings are the compiled mappings, by name (loaded by Load).
	Mappings map[string]*mapping.Compiled `yaml:"-"`
	// Rules is the compiled lifecycle model (loaded by Load).
	Rules *mapping.Model `yaml:"-"`
	// mappingsPath and rulesPath are MappingsDir and RulesDir resolved
	// against the config file.
	mappingsPath, rulesPath string
}

// FetchConfig configures the completion of id-only webhooks with the
// providers' APIs: the fetcher's schedule and the HTTP client.
type FetchConfig struct {
	pipeline.FetchConfig `yaml:",inline"`
	HTTP                 providerapi.Config `yaml:"http"`
}

// PrivacyConfig configures erasure and retention (DOMAIN.md, Privacy).
type PrivacyConfig struct {
	// SuppressionKey keys the hashes of erased people's identifiers on the
	// suppression list. Changing it forgets who was erased: keep it as
	// long as the data.
	SuppressionKey secret.Secret `yaml:"suppression_key"`
	// Retention bounds how long raw requests are kept.
	Retention pipeline.RetentionConfig `yaml:"retention"`
}

// OpsConfig is the operator listener (/healthz, /readyz, /metrics, pprof).
type OpsConfig struct {
	Addr string `yaml:"addr"`
}

// AdminConfig protects the admin API.
type AdminConfig struct {
	// Token is the bearer token of the admin API (at least 16 characters).
	Token secret.Secret `yaml:"token"`
	// DefaultRegion reads national numbers in ?phone= lookups.
	DefaultRegion string `yaml:"default_region"`
}

// LogConfig configures logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // trace, debug, info, warn, error
	Format string `yaml:"format"` // json or text
}

// Default returns the configuration with every default applied: the single
// place defaults are defined (docs/configuration.md lists them).
func Default() Config {
	return Config{
		HTTP:       webhooks.DefaultConfig(),
		Ops:        OpsConfig{Addr: "127.0.0.1:8081"},
		Postgres:   pgstore.DefaultConfig(),
		Redis:      redisstore.DefaultConfig(),
		Kafka:      kafkasink.DefaultConfig(),
		Ingest:     pgstore.DefaultInboxWriterConfig(),
		Pipeline:   pipeline.DefaultConfig(),
		Relay:      pipeline.DefaultRelayConfig(),
		Fetch:      FetchConfig{FetchConfig: pipeline.DefaultFetchConfig(), HTTP: providerapi.DefaultConfig()},
		Identity:   pipeline.DefaultIdentityConfig(),
		Enrichment: enrichhttp.DefaultConfig(),
		Privacy:    PrivacyConfig{Retention: pipeline.DefaultRetentionConfig()},
		Sources:    map[string]webhooks.SourceConfig{},
		Log:        LogConfig{Level: "info", Format: "json"},

		MappingsDir: "mappings",
		RulesDir:    "rules",
		Sweep:       pipeline.DefaultSweepConfig(),
	}
}

// Environment overrides for connection settings (DESIGN.md §3). They win
// over the file.
const (
	EnvPostgresURL  = "CYCLEHUB_POSTGRES_URL"
	EnvRedisURL     = "CYCLEHUB_REDIS_URL"
	EnvKafkaBrokers = "CYCLEHUB_KAFKA_BROKERS"
	EnvHTTPAddr     = "CYCLEHUB_HTTP_ADDR"
	EnvOpsAddr      = "CYCLEHUB_OPS_ADDR"
	EnvAdminToken   = "CYCLEHUB_ADMIN_TOKEN" // #nosec G101 -- the name of an environment variable, not a credential
	// EnvSuppressionKey overrides privacy.suppression_key.
	EnvSuppressionKey = "CYCLEHUB_SUPPRESSION_KEY"
)

// Load reads, decodes, overrides from the environment and validates the
// config file at path, and loads the mappings it points to. The error
// lists every problem at once.
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data, lookupEnv)
	var errs Errors
	if err != nil && !errors.As(err, &errs) {
		return nil, err
	}
	if cfg == nil {
		// Parse failed: still report the mappings' problems with the rest.
		d := Default()
		cfg = &d
		if derr := Decode(data, cfg, lookupEnv); derr != nil {
			_ = derr // already reported by Parse
		}
	}
	// Every problem of the directories too, each with its place.
	collect := func(key string, err error) {
		var each Errors
		switch {
		case errors.As(err, &each):
			errs = append(errs, each...)
		case err != nil:
			errs.Add(key, "%v", err)
		}
	}
	cfg.mappingsPath = relativeToConfig(path, cfg.MappingsDir)
	specs, merr := cfg.loadMappings()
	collect("mappings_dir", merr)
	cfg.Mappings = specs
	cfg.rulesPath = relativeToConfig(path, cfg.RulesDir)
	model, rerr := cfg.ReloadRules()
	collect("rules_dir", rerr)
	cfg.Rules = model
	if model != nil {
		errs = append(errs, cfg.checkStages(model)...)
	}
	if err := errs.sorted().Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkStages reports the destinations' subscribed stages that are not on
// the rules' ladder (a typo would match nothing, silently).
func (c *Config) checkStages(m *mapping.Model) Errors {
	var errs Errors
	for _, name := range sortedNames(c.Destinations) {
		for i, st := range c.Destinations[name].Subscribe.Stages {
			if !m.HasStage(st) {
				errs.Add(fmt.Sprintf("destinations.%s.subscribe.stages[%d]", name, i), "%q is not on the rules' stage ladder", st)
			}
		}
	}
	return errs
}

// ReloadMappings reads the mappings directory again (SIGHUP) and checks
// it against the sources. On any error the caller keeps the mappings it
// has; the error lists every problem.
func (c *Config) ReloadMappings() (map[string]*mapping.Compiled, error) {
	return c.loadMappings()
}

// ReloadRules reads and compiles the rules directory again (SIGHUP). On
// any error the caller keeps the model it has; the error lists every
// problem.
func (c *Config) ReloadRules() (*mapping.Model, error) {
	dir := c.rulesPath
	if dir == "" {
		dir = c.RulesDir // a Config built in code: relative to the working directory
	}
	return LoadRules(dir)
}

// loadMappings loads and compiles the mappings and checks that each
// source has the mapping it names, of its own provider.
func (c *Config) loadMappings() (map[string]*mapping.Compiled, error) {
	dir := c.mappingsPath
	if dir == "" {
		dir = c.MappingsDir // a Config built in code: relative to the working directory
	}
	specs, err := LoadMappings(dir)
	if err != nil {
		return nil, err
	}
	var errs Errors
	for _, name := range sortedNames(c.Sources) {
		sc := c.Sources[name]
		spec := specs[sc.MappingName()]
		switch {
		case sc.Provider == "" || sc.Provider == "form" && sc.Mapping == "":
		case spec == nil && sc.Mapping != "":
			errs.Add("sources."+name+".mapping", "no mapping %s.yaml in %s", sc.Mapping, c.MappingsDir)
		case spec == nil:
			errs.Add("sources."+name+".provider", "no mapping for provider %q in %s", sc.Provider, c.MappingsDir)
		case spec.Spec().Provider != sc.Provider:
			errs.Add("sources."+name+".mapping", "%s.yaml maps provider %q, not the source's %q", sc.MappingName(), spec.Spec().Provider, sc.Provider)
		}
	}
	if err := errs.sorted().Err(); err != nil {
		return specs, err
	}
	return specs, nil
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Parse is Load for config text.
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	cfg := Default()
	var errs Errors
	if err := Decode(data, &cfg, lookupEnv); err != nil {
		var de Errors
		if !errors.As(err, &de) {
			return nil, err
		}
		errs = append(errs, de...)
	}
	cfg.applyEnv(lookupEnv)
	errs = append(errs, cfg.Validate()...)
	if err := errs.sorted().Err(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func (c *Config) applyEnv(lookup func(string) (string, bool)) {
	if v, ok := lookup(EnvPostgresURL); ok && v != "" {
		c.Postgres.URL = secret.Secret(v)
	}
	if v, ok := lookup(EnvRedisURL); ok && v != "" {
		c.Redis.URL = secret.Secret(v)
	}
	if v, ok := lookup(EnvKafkaBrokers); ok && v != "" {
		c.Kafka.Brokers = nil
		for b := range strings.SplitSeq(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.Kafka.Brokers = append(c.Kafka.Brokers, b)
			}
		}
	}
	if v, ok := lookup(EnvHTTPAddr); ok && v != "" {
		c.HTTP.Addr = v
	}
	if v, ok := lookup(EnvOpsAddr); ok && v != "" {
		c.Ops.Addr = v
	}
	if v, ok := lookup(EnvAdminToken); ok && v != "" {
		c.Admin.Token = secret.Secret(v)
	}
	if v, ok := lookup(EnvSuppressionKey); ok && v != "" {
		c.Privacy.SuppressionKey = secret.Secret(v)
	}
}

// Validate checks every section and returns all problems with their paths.
func (c *Config) Validate() Errors {
	var errs Errors
	section := func(prefix string, es []error) {
		for _, e := range es {
			key, msg, ok := strings.Cut(e.Error(), ": ")
			if !ok {
				errs.Add(prefix, "%s", e.Error())
				continue
			}
			errs.Add(prefix+"."+key, "%s", msg)
		}
	}
	section("http", c.HTTP.Validate())
	if _, _, err := net.SplitHostPort(c.Ops.Addr); err != nil {
		errs.Add("ops.addr", "%q is not host:port", c.Ops.Addr)
	}
	if c.Ops.Addr == c.HTTP.Addr {
		errs.Add("ops.addr", "must differ from http.addr")
	}
	if c.Admin.DefaultRegion != "" && mapping.CountryCode(c.Admin.DefaultRegion) != c.Admin.DefaultRegion {
		errs.Add("admin.default_region", "must be an ISO 3166 alpha-2 code like US, got %q", c.Admin.DefaultRegion)
	}
	if c.Admin.Token.IsZero() {
		errs.Add("admin.token", "must be set (or %s)", EnvAdminToken)
	} else if len(c.Admin.Token.Reveal()) < 16 {
		errs.Add("admin.token", "must be at least 16 characters")
	}
	section("postgres", c.Postgres.Validate())
	// Each range the relay leads holds a connection, plus its member slot;
	// the pipeline workers and the inbox flushers need theirs too.
	if need := c.Relay.Ranges + 1 + c.Pipeline.Workers + c.Ingest.Flushers + 2; int(c.Postgres.MaxConns) < need {
		errs.Add("postgres.max_conns", "must be at least %d: relay.ranges + 1 + pipeline.workers + ingest.flushers + 2 for the API and jobs, got %d",
			need, c.Postgres.MaxConns)
	}
	section("redis", c.Redis.Validate())
	section("kafka", c.Kafka.Validate())
	section("ingest", c.Ingest.Validate())
	section("pipeline", c.Pipeline.Validate())
	section("relay", c.Relay.Validate())
	section("fetch", c.Fetch.FetchConfig.Validate())
	section("fetch.http", c.Fetch.HTTP.Validate())
	section("identity", c.Identity.Validate())
	section("enrichment", c.Enrichment.Validate())
	section("privacy.retention", c.Privacy.Retention.Validate())
	section("sweep", c.Sweep.Validate())
	if c.Privacy.SuppressionKey.IsZero() {
		errs.Add("privacy.suppression_key", "must be set (or %s): it keys the suppression list of erased people", EnvSuppressionKey)
	} else if len(c.Privacy.SuppressionKey.Reveal()) < 16 {
		errs.Add("privacy.suppression_key", "must be at least 16 characters")
	}
	if len(c.Sources) == 0 {
		errs.Add("sources", "at least one source is required")
	}
	for name, s := range c.Sources {
		section("sources."+name, s.Validate(name))
	}
	reg := Connectors()
	for _, name := range sortedNames(c.Destinations) {
		if !validName(name) {
			errs.Add("destinations."+name, "a destination name is letters, digits, _ and - (it names its deliveries and metrics)")
		}
		section("destinations."+name, c.Destinations[name].validate(reg))
	}
	if _, err := logrus.ParseLevel(c.Log.Level); err != nil {
		errs.Add("log.level", "must be one of trace, debug, info, warn, error; got %q", c.Log.Level)
	}
	if !slices.Contains([]string{"json", "text"}, c.Log.Format) {
		errs.Add("log.format", "must be json or text; got %q", c.Log.Format)
	}
	return errs
}
