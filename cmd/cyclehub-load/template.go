package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A template is a sample body with some fields replaced by variables, cut
// once into literal bytes and variable slots so that rendering a request
// is a few appends. Variables are written {name} inside a patch value
// ("cus_{person_id}"); a patch value that is exactly {#name} becomes a
// bare JSON number.
type template struct {
	segs []segment
	// escape writes a value for the body's format.
	escape func(dst []byte, v string) []byte
}

type segment struct {
	lit []byte
	v   varName // used when lit is nil
}

// patch sets the field at path (keys and array indexes separated by dots)
// to value.
type patch struct{ path, value string }

var (
	varRef    = regexp.MustCompile(`\{(#?)([a-z0-9_]+)\}`)
	varMarker = regexp.MustCompile(`"__ldn_([a-z0-9_]+?)__"|__ld_([a-z0-9_]+?)__`)
)

// sentinel replaces each {name} of a patch value with a marker that
// survives JSON and URL encoding, found again by compile.
func sentinel(value string) (string, error) {
	var err error
	out := varRef.ReplaceAllStringFunc(value, func(m string) string {
		sub := varRef.FindStringSubmatch(m)
		if _, ok := varByName[sub[2]]; !ok {
			err = fmt.Errorf("unknown variable {%s}", sub[2])
		}
		if sub[1] == "#" {
			if m != value {
				err = fmt.Errorf("a number {#%s} must be the whole value", sub[2])
			}
			return "__ldn_" + sub[2] + "__"
		}
		return "__ld_" + sub[2] + "__"
	})
	return out, err
}

// jsonTemplate builds a template from a JSON sample body. Keys come out
// sorted (the sample's order is not kept; nothing signs the sample's
// bytes, each request is signed as sent).
func jsonTemplate(body []byte, patches []patch) (*template, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // Google Ads ids exceed 2^53
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("sample body: %w", err)
	}
	for _, p := range patches {
		v, err := sentinel(p.value)
		if err != nil {
			return nil, fmt.Errorf("patch %s: %w", p.path, err)
		}
		if err := setPath(doc, p.path, v); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return compile(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), appendJSONString)
}

// formTemplate builds a template from an application/x-www-form-urlencoded
// sample body; fields that are patched but absent are added.
func formTemplate(body string, patches []patch) (*template, error) {
	q, err := url.ParseQuery(body)
	if err != nil {
		return nil, fmt.Errorf("sample body: %w", err)
	}
	for _, p := range patches {
		v, err := sentinel(p.value)
		if err != nil {
			return nil, fmt.Errorf("patch %s: %w", p.path, err)
		}
		q.Set(p.path, v)
	}
	return compile([]byte(q.Encode()), func(dst []byte, v string) []byte {
		return append(dst, url.QueryEscape(v)...)
	})
}

// compile cuts text at its variable markers: "__ldn_<name>__" with its
// quotes is a number, __ld_<name>__ the inside of a string.
func compile(text []byte, escape func([]byte, string) []byte) (*template, error) {
	t := &template{escape: escape}
	last := 0
	for _, m := range varMarker.FindAllSubmatchIndex(text, -1) {
		var v varName
		if m[2] >= 0 {
			v = varByName[string(text[m[2]:m[3]])] | numberVar
		} else {
			v = varByName[string(text[m[4]:m[5]])]
		}
		if m[0] > last {
			t.segs = append(t.segs, segment{lit: text[last:m[0]]})
		}
		t.segs = append(t.segs, segment{v: v})
		last = m[1]
	}
	if last < len(text) {
		t.segs = append(t.segs, segment{lit: text[last:]})
	}
	for _, s := range t.segs {
		if bytes.Contains(s.lit, []byte("__ldn_")) {
			return nil, fmt.Errorf("a number variable is not a whole JSON value in %q", s.lit)
		}
	}
	return t, nil
}

// render appends the body for vals to dst.
func (t *template) render(dst []byte, vals *values) []byte {
	for _, s := range t.segs {
		switch {
		case s.lit != nil:
			dst = append(dst, s.lit...)
		case s.v&numberVar != 0:
			dst = append(dst, vals[s.v&^numberVar]...)
		default:
			dst = t.escape(dst, vals[s.v])
		}
	}
	return dst
}

// setPath sets the value at path in a decoded JSON document.
func setPath(doc any, path string, v string) error {
	keys := strings.Split(path, ".")
	cur := doc
	for i, k := range keys {
		last := i == len(keys)-1
		switch node := cur.(type) {
		case map[string]any:
			if _, ok := node[k]; !ok {
				return fmt.Errorf("sample has no %s (at %q)", path, k)
			}
			if last {
				node[k] = v
				return nil
			}
			cur = node[k]
		case []any:
			n, err := strconv.Atoi(k)
			if err != nil || n < 0 || n >= len(node) {
				return fmt.Errorf("sample has no %s (index %q)", path, k)
			}
			if last {
				node[n] = v
				return nil
			}
			cur = node[n]
		default:
			return fmt.Errorf("sample has no %s (%q is not an object or array)", path, k)
		}
	}
	return nil
}

// appendJSONString appends v escaped as the inside of a JSON string.
func appendJSONString(dst []byte, v string) []byte {
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, fmt.Sprintf(`\u%04x`, c)...)
		case c < utf8.RuneSelf:
			dst = append(dst, c)
		default:
			r, size := utf8.DecodeRuneInString(v[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, v[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return dst
}

// withLiteral returns the JSON body with the field at path set to the
// string value as is (no variables).
func withLiteral(body []byte, path, value string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("sample body: %w", err)
	}
	if err := setPath(doc, path, value); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}
