package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
)

// MalformedError says a body cannot be parsed as what it claims to be. The
// edge answers 400 with Reason; the pipeline quarantines with it.
type MalformedError struct{ Reason string }

func (e *MalformedError) Error() string { return "malformed body: " + e.Reason }

// UnsupportedMediaError says the body's media type is not one the provider
// accepts (HTTP 415).
type UnsupportedMediaError struct{ MediaType string }

func (e *UnsupportedMediaError) Error() string {
	if e.MediaType == "" {
		return "missing Content-Type"
	}
	return "unsupported Content-Type " + strconv.Quote(e.MediaType)
}

func malformed(format string, args ...any) error {
	return &MalformedError{Reason: fmt.Sprintf(format, args...)}
}

// Fields is an ordered multi-map of form fields: the flat view of a
// urlencoded, multipart or JSON body. Keys keep their original spelling.
type Fields struct {
	keys   []string
	values map[string][]string
}

// Add appends a value under key.
func (f *Fields) Add(key, value string) {
	if f.values == nil {
		f.values = make(map[string][]string)
	}
	if _, ok := f.values[key]; !ok {
		f.keys = append(f.keys, key)
	}
	f.values[key] = append(f.values[key], value)
}

// Keys returns the keys in first-seen order.
func (f *Fields) Keys() []string { return f.keys }

// Values returns every value of key (repeated keys, checkbox groups).
func (f *Fields) Values(key string) []string { return f.values[key] }

// Get returns the first value of key.
func (f *Fields) Get(key string) string {
	if v := f.values[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Len is the number of distinct keys.
func (f *Fields) Len() int { return len(f.keys) }

// ParseFormBody parses a form-like body into Fields according to its
// Content-Type header: application/x-www-form-urlencoded, multipart/form-data
// or JSON. A JSON object sent labelled as urlencoded (Apps Script, many
// no-code tools) is recognized and parsed as JSON.
func ParseFormBody(contentType string, body []byte) (*Fields, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		if strings.TrimSpace(contentType) == "" {
			return nil, &UnsupportedMediaError{}
		}
		return nil, &UnsupportedMediaError{MediaType: contentType}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, malformed("empty body")
	}
	switch {
	case mediaType == "application/x-www-form-urlencoded":
		if trimmed := bytes.TrimSpace(body); trimmed[0] == '{' && json.Valid(trimmed) {
			return parseJSONFields(trimmed)
		}
		return parseURLEncoded(body)
	case mediaType == "multipart/form-data":
		return parseMultipart(body, params["boundary"])
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json") || mediaType == "text/json":
		return parseJSONFields(body)
	default:
		return nil, &UnsupportedMediaError{MediaType: mediaType}
	}
}

func parseURLEncoded(body []byte) (*Fields, error) {
	f := &Fields{}
	for part := range strings.SplitSeq(string(body), "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, malformed("invalid percent-encoding in form key %q", truncate(k, 40))
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, malformed("invalid percent-encoding in value of form field %q", truncate(key, 40))
		}
		f.Add(key, val)
	}
	if f.Len() == 0 {
		return nil, malformed("form body has no fields")
	}
	return f, nil
}

func parseMultipart(body []byte, boundary string) (*Fields, error) {
	if boundary == "" {
		return nil, malformed("multipart/form-data without a boundary parameter")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	f := &Fields{}
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, malformed("multipart: %v", err)
		}
		name := p.FormName()
		if name == "" {
			continue
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return nil, malformed("multipart part %q: %v", truncate(name, 40), err)
		}
		if p.FileName() != "" {
			// Files are kept in the raw request only; record that one came.
			f.Add(name, p.FileName())
			continue
		}
		f.Add(name, string(data))
	}
	if f.Len() == 0 {
		return nil, malformed("multipart body has no fields")
	}
	return f, nil
}

// DecodeJSON decodes exactly one JSON value with numbers kept exact
// (json.Number, never float64), rejecting trailing data.
func DecodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, malformed("invalid JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("invalid JSON: trailing data after the first value")
	}
	return v, nil
}

func parseJSONFields(body []byte) (*Fields, error) {
	v, err := DecodeJSON(body)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, malformed("expected a JSON object, got %s", jsonKind(v))
	}
	f := &Fields{}
	flattenJSON(f, "", obj)
	return f, nil
}

// flattenJSON adds scalars under dotted paths; arrays of scalars become
// repeated values, arrays of objects get their index in the path.
func flattenJSON(f *Fields, prefix string, v any) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range sortedKeys(x) {
			flattenJSON(f, joinPath(prefix, k), x[k])
		}
	case []any:
		for i, e := range x {
			if _, isObj := e.(map[string]any); isObj {
				flattenJSON(f, joinPath(prefix, strconv.Itoa(i)), e)
				continue
			}
			flattenJSON(f, prefix, e)
		}
	case nil:
		// null is absent
	default:
		if s := ScalarString(x); prefix != "" {
			f.Add(prefix, s)
		}
	}
}

// ScalarString renders a decoded JSON scalar as text (numbers exactly as sent).
func ScalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return "an object"
	}
}

func joinPath(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
