package docgen

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cyclehub/cyclehub/configs"
)

// Docker cannot run in CI, so these tests check what can be checked
// without it: docker-compose.yml parses, its services wait for healthy
// dependencies, and the config the cyclehub service runs with passes
// check-config and points at the compose services and ports.

const (
	composeFile  = "docker-compose.yml"
	dockerConfig = "configs/cyclehub.docker.yaml"
	// imageConfig is where the Dockerfile puts dockerConfig.
	imageConfig = "/etc/cyclehub/cyclehub.docker.yaml"
)

type composeService struct {
	Build       any               `yaml:"build"`
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

func readCompose(t *testing.T) map[string]composeService {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, composeFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s does not parse: %v", composeFile, err)
	}
	return doc.Services
}

// composeDefault resolves compose's ${VAR:-default} interpolation to the
// default, as on a machine without those variables set.
var composeVar = regexp.MustCompile(`\$\{[A-Z0-9_]+:-([^}]*)\}`)

func composeDefault(s string) string { return composeVar.ReplaceAllString(s, "$1") }

// publishedPorts returns the container ports of "host:hostPort:containerPort"
// entries, checking each is published on the loopback only.
func publishedPorts(t *testing.T, service string, ports []string) []string {
	t.Helper()
	var out []string
	for _, p := range ports {
		parts := strings.Split(p, ":")
		if len(parts) != 3 || parts[0] != "127.0.0.1" {
			t.Errorf("%s: port %q should be published as 127.0.0.1:<host port>:<container port>", service, p)
			continue
		}
		out = append(out, parts[2])
	}
	return out
}

func TestTheComposeServicesStartInOrder(t *testing.T) {
	services := readCompose(t)
	for _, name := range []string{"cyclehub", "postgres", "redis", "kafka"} {
		if _, ok := services[name]; !ok {
			t.Fatalf("%s has no %q service", composeFile, name)
		}
	}
	hub := services["cyclehub"]
	if hub.Build == nil {
		t.Error("cyclehub should be built from the repository's Dockerfile (build: .)")
	}
	for _, dep := range []string{"postgres", "redis", "kafka"} {
		if c := hub.DependsOn[dep].Condition; c != "service_healthy" {
			t.Errorf("cyclehub should wait for %s with condition service_healthy, got %q", dep, c)
		}
		if hc := services[dep].Healthcheck; hc == nil || len(hc.Test) == 0 {
			t.Errorf("%s needs a healthcheck for cyclehub's depends_on condition", dep)
		}
	}
	if !slices.Equal(hub.Command, []string{"serve", "--config", imageConfig}) {
		t.Errorf("cyclehub's command = %q, want serve --config %s", hub.Command, imageConfig)
	}
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if copyLine := "COPY " + dockerConfig + " " + filepath.Dir(imageConfig) + "/"; !strings.Contains(string(dockerfile), copyLine) {
		t.Errorf("the Dockerfile should ship the compose config: %q", copyLine)
	}
}

func TestTheDockerConfigPointsAtTheComposeServices(t *testing.T) {
	services := readCompose(t)
	hub := services["cyclehub"]
	env := map[string]string{}
	for k, v := range hub.Environment {
		env[k] = composeDefault(v)
	}
	// The config as the container reads it: its environment only (not the
	// test's, which may point at the dev stack).
	cfg, err := configs.Load(filepath.Join(repoRoot, dockerConfig), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("cyclehub check-config %s fails:\n%v", dockerConfig, err)
	}

	// The listeners: on every interface of the container, on the ports
	// compose publishes.
	published := publishedPorts(t, "cyclehub", hub.Ports)
	for name, addr := range map[string]string{"http.addr": cfg.HTTP.Addr, "ops.addr": cfg.Ops.Addr} {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "0.0.0.0" {
			t.Errorf("%s = %q: listen on 0.0.0.0 inside the container", name, addr)
		}
		if !slices.Contains(published, port) {
			t.Errorf("%s port %s is not published by the cyclehub service (%v)", name, port, hub.Ports)
		}
	}

	// PostgreSQL: the service, with the user, password and database it
	// creates.
	pg, err := url.Parse(cfg.Postgres.URL.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	pgEnv := services["postgres"].Environment
	pass, _ := pg.User.Password()
	if pg.Host != "postgres:5432" || pg.User.Username() != pgEnv["POSTGRES_USER"] || pass != pgEnv["POSTGRES_PASSWORD"] ||
		strings.TrimPrefix(pg.Path, "/") != pgEnv["POSTGRES_DB"] {
		t.Errorf("postgres.url should be postgres://%s:…@postgres:5432/%s, got host %q user %q db %q",
			pgEnv["POSTGRES_USER"], pgEnv["POSTGRES_DB"], pg.Host, pg.User.Username(), pg.Path)
	}
	rd, err := url.Parse(cfg.Redis.URL.Reveal())
	if err != nil || rd.Host != "redis:6379" {
		t.Errorf("redis.url should point at redis:6379, got %q", rd.Host)
	}
	if !slices.Equal(cfg.Kafka.Brokers, []string{"kafka:9092"}) {
		t.Errorf("kafka.brokers = %v, want [kafka:9092]", cfg.Kafka.Brokers)
	}
	if adv := services["kafka"].Environment["KAFKA_ADVERTISED_LISTENERS"]; !strings.Contains(adv, "//kafka:9092") {
		t.Errorf("the broker must advertise kafka:9092 to CycleHub, advertises %q", adv)
	}
	if cfg.Kafka.ReplicationFactor != 1 {
		t.Errorf("a single broker takes replication_factor 1, got %d", cfg.Kafka.ReplicationFactor)
	}
}

func TestTheDockerConfigHasTheDevConfigsSources(t *testing.T) {
	// The guides' curl commands use the dev config's sources and secrets;
	// they work against docker compose only while both configs agree.
	noEnv := func(string) (string, bool) { return "", false }
	dev, err := configs.Load(filepath.Join(repoRoot, "configs/cyclehub.yaml"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	docker, err := configs.Load(filepath.Join(repoRoot, dockerConfig), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range dev.Sources {
		d, ok := docker.Sources[name]
		switch {
		case !ok:
			t.Errorf("source %q of configs/cyclehub.yaml is missing from %s", name, dockerConfig)
		case d.Provider != s.Provider || d.Secret.Reveal() != s.Secret.Reveal() || d.Token.Reveal() != s.Token.Reveal():
			t.Errorf("source %q differs between configs/cyclehub.yaml and %s", name, dockerConfig)
		}
	}
	for name := range docker.Sources {
		if _, ok := dev.Sources[name]; !ok {
			t.Errorf("source %q of %s is not in configs/cyclehub.yaml", name, dockerConfig)
		}
	}
}
