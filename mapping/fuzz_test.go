package mapping

import (
	"encoding/json"
	"errors"
	"mime/multipart"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzSeeds are request bodies worth mutating: the shared fixture, every
// golden case, and the edges of each parser.
func fuzzSeeds(f *testing.F) [][2]string {
	f.Helper()
	fx := loadSharedFixture(f, "html-form-basic-utm.json")
	ct, mp := multipartBody(f, func(w *multipart.Writer) error {
		if err := w.WriteField("email", "a@example.com"); err != nil {
			return err
		}
		fw, err := w.CreateFormFile("cv", "cv.pdf")
		if err != nil {
			return err
		}
		_, err = fw.Write([]byte("%PDF"))
		return err
	})
	seeds := [][2]string{
		{fx.ContentType, fx.Body},
		{ct, string(mp)},
		{"application/json", `{"contact":{"email":"A@Example.com","phone":"601 234 567"},"ids":[9007199254740993,{"x":null}]}`},
		{"application/x-www-form-urlencoded", `{"Email":"sheets@example.com"}`},
		{"application/x-www-form-urlencoded", "email=%zz&phone=%2"},
		{"application/x-www-form-urlencoded", "form-name=contact&contact%5Bname%5D=Ana&email=mailto%3AA%40B.co&country=pl&phone=0048601234567"},
		{"application/x-www-form-urlencoded", "page_url=https%3A%2F%2Fx.example%2F%3Futm_source%3Dg%26gclid%3D1&email=a%40b.co"},
		{"multipart/form-data", "--x\r\n\r\n--x--"},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.co\r\n--x--\r\n"},
		{"application/json", `[1]`},
		{"text/plain", "x"},
		{"", ""},
	}
	paths, _ := globFormCases()
	for _, p := range paths {
		c := loadFormCase(f, p)
		seeds = append(seeds, [2]string{c.ContentType, c.Body})
	}
	return seeds
}

func FuzzParseFormBody(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0], []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		fields, err := ParseFormBody(contentType, body)
		if err != nil {
			var m *MalformedError
			var u *UnsupportedMediaError
			if !errors.As(err, &m) && !errors.As(err, &u) {
				t.Fatalf("error %T (%v), want *MalformedError or *UnsupportedMediaError", err, err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("error text is not valid UTF-8 (it is stored as text and sent in 400s): %q", err.Error())
			}
			return
		}
		seen := map[string]bool{}
		for _, k := range fields.Keys() {
			if seen[k] {
				t.Fatalf("key %q listed twice", k)
			}
			seen[k] = true
			if len(fields.Values(k)) == 0 {
				t.Fatalf("key %q has no values", k)
			}
		}
		if fields.Len() != len(fields.Keys()) {
			t.Fatalf("Len() = %d with %d keys", fields.Len(), len(fields.Keys()))
		}
	})
}

func FuzzMapForm(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s[0], []byte(s[1]), "https://www.example.com/?utm_source=google&utm_medium=cpc", "BR")
	}
	f.Add("application/x-www-form-urlencoded", []byte("phone=601+234+567"), "", "pl")
	f.Fuzz(func(t *testing.T, contentType string, body []byte, referer, region string) {
		req := &RawRequest{
			Source:     "site",
			Provider:   "form",
			Headers:    map[string]string{"Content-Type": contentType, "Referer": referer},
			Body:       body,
			ReceivedAt: time.Date(2025, 3, 14, 11, 2, 7, 0, time.UTC),
		}
		ev, err := MapForm(req, FormOptions{DefaultRegion: region})
		if err != nil {
			var m *MalformedError
			var u *UnsupportedMediaError
			var un *UnmappableError
			if !errors.As(err, &m) && !errors.As(err, &u) && !errors.As(err, &un) {
				t.Fatalf("error %T (%v), want one of the three permanent mapping errors", err, err)
			}
			return
		}
		if len(ev.Identities) == 0 {
			t.Fatal("an event without identities was returned without an error")
		}
		for _, id := range ev.Identities {
			switch id.Type {
			case IdentityEmail:
				if id.Value == "" || NormalizeEmail(id.Value) != id.Value {
					t.Fatalf("email identity %q is not normalized: NormalizeEmail gives %q", id.Value, NormalizeEmail(id.Value))
				}
				if ev.Traits["email"] != id.Value {
					t.Fatalf("email trait %q differs from identity %q", ev.Traits["email"], id.Value)
				}
			case IdentityPhone:
				p, ok := NormalizePhone(id.Value, "")
				if !strings.HasPrefix(id.Value, "+") || !ok || p.E164 != id.Value {
					t.Fatalf("phone identity %q is not stable E.164: NormalizePhone gives %q, %v", id.Value, p.E164, ok)
				}
			default:
				t.Fatalf("unexpected identity type %q", id.Type)
			}
		}
		for k, v := range ev.Traits {
			if v == "" || v != strings.TrimSpace(v) {
				t.Fatalf("trait %s = %q: traits are non-empty and trimmed", k, v)
			}
		}
		if _, err := json.Marshal(ev); err != nil {
			t.Fatalf("event does not encode: %v", err)
		}
	})
}

// FuzzNormalize checks the normalizers directly, where the fuzzer reaches
// odd inputs faster than through a form body: both are idempotent, so an
// identifier stored by the mapper is found again by a lookup (admin API).
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{" Ana.Lima+News@Example.COM ", "mailto:a@b.co", "józef@wróbel.pl", "+55 11 98765-4321",
		"0048 601 234 567", "601 234 567", "(11) 3456-7890", "0000", "null", "a@b", "\"a b\"@c.co"} {
		f.Add(s, "PL")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		if e := NormalizeEmail(raw); e != "" {
			if again := NormalizeEmail(e); again != e {
				t.Fatalf("NormalizeEmail(%q) = %q, then %q", raw, e, again)
			}
			if !utf8.ValidString(e) {
				t.Fatalf("NormalizeEmail(%q) = %q is not valid UTF-8", raw, e)
			}
		}
		if p, ok := NormalizePhone(raw, region); ok {
			again, ok := NormalizePhone(p.E164, "")
			if !ok || again != p {
				t.Fatalf("NormalizePhone(%q, %q) = %+v, then %+v, %v", raw, region, p, again, ok)
			}
		}
		first, last := SplitName(raw)
		if last != "" && first == "" {
			t.Fatalf("SplitName(%q) = %q, %q: a last name without a first", raw, first, last)
		}
	})
}

// FuzzLooseEqual proves the allocation-free comparison a loose path uses
// agrees with folding both names.
func FuzzLooseEqual(f *testing.F) {
	for _, s := range [][2]string{
		{"First Name", "first_name"}, {"E-mail Address", "emailaddress"}, {"ÉCOLE", "école"},
		{"İstanbul", "istanbul"}, {"a\xffb", "ab"}, {"Phone #2", "phone2"}, {"", "x"}, {"名前", "名前"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, k, other string) {
		folded := looseKey(other)
		if got, want := looseEqual(k, folded), looseKey(k) == folded; got != want {
			t.Fatalf("looseEqual(%q, %q) = %v, folding both says %v", k, folded, got, want)
		}
		if !looseEqual(k, looseKey(k)) {
			t.Fatalf("%q is not loosely equal to its own fold %q", k, looseKey(k))
		}
	})
}
