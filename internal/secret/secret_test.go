package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestSecretRedactsEverywhere(t *testing.T) {
	s := Secret("hunter2")
	type wrapper struct {
		Token Secret `json:"token" yaml:"token"`
	}
	w := wrapper{Token: s}

	jsonOut, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	yamlOut, err := yaml.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	text, err := s.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("msg", "token", s)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("msg", "token", s)

	outputs := map[string]string{
		"String":        s.String(),
		"GoString":      s.GoString(),
		"%v":            fmt.Sprintf("%v", s),
		"%q":            fmt.Sprintf("%q", s),
		"%x":            fmt.Sprintf("%x", s),
		"%#v":           fmt.Sprintf("%#v", s),
		"%+v of struct": fmt.Sprintf("%+v", w),
		"%#v of struct": fmt.Sprintf("%#v", w),
		"MarshalText":   string(text),
		"json":          string(jsonOut),
		"yaml":          string(yamlOut),
		"slog":          logs.String(),
	}
	//lint:ignore S1025 the test is about what the %s verb prints, not about String
	outputs["%s"] = fmt.Sprintf("%s", s)
	for name, out := range outputs {
		if strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", "hunter2")) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
	}
	if got := s.String(); got != "***" {
		t.Errorf("String() = %q, want ***", got)
	}
	if got := string(jsonOut); got != `{"token":"***"}` {
		t.Errorf("json = %s", got)
	}
	if got := string(yamlOut); got != "token: '***'\n" {
		t.Errorf("yaml = %q", got)
	}
}

func TestEmptySecretPrintsEmpty(t *testing.T) {
	var s Secret
	if !s.IsZero() {
		t.Error("IsZero() = false for empty secret")
	}
	if s.String() != "" || s.GoString() != "" {
		t.Errorf("String/GoString = %q/%q, want empty", s.String(), s.GoString())
	}
	if b, _ := s.MarshalJSON(); string(b) != `""` {
		t.Errorf("MarshalJSON = %s, want \"\"", b)
	}
	if b, _ := s.MarshalText(); len(b) != 0 {
		t.Errorf("MarshalText = %q, want empty", b)
	}
	if Secret("x").IsZero() {
		t.Error("IsZero() = true for non-empty secret")
	}
}

func TestReveal(t *testing.T) {
	if got := Secret("hunter2").Reveal(); got != "hunter2" {
		t.Errorf("Reveal() = %q", got)
	}
}

func TestEqual(t *testing.T) {
	tests := []struct {
		name   string
		secret Secret
		other  string
		want   bool
	}{
		{"same value", "hunter2", "hunter2", true},
		{"different value same length", "hunter2", "hunter3", false},
		{"prefix of the secret", "hunter2", "hunter", false},
		{"secret is a prefix", "hunter", "hunter2", false},
		{"both empty", "", "", true},
		{"empty secret never matches a value", "", "x", false},
		{"empty candidate never matches a secret", "x", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.secret.Equal(tt.other); got != tt.want {
				t.Errorf("Equal(%q) = %v, want %v", tt.other, got, tt.want)
			}
		})
	}
}

func TestDecodesFromYAMLScalars(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want Secret
	}{
		{"plain string", "token: hunter2", "hunter2"},
		{"quoted string", `token: "a b: c"`, "a b: c"},
		{"integer-looking scalar keeps its text", "token: 0012", "0012"},
		{"boolean-looking scalar keeps its text", "token: yes", "yes"},
		{"block scalar", "token: |\n  line1\n  line2\n", "line1\nline2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v struct {
				Token Secret `yaml:"token"`
			}
			if err := yaml.Unmarshal([]byte(tt.doc), &v); err != nil {
				t.Fatal(err)
			}
			if v.Token.Reveal() != string(tt.want) {
				t.Errorf("decoded %q, want %q", v.Token.Reveal(), tt.want)
			}
		})
	}
}

func TestDecodesFromJSON(t *testing.T) {
	var v struct {
		Token Secret `json:"token"`
	}
	if err := json.Unmarshal([]byte(`{"token":"hunter2"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.Token.Reveal() != "hunter2" {
		t.Errorf("decoded %q", v.Token.Reveal())
	}
}
