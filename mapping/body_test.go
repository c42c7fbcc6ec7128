package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

const formURLEncoded = "application/x-www-form-urlencoded"

// field is one key with all its values, in first-seen order.
type field struct {
	Key    string
	Values []string
}

func fieldsOf(f *Fields) []field {
	var out []field
	for _, k := range f.Keys() {
		out = append(out, field{k, f.Values(k)})
	}
	return out
}

func TestParseFormBodyURLEncoded(t *testing.T) {
	tests := []struct {
		name string
		ct   string
		body string
		want []field
	}{
		{
			name: "spaces sent as '+' decode to spaces",
			body: "company=Lima+Consultoria+Ltda",
			want: []field{{"company", []string{"Lima Consultoria Ltda"}}},
		},
		{
			name: "UTF-8 percent-encoding decodes to the characters sent",
			body: "message=Quero+uma+demonstra%C3%A7%C3%A3o",
			want: []field{{"message", []string{"Quero uma demonstração"}}},
		},
		{
			name: "an encoded '@' and '+' decode literally, not as a space",
			body: "email=ana.lima%2Bnews%40example.com&phone=%2B55+11+98765-4321",
			want: []field{{"email", []string{"ana.lima+news@example.com"}}, {"phone", []string{"+55 11 98765-4321"}}},
		},
		{
			name: "a repeated checkbox key keeps every value in order",
			body: "interest=crm&interest=helpdesk&email=a%40example.com&interest=bi",
			want: []field{{"interest", []string{"crm", "helpdesk", "bi"}}, {"email", []string{"a@example.com"}}},
		},
		{
			name: "keys keep their original spelling and are decoded too",
			body: "Email+Address=a%40example.com&contact%5Bname%5D=Ana",
			want: []field{{"Email Address", []string{"a@example.com"}}, {"contact[name]", []string{"Ana"}}},
		},
		{
			name: "a key without '=' is a field with an empty value",
			body: "newsletter&email=a%40example.com",
			want: []field{{"newsletter", []string{""}}, {"email", []string{"a@example.com"}}},
		},
		{
			name: "empty pairs between '&' are skipped",
			body: "&&email=a%40example.com&&",
			want: []field{{"email", []string{"a@example.com"}}},
		},
		{
			name: "only the first '=' separates key and value",
			body: "page_url=https%3A%2F%2Fx.example%2F%3Fa%3D1&token=ab==",
			want: []field{{"page_url", []string{"https://x.example/?a=1"}}, {"token", []string{"ab=="}}},
		},
		{
			name: "a charset parameter and upper-case media type are accepted",
			ct:   "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
			body: "email=a%40example.com",
			want: []field{{"email", []string{"a@example.com"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.ct
			if ct == "" {
				ct = formURLEncoded
			}
			f, err := ParseFormBody(ct, []byte(tt.body))
			if err != nil {
				t.Fatalf("ParseFormBody: %v", err)
			}
			if got := fieldsOf(f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields = %q\nwant %q", got, tt.want)
			}
		})
	}
}

// multipartBody builds a multipart/form-data body the way a browser does.
func multipartBody(t testing.TB, build func(w *multipart.Writer) error) (contentType string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := build(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

func TestParseFormBodyMultipart(t *testing.T) {
	tests := []struct {
		name  string
		build func(w *multipart.Writer) error
		want  []field
	}{
		{
			name: "text fields keep their values byte for byte, UTF-8 and newlines included",
			build: func(w *multipart.Writer) error {
				if err := w.WriteField("Last Name", "Wróbel"); err != nil {
					return err
				}
				return w.WriteField("message", "line 1\r\nline 2 + more")
			},
			want: []field{{"Last Name", []string{"Wróbel"}}, {"message", []string{"line 1\r\nline 2 + more"}}},
		},
		{
			name: "a repeated checkbox key keeps every value",
			build: func(w *multipart.Writer) error {
				for _, v := range []string{"crm", "helpdesk"} {
					if err := w.WriteField("interest", v); err != nil {
						return err
					}
				}
				return nil
			},
			want: []field{{"interest", []string{"crm", "helpdesk"}}},
		},
		{
			name: "a file part records its file name, never its content",
			build: func(w *multipart.Writer) error {
				fw, err := w.CreateFormFile("cv", "cv-ana.pdf")
				if err != nil {
					return err
				}
				if _, err := fw.Write([]byte("%PDF-1.7 binary \x00\xff")); err != nil {
					return err
				}
				return w.WriteField("email", "a@example.com")
			},
			want: []field{{"cv", []string{"cv-ana.pdf"}}, {"email", []string{"a@example.com"}}},
		},
		{
			name: "a part without a form name is skipped",
			build: func(w *multipart.Writer) error {
				h := textproto.MIMEHeader{}
				h.Set("Content-Disposition", "attachment")
				pw, err := w.CreatePart(h)
				if err != nil {
					return err
				}
				if _, err := pw.Write([]byte("ignored")); err != nil {
					return err
				}
				return w.WriteField("email", "a@example.com")
			},
			want: []field{{"email", []string{"a@example.com"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, body := multipartBody(t, tt.build)
			f, err := ParseFormBody(ct, body)
			if err != nil {
				t.Fatalf("ParseFormBody: %v", err)
			}
			if got := fieldsOf(f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseFormBodyJSON(t *testing.T) {
	tests := []struct {
		name string
		ct   string
		body string
		want []field
	}{
		{
			name: "nested objects are flattened with dots",
			body: `{"contact":{"email":"a@example.com","address":{"city":"Kraków"}}}`,
			want: []field{{"contact.address.city", []string{"Kraków"}}, {"contact.email", []string{"a@example.com"}}},
		},
		{
			name: "an array of scalars becomes repeated values",
			body: `{"interest":["crm","helpdesk"]}`,
			want: []field{{"interest", []string{"crm", "helpdesk"}}},
		},
		{
			name: "an array of objects puts the index in the path",
			body: `{"answers":[{"v":"a"},{"v":"b"}]}`,
			want: []field{{"answers.0.v", []string{"a"}}, {"answers.1.v", []string{"b"}}},
		},
		{
			name: "numbers are kept exactly as sent, beyond float64 precision",
			body: `{"id":9007199254740993,"big":123456789012345678901234567890,"price":0.10,"exp":1e400,"neg":-0}`,
			want: []field{
				{"big", []string{"123456789012345678901234567890"}},
				{"exp", []string{"1e400"}},
				{"id", []string{"9007199254740993"}},
				{"neg", []string{"-0"}},
				{"price", []string{"0.10"}},
			},
		},
		{
			name: "booleans are text and null is absent",
			body: `{"consent":true,"vip":false,"company":null}`,
			want: []field{{"consent", []string{"true"}}, {"vip", []string{"false"}}},
		},
		{
			name: "a JSON object labelled as urlencoded is parsed as JSON",
			ct:   formURLEncoded,
			body: "\n  {\"email\":\"a@example.com\",\"n\":9007199254740993}\n",
			want: []field{{"email", []string{"a@example.com"}}, {"n", []string{"9007199254740993"}}},
		},
		{
			name: "a +json media type is JSON",
			ct:   "application/vnd.example+json; charset=utf-8",
			body: `{"email":"a@example.com"}`,
			want: []field{{"email", []string{"a@example.com"}}},
		},
		{
			name: "text/json is JSON",
			ct:   "text/json",
			body: `{"email":"a@example.com"}`,
			want: []field{{"email", []string{"a@example.com"}}},
		},
		{
			name: "an empty object has no fields (the mapper finds no identity)",
			body: `{}`,
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.ct
			if ct == "" {
				ct = "application/json"
			}
			f, err := ParseFormBody(ct, []byte(tt.body))
			if err != nil {
				t.Fatalf("ParseFormBody: %v", err)
			}
			if got := fieldsOf(f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseFormBodyMalformed(t *testing.T) {
	tests := []struct {
		name       string
		ct         string
		body       string
		wantReason string // a substring of MalformedError.Reason
	}{
		{"an invalid percent-escape in a value names the field", formURLEncoded, "first_name=Ana&email=ana%ZZexample.com", `value of form field "email"`},
		{"a truncated percent-escape names the field", formURLEncoded, "email=a%40example.com&phone=%2", `"phone"`},
		{"an invalid percent-escape in a key names the key", formURLEncoded, "e%mail=a", `form key "e%mail"`},
		{"a body of separators only has no fields", formURLEncoded, "&&&", "no fields"},
		{"an empty body is malformed", formURLEncoded, "", "empty body"},
		{"a whitespace-only body is malformed", "application/json", " \r\n\t", "empty body"},
		{"multipart without a boundary is malformed", "multipart/form-data", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n", "boundary"},
		{"multipart whose boundary never appears has no fields", "multipart/form-data; boundary=abc", "email=a@example.com", "no fields"},
		{"multipart cut off in a part is malformed", "multipart/form-data; boundary=abc", "--abc\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@exa", `multipart`},
		{"JSON with trailing garbage is malformed", "application/json", `{"email":"a@example.com"} trailing`, "invalid JSON"},
		{"two JSON objects in a row are malformed", "application/json", `{"a":1}{"b":2}`, "trailing data"},
		{"a top-level JSON array is not an object", "application/json", `[{"email":"a@example.com"}]`, "expected a JSON object, got an array"},
		{"a top-level JSON string is not an object", "application/json", `"a@example.com"`, "expected a JSON object, got a string"},
		{"a top-level JSON number is not an object", "application/json", `42`, "expected a JSON object, got a number"},
		{"truncated JSON is malformed", "application/json", `{"email":"a@exa`, "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFormBody(tt.ct, []byte(tt.body))
			var m *MalformedError
			if !errors.As(err, &m) {
				t.Fatalf("got fields %v, err %v (%T); want *MalformedError", f, err, err)
			}
			if !strings.Contains(m.Reason, tt.wantReason) {
				t.Errorf("reason %q does not contain %q", m.Reason, tt.wantReason)
			}
			if !strings.HasPrefix(err.Error(), "malformed body: ") {
				t.Errorf("Error() = %q, want it to say the body is malformed", err)
			}
		})
	}
}

func TestParseFormBodyMalformedReasonIsBounded(t *testing.T) {
	key := strings.Repeat("k", 500)
	_, err := ParseFormBody(formURLEncoded, []byte(key+"=%zz"))
	var m *MalformedError
	if !errors.As(err, &m) {
		t.Fatalf("err = %v, want *MalformedError", err)
	}
	if len(m.Reason) > 120 {
		t.Errorf("reason is %d bytes; a hostile key must not blow up logs and quarantine rows: %q", len(m.Reason), m.Reason)
	}
}

func TestParseFormBodyUnsupportedMedia(t *testing.T) {
	tests := []struct {
		name      string
		ct        string
		wantMedia string
		wantError string
	}{
		{"a missing content type is unsupported", "", "", "missing Content-Type"},
		{"a blank content type is unsupported", "   ", "", "missing Content-Type"},
		{"plain text is unsupported", "text/plain; charset=utf-8", "text/plain", `unsupported Content-Type "text/plain"`},
		{"XML is unsupported", "application/xml", "application/xml", `unsupported Content-Type "application/xml"`},
		{"an unparsable content type is unsupported as sent", "form;;=", "form;;=", `unsupported Content-Type "form;;="`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFormBody(tt.ct, []byte("email=a%40example.com"))
			var u *UnsupportedMediaError
			if !errors.As(err, &u) {
				t.Fatalf("err = %v (%T), want *UnsupportedMediaError (HTTP 415)", err, err)
			}
			if u.MediaType != tt.wantMedia || u.Error() != tt.wantError {
				t.Errorf("MediaType %q, Error %q; want %q, %q", u.MediaType, u.Error(), tt.wantMedia, tt.wantError)
			}
		})
	}
}

func TestFieldsAccessors(t *testing.T) {
	var f Fields
	if f.Len() != 0 || f.Get("x") != "" || f.Values("x") != nil || f.Keys() != nil {
		t.Fatal("the zero Fields is not empty")
	}
	f.Add("b", "1")
	f.Add("a", "2")
	f.Add("b", "3")
	if f.Len() != 2 || !reflect.DeepEqual(f.Keys(), []string{"b", "a"}) {
		t.Errorf("keys = %v (len %d), want [b a] in first-seen order", f.Keys(), f.Len())
	}
	if f.Get("b") != "1" || !reflect.DeepEqual(f.Values("b"), []string{"1", "3"}) {
		t.Errorf("Get(b) = %q, Values(b) = %v; want the first value and all of them", f.Get("b"), f.Values("b"))
	}
}

func TestDecodeJSON(t *testing.T) {
	t.Run("an int64 id survives exactly, never through float64", func(t *testing.T) {
		v, err := DecodeJSON([]byte(`{"id":9223372036854775807,"lead":9007199254740993}`))
		if err != nil {
			t.Fatal(err)
		}
		obj := v.(map[string]any)
		for key, want := range map[string]int64{"id": 9223372036854775807, "lead": 9007199254740993} {
			n, ok := obj[key].(json.Number)
			if !ok {
				t.Fatalf("%s decoded as %T, want json.Number", key, obj[key])
			}
			got, err := n.Int64()
			if err != nil || got != want {
				t.Errorf("%s = %d (%v), want %d", key, got, err, want)
			}
		}
	})
	t.Run("trailing whitespace is allowed", func(t *testing.T) {
		if _, err := DecodeJSON([]byte("[1, 2]\n\t ")); err != nil {
			t.Errorf("err = %v", err)
		}
	})
	for _, body := range []string{`{"a":1} x`, `{"a":1} {"a":2}`, `1 2`, `{"a":1}]`, ``, `{`} {
		t.Run("a body that is not exactly one value is malformed: "+body, func(t *testing.T) {
			_, err := DecodeJSON([]byte(body))
			var m *MalformedError
			if !errors.As(err, &m) {
				t.Errorf("err = %v, want *MalformedError", err)
			}
		})
	}
}

func TestScalarString(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"a string is itself", "Ana", "Ana"},
		{"a number is its exact text", json.Number("9007199254740993"), "9007199254740993"},
		{"true is 'true'", true, "true"},
		{"false is 'false'", false, "false"},
		{"null is empty", nil, ""},
		{"any other value is its JSON", map[string]any{"a": json.Number("1")}, `{"a":1}`},
	}
	for _, tt := range tests {
		if got := ScalarString(tt.in); got != tt.want {
			t.Errorf("%s: ScalarString(%v) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}
