package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustCompile(t *testing.T, s Spec) *Compiled {
	t.Helper()
	c, errs := s.Compile()
	if len(errs) > 0 {
		t.Fatalf("compile: %v", errs)
	}
	return c
}

func jsonReq(body string) *RawRequest {
	return &RawRequest{Source: "src", Provider: "p", Headers: map[string]string{"Content-Type": "application/json", "X-Event": "thing.created"},
		Query: "campaign=q1", Body: []byte(body), ReceivedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestPathsSelectWhatTheySay(t *testing.T) {
	doc, err := DecodeJSON([]byte(`{"a":{"b":[{"k":"x","v":1},{"k":"y","v":2},{"k":"y","v":3}],"c.d":"dotted"},
		"big": 9007199254740993, "list": ["p","q"], "nested": {"field": {"ref": "email"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path string
		want       []string
	}{
		{"a key chain reaches a scalar", "a.c\\.d", []string{"dotted"}},
		{"an index picks one element", "a.b[1].v", []string{"2"}},
		{"a star fans out over every element", "a.b[*].v", []string{"1", "2", "3"}},
		{"a filter picks the first match", "a.b[k=y].v", []string{"2"}},
		{"a filter with a star keeps every match", "a.b[k=y][*].v", []string{"2", "3"}},
		{"a nested filter key compares a sub-path", "a.b[k=x].k", []string{"x"}},
		{"an int64 past 2^53 stays exact", "big", []string{"9007199254740993"}},
		{"a missing key selects nothing", "a.nope", nil},
		{"an index past the end selects nothing", "a.b[9].v", nil},
		{"a key on a scalar selects nothing", "big.x", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePath(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range p.Eval(doc) {
				got = append(got, ScalarString(v))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("%s = %v, want %v", tc.path, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "a..b", "a[", "a[x]", "a[-1]", "a]b"} {
		if _, err := ParsePath(bad); err == nil && bad != "a]b" {
			t.Errorf("ParsePath(%q) accepted a bad path", bad)
		}
	}
}

func TestCompileReportsEveryProblemWithItsKey(t *testing.T) {
	_, errs := (&Spec{
		Body:        BodySpec{Format: "xml"},
		Identities:  map[string]ValueSpec{"email": {}, "fax": {Path: "f"}},
		Traits:      map[string]ValueSpec{"x": {Path: "a", Const: "b"}, "y": {Path: "a[", Transforms: []string{"shout"}}},
		Attribution: map[string]ValueSpec{"utm_bogus": {Path: "u"}},
	}).Compile()
	text := ""
	for _, e := range errs {
		text += e.Error() + "\n"
	}
	for _, want := range []string{"provider: must be set", "body.format: must be json, form or auto",
		"identities.email: needs one of", "identities.fax: unknown identity type", "traits.x: set only one of",
		"traits.y: path \"a[\"", "traits.y: unknown transform \"shout\"", "attribution.utm_bogus: unknown attribution field"} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
}

func TestAMappingBuildsTheCanonicalEvent(t *testing.T) {
	c := mustCompile(t, Spec{
		Provider: "p",
		Dedup:    ValueSpec{Template: "p-delivery:{id}"},
		Ignore:   []Condition{{ValueSpec: ValueSpec{Path: "test"}, Equals: "true"}},
		Event: EventSpec{
			Type:       ValueSpec{Header: "X-Event"},
			OccurredAt: ValueSpec{Path: "at", Transforms: []string{"epoch_ms"}},
		},
		Identities: map[string]ValueSpec{
			"email":       {Coalesce: []string{"contact.work_email", "contact.email"}},
			"phone":       {Path: "contact.phone", Region: &ValueSpec{Path: "contact.country"}},
			"external_id": {Template: "p:user:{contact.id}"},
		},
		Traits: map[string]ValueSpec{
			"first_name": {Path: "contact.name", Transforms: []string{"given_name"}},
			"last_name":  {Path: "contact.name", Transforms: []string{"family_name"}},
			"tier":       {Path: "contact.tier", Lookup: map[string]string{"g": "gold"}},
		},
		Attribution: map[string]ValueSpec{"page_url": {Path: "page"}, "utm_campaign": {Query: "campaign"}},
		Properties: map[string]ValueSpec{
			"score":  {Path: "score", Transforms: []string{"nps"}},
			"amount": {Path: "amount", Transforms: []string{"number"}},
			"tags":   {Path: "tags", All: true},
			"paid":   {Path: "paid", Transforms: []string{"bool"}},
		},
	})
	req := jsonReq(`{"id":"d1","at":1741949990123,"contact":{"email":" Ana@Example.com ","phone":"601 234 567","country":"Poland","id":42,"name":"Ana Maria Lima","tier":"g"},
		"page":"https://x.example/p?utm_source=news&utm_medium=email","score":"9","amount":12345678901234567890.5,"tags":["a","b"],"paid":"yes"}`)
	doc, err := c.Decode(req)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ignored(doc) {
		t.Fatal("ignored a real request")
	}
	if k := c.DedupKey(doc); k != "p-delivery:d1" {
		t.Fatalf("dedup = %q", k)
	}
	evs, err := c.Map(doc, "US")
	if err != nil {
		t.Fatal(err)
	}
	ev := evs[0]
	got, _ := json.Marshal(ev)
	for _, want := range []string{
		`"type":"thing.created"`, `"occurred_at":"2025-03-14T10:59:50.123Z"`,
		`{"type":"email","value":"ana@example.com"}`, `{"type":"phone","value":"+48601234567"}`,
		`{"type":"external_id","value":"p:user:42"}`, `"first_name":"Ana Maria"`, `"last_name":"Lima"`, `"tier":"gold"`,
		`"source":"news"`, `"medium":"email"`, `"campaign":"q1"`, `"score":9`, `"amount":12345678901234567890.5`,
		`"tags":["a","b"]`, `"paid":true`,
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("missing %s in %s", want, got)
		}
	}
}

func TestBadInputIsUnmappableWithTheReason(t *testing.T) {
	c := mustCompile(t, Spec{
		Provider:   "p",
		Identities: map[string]ValueSpec{"email": {Path: "email"}, "user_id": {Path: "uid"}},
		Properties: map[string]ValueSpec{"nps": {Path: "score", Transforms: []string{"nps"}}, "must": {Path: "m", Required: true}},
	})
	cases := []struct{ name, body, want string }{
		{"an NPS past 10 is quarantined, not clamped", `{"email":"a@b.example","score":11,"m":"x"}`, "properties.nps: NPS score 11 is outside its scale 0..10"},
		{"a missing required value is named", `{"email":"a@b.example","score":3}`, "properties.must: required value is missing"},
		{"junk identifiers identify no one", `{"email":"null","uid":"-1","m":"x"}`, "no identifier"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := c.Decode(jsonReq(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Map(doc, "")
			var u *UnmappableError
			if !errors.As(err, &u) || !strings.Contains(u.Reason, tc.want) {
				t.Fatalf("err = %v, want unmappable with %q", err, tc.want)
			}
		})
	}
	t.Run("zero is a real NPS score", func(t *testing.T) {
		doc, _ := c.Decode(jsonReq(`{"email":"a@b.example","score":"0","m":"x"}`))
		evs, err := c.Map(doc, "")
		if err != nil || evs[0].Properties["nps"] != json.Number("0") {
			t.Fatalf("evs=%v err=%v", evs, err)
		}
	})
}

func TestBatchedRecordsBecomeOneEventEach(t *testing.T) {
	c := mustCompile(t, Spec{
		Provider:   "p",
		Records:    "entry[*].changes",
		Skip:       []Condition{{ValueSpec: ValueSpec{Path: "field"}, In: []string{"feed"}}},
		Identities: map[string]ValueSpec{"external_id": {Template: "p:lead:{value.id}"}},
		Properties: map[string]ValueSpec{"page": {Path: "$.object"}},
	})
	doc, err := c.Decode(jsonReq(`{"object":"page","entry":[{"changes":[{"field":"leadgen","value":{"id":"1"}},{"field":"feed","value":{"id":"x"}}]},{"changes":[{"field":"leadgen","value":{"id":"2"}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := c.Map(doc, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Identities[0].Value != "p:lead:1" || evs[1].Identities[0].Value != "p:lead:2" || evs[1].Properties["page"] != "page" {
		b, _ := json.Marshal(evs)
		t.Fatalf("events = %s", b)
	}
}

func TestFormBodiesAndJSONFields(t *testing.T) {
	c := mustCompile(t, Spec{
		Provider:   "p",
		Body:       BodySpec{Format: "form", JSONFields: []string{"data.json"}},
		Identities: map[string]ValueSpec{"email": {Path: "data\\.json.email[0]"}},
		Properties: map[string]ValueSpec{"colors": {Path: "color", All: true}},
	})
	req := &RawRequest{Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		Body: []byte("color=red&color=blue&data.json=%7B%22email%22%3A%5B%22x%40example.com%22%5D%7D")}
	doc, err := c.Decode(req)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := c.Map(doc, "")
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Traits["email"] != "x@example.com" || len(evs[0].Properties["colors"].([]any)) != 2 {
		t.Fatalf("event = %+v", evs[0])
	}
	if _, err := c.Decode(&RawRequest{Headers: req.Headers, Body: []byte("data.json=%7Bbroken")}); err == nil {
		t.Fatal("broken JSON in a JSON field was accepted")
	}
}

func TestWithoutADeliveryIDTheDedupKeyIsAContentHash(t *testing.T) {
	c := mustCompile(t, Spec{Provider: "p", Identities: map[string]ValueSpec{"email": {Path: "e"}}})
	d1, _ := c.Decode(jsonReq(`{"e":"a@b.example"}`))
	d2, _ := c.Decode(jsonReq(`{"e":"a@b.example"}`))
	d3, _ := c.Decode(jsonReq(`{"e":"c@b.example"}`))
	if c.DedupKey(d1) != c.DedupKey(d2) || c.DedupKey(d1) == c.DedupKey(d3) || !strings.HasPrefix(c.DedupKey(d1), "sha256:") {
		t.Fatalf("keys %s %s %s", c.DedupKey(d1), c.DedupKey(d2), c.DedupKey(d3))
	}
}

// eval maps body through spec and returns the one event.
func mapOne(t *testing.T, s Spec, req *RawRequest, fetched Fetched) *Event {
	t.Helper()
	c := mustCompile(t, s)
	doc, err := c.Decode(req)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := c.MapFetched(doc, "", fetched)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	return evs[0]
}

func TestSelectorsReachHeadersQueriesAndAlternatives(t *testing.T) {
	ev := mapOne(t, Spec{
		Provider: "p",
		Identities: map[string]ValueSpec{
			"external_id": {Template: "p:user:{detail.requester_id|requester.id}"},
			"email":       {Coalesce: []string{"header:X-Email", "contact.email"}},
		},
		Traits: map[string]ValueSpec{
			"event":    {Path: "header:X-Event"},
			"campaign": {Path: "query:campaign"},
			"loose":    {Path: "data.~email_address"},
		},
	}, jsonReq(`{"requester":{"id":7},"contact":{"email":"a@b.example"},"data":{"E-mail Address":"x"}}`), nil)
	if ev.Identities[0].Value != "a@b.example" || ev.Identities[1].Value != "p:user:7" {
		t.Fatalf("identities %+v", ev.Identities)
	}
	if ev.Traits["event"] != "thing.created" || ev.Traits["campaign"] != "q1" || ev.Traits["loose"] != "x" {
		t.Fatalf("traits %+v", ev.Traits)
	}
}

func TestConditionsTransformsAndLookupsShapeValues(t *testing.T) {
	ev := mapOne(t, Spec{
		Provider:   "p",
		Identities: map[string]ValueSpec{"email": {Path: "author.email", When: &Condition{ValueSpec: ValueSpec{Path: "author.type"}, NotIn: []string{"admin", "bot"}}}, "user_id": {Path: "uid"}},
		Properties: map[string]ValueSpec{
			"nps":   {Path: "score", When: &Condition{ValueSpec: ValueSpec{Path: "kind"}, Equals: "nps"}, Transforms: []string{"nps"}},
			"csat":  {Path: "score", When: &Condition{ValueSpec: ValueSpec{Path: "kind"}, Equals: "csat"}, Transforms: []string{"csat"}},
			"event": {Path: "trigger", Transforms: []string{`regex:^\{\s*(\w+\s*:\s*\w*)`}, Lookup: map[string]string{"ticket_action:created": "ticket_created", "*": "ticket_updated"}},
			"other": {Path: "other_trigger", Transforms: []string{`regex:^\{\s*(\w+\s*:\s*\w*)`}, Lookup: map[string]string{"ticket_action:created": "ticket_created", "*": "ticket_updated"}},
			"tags":  {Path: "tags", All: true, Transforms: []string{"split: ", "lowercase"}},
			"ns":    {Path: "uid", Transforms: []string{"prefix:p:user:"}},
			"kind":  {Path: "missing", Default: "none"},
			"gated": {Const: "x", When: &Condition{ValueSpec: ValueSpec{Path: "author.email"}, Absent: true}, Default: "y"},
		},
	}, jsonReq(`{"author":{"type":"admin","email":"agent@b.example"},"uid":"u1","kind":"nps","score":"9",
		"trigger":"{ticket_action:created}","other_trigger":"{status:{from:2,to:4}}","tags":"VIP  billing"}`), nil)
	if len(ev.Identities) != 1 || ev.Identities[0].Type != IdentityUserID {
		t.Fatalf("a teammate's email identified the customer: %+v", ev.Identities)
	}
	want := map[string]any{"nps": json.Number("9"), "event": "ticket_created", "other": "ticket_updated",
		"tags": []any{"vip", "billing"}, "ns": "p:user:u1", "kind": "none"}
	got, _ := json.Marshal(ev.Properties)
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Fatalf("properties\n got %s\nwant %s", got, wantJSON)
	}
}

func TestFetchesRunInOrderAndFeedTheMapping(t *testing.T) {
	c := mustCompile(t, Spec{
		Provider: "p",
		APIBase:  "https://api.example",
		Records:  "[*]",
		Skip:     []Condition{{ValueSpec: ValueSpec{Path: "kind"}, Equals: "noise"}},
		Fetch: []FetchSpec{
			{Name: "deal", URL: "/deals/{objectId}", When: &Condition{ValueSpec: ValueSpec{Path: "kind"}, Equals: "deal"}},
			{Name: "contact", URL: "/contacts/{$deal.contact_id|objectId}?x=1", Auth: "header:X-Key"},
		},
		RecordKey:  ValueSpec{Template: "p-event:{eventId}"},
		Dedup:      ValueSpec{Path: "[*].eventId", All: true, Transforms: []string{"prefix:p-event:"}},
		Identities: map[string]ValueSpec{"email": {Path: "$contact.email"}},
		Properties: map[string]ValueSpec{"stage": {Path: "$deal.stage"}},
	})
	doc, err := c.Decode(jsonReq(`[{"eventId":2,"kind":"deal","objectId":"d/1"},{"eventId":1,"kind":"contact","objectId":"c1"},{"eventId":3,"kind":"noise"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if k := c.DedupKey(doc); k != "p-event:1,p-event:2,p-event:3" {
		t.Fatalf("dedup key %q", k)
	}
	fetched := Fetched{}
	var calls []string
	for {
		f, err := c.NextFetch(doc, fetched)
		if err != nil {
			t.Fatal(err)
		}
		if f == nil {
			break
		}
		calls = append(calls, fmt.Sprintf("%d %s %s %s", f.Record, f.Name, f.Path, f.Auth))
		if fetched[f.Record] == nil {
			fetched[f.Record] = map[string]json.RawMessage{}
		}
		switch f.Path {
		case "/deals/d%2F1":
			fetched[f.Record][f.Name] = json.RawMessage(`{"contact_id":"c9","stage":"closedwon"}`)
		default:
			fetched[f.Record][f.Name] = json.RawMessage(`{"email":"` + strings.TrimPrefix(strings.TrimSuffix(f.Path, "?x=1"), "/contacts/") + `@b.example"}`)
		}
	}
	want := []string{"0 deal /deals/d%2F1 bearer", "0 contact /contacts/c9?x=1 header:X-Key", "1 contact /contacts/c1?x=1 header:X-Key"}
	if strings.Join(calls, "|") != strings.Join(want, "|") {
		t.Fatalf("calls\n got %q\nwant %q", calls, want)
	}
	evs, err := c.MapFetched(doc, "", fetched)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Traits["email"] != "c9@b.example" || evs[0].Properties["stage"] != "closedwon" ||
		evs[0].RecordKey != "p-event:2" || evs[1].Traits["email"] != "c1@b.example" || evs[1].Record != 1 {
		b, _ := json.Marshal(evs)
		t.Fatalf("events %s", b)
	}
	if _, err := c.MapFetched(doc, "", nil); err == nil || !strings.Contains(err.Error(), "was not fetched") {
		t.Fatalf("mapping without the fetched documents: %v", err)
	}
}

func TestARequestWhoseRecordsAreAllSkippedHasNoEffect(t *testing.T) {
	c := mustCompile(t, Spec{
		Provider:   "p",
		Records:    "entry[*]",
		Skip:       []Condition{{ValueSpec: ValueSpec{Path: "test"}, Equals: "true"}},
		Identities: map[string]ValueSpec{"email": {Path: "email"}},
	})
	doc, _ := c.Decode(jsonReq(`{"entry":[{"test":true,"email":"a@b.example"}]}`))
	if evs, err := c.Map(doc, ""); err != nil || len(evs) != 0 {
		t.Fatalf("evs=%v err=%v", evs, err)
	}
	// An object without the records array is its own single record.
	doc, _ = c.Decode(jsonReq(`{"email":"a@b.example"}`))
	if evs, err := c.Map(doc, ""); err != nil || len(evs) != 1 {
		t.Fatalf("evs=%v err=%v", evs, err)
	}
}

func TestCompileRejectsReadingADocumentNoFetchDefines(t *testing.T) {
	_, errs := (&Spec{
		Provider:   "p",
		APIBase:    "https://x",
		Fetch:      []FetchSpec{{Name: "a", URL: "/a/{$b.id}"}, {Name: "b", URL: "/b"}},
		Views:      map[string]ViewSpec{"v": {Func: "nope", From: []string{"zz"}}},
		Identities: map[string]ValueSpec{"email": {Path: "$c.email", Transforms: []string{"regex:("}}},
	}).Compile()
	text := fmt.Sprint(errs)
	for _, want := range []string{"fetch[0].url: selector \"$b.id\" reads $b", "views.v.func: unknown view function",
		"views.v.from: \"zz\" is not a fetch name", "identities.email: selector \"$c.email\" reads $c", "transform \"regex:(\""} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in %s", want, text)
		}
	}
}
