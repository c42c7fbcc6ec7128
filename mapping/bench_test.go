package mapping

import (
	"testing"
	"time"
)

// BenchmarkMapForm maps the shared html-form fixture: parse, normalize
// email and phone, split names, read UTMs, keep the rest.
func BenchmarkMapForm(b *testing.B) {
	fx := loadSharedFixture(b, "html-form-basic-utm.json")
	req := &RawRequest{
		Source:     "website",
		Provider:   "form",
		Headers:    fx.Headers,
		Body:       []byte(fx.Body),
		ReceivedAt: time.Date(2025, 3, 14, 11, 2, 7, 0, time.UTC),
	}
	b.SetBytes(int64(len(req.Body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MapForm(req, FormOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseFormBody is the edge's share of the work: the body check
// run before the sender gets its 2xx.
func BenchmarkParseFormBody(b *testing.B) {
	fx := loadSharedFixture(b, "html-form-basic-utm.json")
	body := []byte(fx.Body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFormBody(fx.ContentType, body); err != nil {
			b.Fatal(err)
		}
	}
}
