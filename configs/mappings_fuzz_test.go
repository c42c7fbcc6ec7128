package configs_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/cyclehub/cyclehub/configs"
	"github.com/cyclehub/cyclehub/mapping"
)

// Every mapping, given any body and any API document, decodes, dedups,
// plans its fetches and maps without panicking: bad input is an error.
func FuzzDeclarativeMappingsNeverPanic(f *testing.F) {
	specs, err := configs.LoadMappings("mappings")
	if err != nil {
		f.Fatal(err)
	}
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	sort.Strings(names)
	cases, _ := filepath.Glob(filepath.Join("mappings", "testdata", "*", "*.json"))
	for _, path := range cases {
		raw, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		var c mappingCase
		if json.Unmarshal(raw, &c) != nil || len(c.Body) == 0 {
			continue
		}
		provider := filepath.Base(filepath.Dir(path))
		which := sort.SearchStrings(names, provider)
		ct := c.Headers["Content-Type"]
		doc := []byte(`{"email":"a@example.com","field_data":[{"name":"email","values":["a@example.com"]}]}`)
		for _, v := range c.APIResponses {
			doc = v
			break
		}
		f.Add(uint8(which), ct, c.request().Body, doc)
	}
	f.Add(uint8(0), "application/x-www-form-urlencoded", []byte("a[b]=1&a=2&%zz"), []byte("null"))
	f.Add(uint8(1), "multipart/form-data; boundary=x", []byte("--x\r\n"), []byte(`[`))
	f.Fuzz(func(t *testing.T, which uint8, contentType string, body, doc []byte) {
		spec := specs[names[int(which)%len(names)]]
		req := &mapping.RawRequest{Source: "s", Provider: spec.Spec().Provider, Method: "POST",
			Headers: map[string]string{"Content-Type": contentType, "X-Helpscout-Event": "convo.created"},
			Body:    body, ReceivedAt: time.Unix(0, 0).UTC()}
		d, err := spec.Decode(req)
		if err != nil {
			return
		}
		spec.Ignored(d)
		if spec.DedupKey(d) == "" {
			t.Fatal("an empty dedup key")
		}
		fetched := mapping.Fetched{}
		for range 20 {
			next, err := spec.NextFetch(d, fetched)
			if err != nil || next == nil {
				break
			}
			if fetched[next.Record] == nil {
				fetched[next.Record] = map[string]json.RawMessage{}
			}
			fetched[next.Record][next.Name] = doc
		}
		evs, err := spec.MapFetched(d, "US", fetched)
		if err != nil {
			if len(evs) > 0 {
				t.Fatalf("events along with an error: %v", err)
			}
			return
		}
		for _, ev := range evs {
			if len(ev.Identities) == 0 {
				t.Fatal("an event without an identity")
			}
			if _, err := json.Marshal(ev); err != nil {
				t.Fatalf("an event that does not encode: %v", err)
			}
		}
	})
}
