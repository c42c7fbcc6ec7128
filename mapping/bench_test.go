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

// BenchmarkResolveIntoCustomer is identity resolution's pure share, per
// event: the event's identity keys looked up, its traits folded into the
// customer under survivorship (the default rules, firmographics by source
// precedence), its first touch and timeline span kept; and once per 64
// events a merge of two customers (Absorb). The lookups and locks in
// PostgreSQL are measured by BenchmarkPipelineThroughput.
func BenchmarkResolveIntoCustomer(b *testing.B) {
	at := time.Date(2026, 3, 14, 11, 2, 7, 0, time.UTC)
	ev := func(i int) *Event {
		return &Event{
			Source: "website", Provider: "form", Type: "form_submitted", OccurredAt: at.Add(time.Duration(i) * time.Minute),
			Identities: []Identity{
				{Type: IdentityEmail, Value: "ada@example.com"},
				{Type: IdentityPhone, Value: "+14155550100"},
				{Type: IdentityAnonymous, Value: "anon-7f3a"},
			},
			Traits:      map[string]string{"first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines", "title": "Engineer"},
			Attribution: &Touch{Source: "google", Medium: "cpc", Campaign: "spring"},
			Properties:  map[string]any{"form_id": "contact", "message": "Hello"},
		}
	}
	s := DefaultSurvivorship()
	index := map[string]*Customer{}
	c := NewCustomer("c-1", ev(0))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		e := ev(i)
		for _, id := range e.Identities {
			if _, ok := index[id.Key()]; !ok {
				index[id.Key()] = c
			}
		}
		c.Apply(e, "req", s)
		if i%64 == 0 {
			other := NewCustomer("c-2", ev(i))
			c.Absorb(other, s)
		}
	}
}
