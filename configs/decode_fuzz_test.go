package configs

import (
	"errors"
	"testing"
)

// fuzzTree is a recursive type, so that aliases can loop through the walker.
type fuzzTree struct {
	Name     string               `yaml:"name"`
	Children []fuzzTree           `yaml:"children"`
	Index    map[string]*fuzzTree `yaml:"index"`
}

// FuzzDecode checks that Decode never panics, always returns nil or a
// non-empty Errors, and reports the same errors on every run.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		"",
		"name: hub\nregion: eu\nhttp:\n  addr: :8080\n  read_timeout: 250ms\n  max_conns: 10\n  debug: on\n  ratio: 1e3\n",
		"sources:\n  form:\n    provider: typeform\n    api_key: ${API_KEY}\n    endpoint: https://${HOST:-localhost}:${PORT}/x\n    params: {a: b}\n",
		"sinks:\n  - kind: kafka\n    retries: 3\n  - {kind: webhook, retries: 1.0}\ntags: [a, \"$$b\", c]\nlabels: {x: y}\n",
		"tls:\n  cert: c\n  key: k\nlevel: debug\nextra: {a: [1, 2, {b: c}]}\n",
		"http:\n  read_timeout: 10 sec\n  max_conns: ${MISSING}\n  nope: 1\nsources:\n  f:\n    providr: x\n",
		"a: &a [x, x]\nb: &b [*a, *a]\ntags: *b\nsinks: &s [*s]\nname: *a\n",
		"name: root\nchildren: &c\n  - name: leaf\n    children: *c\nindex:\n  self: &i {name: i, index: {again: *i}}\n",
		"name: a\nname: b\n<<: {x: 1}\n? [complex]\n: key\n",
		"--- !!map\nname: !!int x\n...\n---\nname: b\n",
		"sources: [\nname: {\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := defaults()
		err := Decode(data, &cfg, lookup)
		check(t, err)
		again := defaults()
		if err2 := Decode(data, &again, lookup); errString(err2) != errString(err) {
			t.Fatalf("errors differ between runs:\n%v\n---\n%v", err, err2)
		}

		var tree fuzzTree
		check(t, Decode(data, &tree, lookup))
	})
}

func check(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var errs Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("error %v (%T) is not a non-empty Errors", err, err)
	}
	for _, fe := range errs {
		if fe.Msg == "" || fe.Line < 0 {
			t.Fatalf("malformed FieldError %#v", fe)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
