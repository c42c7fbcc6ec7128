package configs

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/internal/secret"
)

type testConfig struct {
	Name    string                `yaml:"name"`
	HTTP    testHTTP              `yaml:"http"`
	Sources map[string]testSource `yaml:"sources"`
	Sinks   []testSink            `yaml:"sinks"`
	Tags    []string              `yaml:"tags"`
	Labels  map[string]string     `yaml:"labels"`
	TLS     *testTLS              `yaml:"tls"`
	Level   testLevel             `yaml:"level"`
	Extra   any                   `yaml:"extra"`
	Region  `yaml:",inline"`

	Untagged string
	Skipped  string `yaml:"-"`
}

type testHTTP struct {
	Addr        string        `yaml:"addr"`
	ReadTimeout time.Duration `yaml:"read_timeout"`
	MaxConns    int           `yaml:"max_conns"`
	Debug       bool          `yaml:"debug"`
	Ratio       float64       `yaml:"ratio"`
}

type testSource struct {
	Provider string            `yaml:"provider"`
	APIKey   secret.Secret     `yaml:"api_key"`
	Endpoint string            `yaml:"endpoint"`
	Params   map[string]string `yaml:"params"`
}

type testSink struct {
	Kind    string `yaml:"kind"`
	Retries uint8  `yaml:"retries"`
}

type testTLS struct {
	Cert string        `yaml:"cert"`
	Key  secret.Secret `yaml:"key"`
}

// Region is embedded and inlined: its keys sit at the top level.
type Region struct {
	Region string `yaml:"region"`
}

// testLevel implements encoding.TextUnmarshaler.
type testLevel int

func (l *testLevel) UnmarshalText(b []byte) error {
	switch string(b) {
	case "debug":
		*l = 1
	case "info":
		*l = 2
	default:
		return fmt.Errorf("unknown level %q", b)
	}
	return nil
}

func defaults() testConfig {
	return testConfig{
		Name:    "cyclehub",
		HTTP:    testHTTP{Addr: ":8080", ReadTimeout: 5 * time.Second, MaxConns: 100},
		Sources: map[string]testSource{"builtin": {Provider: "internal"}},
		Tags:    []string{"default"},
		Level:   2,
	}
}

var testEnv = map[string]string{
	"HOST":     "db.internal",
	"PORT":     "5432",
	"API_KEY":  "s3cr3t-from-env",
	"EMPTY":    "",
	"TIMEOUT":  "250ms",
	"BAD_CONN": "lots",
}

func lookup(name string) (string, bool) {
	v, ok := testEnv[name]
	return v, ok
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want func(c *testConfig) // turns defaults() into the expected result
		errs []string            // expected Error() of each FieldError, in order
	}{
		{
			name: "empty document leaves defaults untouched",
			doc:  "",
			want: func(*testConfig) {},
		},
		{
			name: "document with only comments and a separator leaves defaults untouched",
			doc:  "# nothing here\n---\n# still nothing\n",
			want: func(*testConfig) {},
		},
		{
			name: "absent keys keep their defaults while present ones are set",
			doc:  "http:\n  max_conns: 5\n",
			want: func(c *testConfig) { c.HTTP.MaxConns = 5 },
		},
		{
			name: "scalars use yaml.v3 conversions including durations",
			doc: "name: hub\nhttp:\n  addr: 0.0.0.0:9000\n  read_timeout: 250ms\n" +
				"  max_conns: 1_000\n  debug: true\n  ratio: 0.5\nlevel: debug\n",
			want: func(c *testConfig) {
				c.Name = "hub"
				c.HTTP = testHTTP{Addr: "0.0.0.0:9000", ReadTimeout: 250 * time.Millisecond, MaxConns: 1000, Debug: true, Ratio: 0.5}
				c.Level = 1
			},
		},
		{
			name: "explicit null and an empty section leave defaults untouched",
			doc:  "name: ~\nhttp:\ntags: null\n",
			want: func(*testConfig) {},
		},
		{
			name: "an empty sequence replaces a default slice",
			doc:  "tags: []\n",
			want: func(c *testConfig) { c.Tags = []string{} },
		},
		{
			name: "slices of strings replace the default and maps of strings are decoded",
			doc:  "tags: [a, b]\nlabels:\n  team: sync\n  tier: \"1\"\n",
			want: func(c *testConfig) {
				c.Tags = []string{"a", "b"}
				c.Labels = map[string]string{"team": "sync", "tier": "1"}
			},
		},
		{
			name: "map of structs merges with default entries",
			doc: "sources:\n  form:\n    provider: typeform\n    params:\n      form_id: abc\n" +
				"  builtin:\n    endpoint: http://x\n",
			want: func(c *testConfig) {
				c.Sources = map[string]testSource{
					"builtin": {Provider: "internal", Endpoint: "http://x"},
					"form":    {Provider: "typeform", Params: map[string]string{"form_id": "abc"}},
				}
			},
		},
		{
			name: "slices of structs are decoded element by element",
			doc:  "sinks:\n  - kind: kafka\n    retries: 3\n  - kind: webhook\n",
			want: func(c *testConfig) { c.Sinks = []testSink{{Kind: "kafka", Retries: 3}, {Kind: "webhook"}} },
		},
		{
			name: "pointer to struct is allocated when its key is present",
			doc:  "tls:\n  cert: /etc/cert.pem\n  key: hunter2\n",
			want: func(c *testConfig) { c.TLS = &testTLS{Cert: "/etc/cert.pem", Key: "hunter2"} },
		},
		{
			name: "inline struct fields are read from the parent mapping",
			doc:  "region: eu-west-1\n",
			want: func(c *testConfig) { c.Region.Region = "eu-west-1" },
		},
		{
			name: "secrets decode from scalars of any type",
			doc:  "sources:\n  form:\n    api_key: 0012\n  other:\n    api_key: 'p@ss: word'\n",
			want: func(c *testConfig) {
				c.Sources["form"] = testSource{APIKey: "0012"}
				c.Sources["other"] = testSource{APIKey: "p@ss: word"}
			},
		},
		{
			name: "interface fields take any YAML value",
			doc:  "extra:\n  a: [1, two]\n",
			want: func(c *testConfig) { c.Extra = map[string]any{"a": []any{1, "two"}} },
		},
		{
			name: "aliases are followed",
			doc:  "tags: &t [x, y]\nsinks:\n  - kind: &k kafka\n  - kind: *k\nlabels:\n  t: *k\n",
			want: func(c *testConfig) {
				c.Tags = []string{"x", "y"}
				c.Sinks = []testSink{{Kind: "kafka"}, {Kind: "kafka"}}
				c.Labels = map[string]string{"t": "kafka"}
			},
		},
		{
			name: "env vars are expanded in values and plain scalars are typed from the result",
			doc: "sources:\n  db:\n    endpoint: postgres://${HOST}:${PORT}/db\n    api_key: ${API_KEY}\n" +
				"http:\n  max_conns: ${PORT}\n  read_timeout: ${TIMEOUT}\n",
			want: func(c *testConfig) {
				c.Sources["db"] = testSource{Endpoint: "postgres://db.internal:5432/db", APIKey: "s3cr3t-from-env"}
				c.HTTP.MaxConns = 5432
				c.HTTP.ReadTimeout = 250 * time.Millisecond
			},
		},
		{
			name: "env default is used when the variable is unset or empty",
			doc:  "name: ${MISSING:-fallback}\nhttp:\n  addr: ${EMPTY:-:9090}\n  max_conns: ${MISSING:-7}\n",
			want: func(c *testConfig) { c.Name, c.HTTP.Addr, c.HTTP.MaxConns = "fallback", ":9090", 7 },
		},
		{
			name: "an empty expansion of a plain scalar is null and keeps the default",
			doc:  "name: ${EMPTY}\ntls:\n  key: \"${EMPTY}\"\n",
			want: func(c *testConfig) { c.TLS = &testTLS{} },
		},
		{
			name: "double dollar escapes a literal dollar and is not expanded",
			doc:  "name: price$$5 ${MISSING:-$$}\ntags: [\"$${HOST}\", $HOME, a$]\n",
			want: func(c *testConfig) {
				c.Name = "price$5 $$"
				c.Tags = []string{"${HOST}", "$HOME", "a$"}
			},
		},
		{
			name: "keys and comments are not expanded",
			doc:  "# ${MISSING}\nlabels:\n  ${HOST}: x # ${MISSING}\n",
			want: func(c *testConfig) { c.Labels = map[string]string{"${HOST}": "x"} },
		},
		{
			name: "unset env var without default is reported at its path",
			doc:  "sources:\n  form:\n    api_key: ${MISSING}\n    endpoint: ${HOST}\n",
			want: func(c *testConfig) { c.Sources["form"] = testSource{Endpoint: "db.internal"} },
			errs: []string{"sources.form.api_key: environment variable MISSING is not set (line 3)"},
		},
		{
			name: "every unset or malformed reference in one value is reported",
			doc:  "name: ${A}-${B}-${not valid}-${C\n",
			want: func(*testConfig) {},
			errs: []string{
				`name: "${" without a closing "}" (line 1)`,
				"name: environment variable A is not set (line 1)",
				"name: environment variable B is not set (line 1)",
				`name: invalid environment variable reference "${not valid}" (line 1)`,
			},
		},
		{
			name: "a quoted expansion stays a string and the error shows the reference, not the value",
			doc:  "http:\n  max_conns: \"${PORT}\"\n  read_timeout: ${BAD_CONN}\n",
			want: func(*testConfig) {},
			errs: []string{
				`http.max_conns: cannot parse "${PORT}" as integer (line 2)`,
				`http.read_timeout: cannot parse "${BAD_CONN}" as duration (line 3)`,
			},
		},
		{
			name: "duration parse error is reported with path and line and keeps the default",
			doc:  "http:\n  addr: :1\n  read_timeout: 10 sec\n",
			want: func(c *testConfig) { c.HTTP.Addr = ":1" },
			errs: []string{`http.read_timeout: cannot parse "10 sec" as duration (line 3)`},
		},
		{
			name: "a bare number is not a duration",
			doc:  "http:\n  read_timeout: 10\n",
			want: func(*testConfig) {},
			errs: []string{`http.read_timeout: cannot parse "10" as duration (line 2)`},
		},
		{
			name: "fractions and negative numbers are rejected for integer fields",
			doc:  "http:\n  max_conns: 1.5\nsinks:\n  - retries: -1.0\n  - retries: 3.0\n  - retries: 300\n",
			want: func(c *testConfig) { c.Sinks = []testSink{{}, {Retries: 3}, {}} },
			errs: []string{
				`http.max_conns: cannot parse "1.5" as integer (line 2)`,
				`sinks[0].retries: cannot parse "-1.0" as uint8 (line 4)`,
				`sinks[2].retries: cannot parse "300" as uint8 (line 6)`,
			},
		},
		{
			name: "TextUnmarshaler errors are reported with path and line",
			doc:  "level: loud\n",
			want: func(*testConfig) {},
			errs: []string{`level: unknown level "loud" (line 1)`},
		},
		{
			name: "a float goes to a TextUnmarshaler as text, not through the integer check",
			doc:  "level: 1.5\n",
			want: func(*testConfig) {},
			errs: []string{`level: unknown level "1.5" (line 1)`},
		},
		{
			name: "a mapping for a TextUnmarshaler gets yaml.v3's message, not the basic kind's",
			doc:  "level: {a: b}\n",
			want: func(*testConfig) {},
			errs: []string{"level: cannot unmarshal !!map into configs.testLevel (line 1)"},
		},
		{
			name: "unknown top-level key is reported with its line",
			doc:  "name: x\nnmae: y\n",
			want: func(c *testConfig) { c.Name = "x" },
			errs: []string{`unknown field "nmae" (line 2)`},
		},
		{
			name: "untagged and dash-tagged fields cannot be set",
			doc:  "untagged: x\nSkipped: y\n\"-\": z\n",
			want: func(*testConfig) {},
			errs: []string{`unknown field "untagged" (line 1)`, `unknown field "Skipped" (line 2)`, `unknown field "-" (line 3)`},
		},
		{
			name: "unknown key deep in a map of structs is reported with its path and line",
			doc:  "sources:\n  form:\n    provider: typeform\n    providr: x\n",
			want: func(c *testConfig) { c.Sources["form"] = testSource{Provider: "typeform"} },
			errs: []string{`sources.form: unknown field "providr" (line 4)`},
		},
		{
			name: "unknown key in a slice of structs is reported with its index",
			doc:  "sinks:\n  - kind: a\n  - kind: b\n    retry: 1\n",
			want: func(c *testConfig) { c.Sinks = []testSink{{Kind: "a"}, {Kind: "b"}} },
			errs: []string{`sinks[1]: unknown field "retry" (line 4)`},
		},
		{
			name: "map keys that would make a path ambiguous are quoted",
			doc:  "sources:\n  a.b:\n    oops: 1\n",
			want: func(c *testConfig) { c.Sources["a.b"] = testSource{} },
			errs: []string{`sources["a.b"]: unknown field "oops" (line 3)`},
		},
		{
			name: "duplicate keys are rejected and the first value is kept",
			doc:  "name: a\nhttp:\n  addr: x\n  addr: y\nname: b\n",
			want: func(c *testConfig) { c.Name, c.HTTP.Addr = "a", "x" },
			errs: []string{
				`http: duplicate key "addr" (first defined on line 3) (line 4)`,
				`duplicate key "name" (first defined on line 1) (line 5)`,
			},
		},
		{
			name: "values of the wrong shape are reported",
			doc:  "http: 5\ntags: a\nname: [x]\nsources: [x]\nsinks:\n  - oops\n",
			want: func(c *testConfig) { c.Sinks = []testSink{{}} },
			errs: []string{
				`http: expected a mapping, got "5" (line 1)`,
				`tags: expected a sequence, got "a" (line 2)`,
				`name: cannot parse a sequence as string (line 3)`,
				`sources: expected a mapping, got a sequence (line 4)`,
				`sinks[0]: expected a mapping, got "oops" (line 6)`,
			},
		},
		{
			name: "merge keys are rejected",
			doc:  "base: &b {addr: x}\nhttp:\n  <<: *b\n",
			want: func(*testConfig) {},
			errs: []string{`unknown field "base" (line 1)`, `http: merge keys (<<) are not supported (line 3)`},
		},
		{
			name: "several errors are reported at once, sorted by line, and valid fields are still set",
			doc: "name: ok\nhttp:\n  read_timeout: 10 sec\n  max_conns: many\n  debug: maybe\n" +
				"sources:\n  form:\n    providr: x\n    api_key: ${MISSING}\nsinks:\n  - kind: k\n    retries: -1\nbogus: 1\n",
			want: func(c *testConfig) {
				c.Name = "ok"
				c.Sources["form"] = testSource{}
				c.Sinks = []testSink{{Kind: "k"}}
			},
			errs: []string{
				`http.read_timeout: cannot parse "10 sec" as duration (line 3)`,
				`http.max_conns: cannot parse "many" as integer (line 4)`,
				`http.debug: cannot parse "maybe" as boolean (line 5)`,
				`sources.form: unknown field "providr" (line 8)`,
				`sources.form.api_key: environment variable MISSING is not set (line 9)`,
				`sinks[0].retries: cannot parse "-1" as uint8 (line 12)`,
				`unknown field "bogus" (line 13)`,
			},
		},
		{
			name: "a YAML syntax error is reported with its line",
			doc:  "name: x\nhttp:\n  addr: [\n",
			want: func(*testConfig) {},
			errs: []string{"did not find expected node content (line 3)"},
		},
		{
			name: "a document that is not a mapping is rejected",
			doc:  "- a\n",
			want: func(*testConfig) {},
			errs: []string{"expected a mapping, got a sequence (line 1)"},
		},
		{
			name: "a second document is rejected",
			doc:  "name: a\n---\nname: b\n",
			want: func(*testConfig) {},
			errs: []string{"a config file must hold a single YAML document (line 2)"},
		},
		{
			name: "an alias that contains itself is reported, not followed for ever",
			doc:  "extra: &x [*x]\nsinks: &s [*s]\n",
			want: func(c *testConfig) { c.Sinks = []testSink{{}} },
			errs: []string{
				"extra: anchor 'x' value contains itself (line 1)",
				"sinks[0]: expected a mapping, got a sequence (line 2)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaults()
			err := Decode([]byte(tt.doc), &got, lookup)

			want := defaults()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decoded\n%#v\nwant\n%#v", got, want)
			}
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T) is not Errors", err, err)
			}
			if got, want := err.Error(), strings.Join(tt.errs, "\n"); got != want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestDecodeStopsAtAliasCycles(t *testing.T) {
	type tree struct {
		Name     string `yaml:"name"`
		Children []tree `yaml:"children"`
	}
	var got tree
	err := Decode([]byte("name: root\nchildren: &c\n  - name: leaf\n    children: *c\n"), &got, lookup)
	want := "children[0].children[0].children: alias *c refers to itself (line 4)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	if got.Name != "root" || len(got.Children) != 1 || got.Children[0].Name != "leaf" {
		t.Errorf("decoded %+v", got)
	}
}

func TestDecodeBoundsAliasExpansion(t *testing.T) {
	type tree struct {
		Children []tree `yaml:"children"`
	}
	// Each level refers nine times to the one below: 9^9 nodes once expanded.
	doc := "children:\n  - &l0 {}\n"
	for i := 1; i <= 9; i++ {
		doc += fmt.Sprintf("  - &l%d {children: [%s]}\n", i, strings.Repeat(fmt.Sprintf("*l%d,", i-1), 9))
	}
	var got tree
	err := Decode([]byte(doc), &got, lookup)
	if err == nil || !strings.Contains(err.Error(), "document is too complex: too many nodes or aliases") {
		t.Errorf("error = %.200v", err)
	}
}

func TestDecodeRejectsNonStructPointers(t *testing.T) {
	var cfg testConfig
	var m map[string]any
	for _, out := range []any{nil, cfg, (*testConfig)(nil), &m} {
		err := Decode([]byte("name: x"), out, lookup)
		var errs Errors
		if err == nil || errors.As(err, &errs) {
			t.Errorf("Decode(%T) = %v, want a plain error", out, err)
		}
	}
}

func TestDecodeNilLookupUsesProcessEnvironment(t *testing.T) {
	t.Setenv("CYCLEHUB_DECODE_TEST", "from-env")
	cfg := defaults()
	if err := Decode([]byte("name: ${CYCLEHUB_DECODE_TEST}"), &cfg, nil); err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "from-env" {
		t.Errorf("Name = %q", cfg.Name)
	}
}

func TestDecodedSecretIsRedacted(t *testing.T) {
	cfg := defaults()
	if err := Decode([]byte("tls:\n  key: ${API_KEY}\n"), &cfg, lookup); err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.Key.Reveal() != "s3cr3t-from-env" {
		t.Errorf("Reveal() = %q", cfg.TLS.Key.Reveal())
	}
	if out := fmt.Sprintf("%v %+v %#v", cfg, cfg.TLS, cfg.TLS); strings.Contains(out, "s3cr3t") {
		t.Errorf("formatted config leaks the secret: %s", out)
	}
}

func TestExpandEnv(t *testing.T) {
	tests := []struct {
		name, in, want, err string
	}{
		{name: "no reference", in: "plain", want: "plain"},
		{name: "reference", in: "${HOST}:${PORT}", want: "db.internal:5432"},
		{name: "default for unset", in: "${MISSING:-a:-b}", want: "a:-b"},
		{name: "default for empty", in: "${EMPTY:-x}", want: "x"},
		{name: "empty without default", in: "[${EMPTY}]", want: "[]"},
		{name: "empty default", in: "[${MISSING:-}]", want: "[]"},
		{name: "escape", in: "$$$${HOST}", want: "$${HOST}"},
		{name: "lone dollars are literal", in: "$ $a $1 $", want: "$ $a $1 $"},
		{name: "values are not re-expanded", in: "${SELF}", want: "${HOST}"},
		{name: "unset", in: "${MISSING}", err: "environment variable MISSING is not set"},
		{name: "no colon default syntax", in: "${A-b}", err: `invalid environment variable reference "${A-b}"`},
		{name: "empty name", in: "${}", err: `invalid environment variable reference "${}"`},
		{name: "leading digit", in: "${1A}", err: `invalid environment variable reference "${1A}"`},
		{name: "unterminated", in: "x${HOST", err: `"${" without a closing "}"`},
	}
	env := func(name string) (string, bool) {
		if name == "SELF" {
			return "${HOST}", true
		}
		return lookup(name)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ExpandEnv(tt.in, env)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("ExpandEnv(%q) error = %v, want %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ExpandEnv(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	var errs Errors
	if errs.Err() != nil {
		t.Error("Err() of an empty list is not nil")
	}
	errs = append(errs, FieldError{Path: "b", Line: 3, Msg: "m3"}, FieldError{Line: 2, Msg: "whole document"})
	errs.Add("sources.form.provider", "unknown provider %q", "typefrom")
	errs = append(errs, FieldError{Path: "a", Line: 3, Msg: "m3"}, FieldError{Path: "a", Line: 3, Msg: "m3"})

	want := "sources.form.provider: unknown provider \"typefrom\"\n" +
		"whole document (line 2)\n" +
		"a: m3 (line 3)\n" +
		"b: m3 (line 3)"
	if err := errs.Err(); err == nil || err.Error() != want {
		t.Errorf("Error() =\n%v\nwant\n%s", err, want)
	}
	if errs[0].Path != "b" {
		t.Error("Error() reordered the receiver")
	}
}
