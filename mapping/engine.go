package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Compiled is a checked Spec, ready to map requests. It is immutable and
// safe for concurrent use.
type Compiled struct {
	spec        *Spec
	records     *selector
	ignore      []*condition
	skip        []*condition
	dedup       *value
	recordKey   *value
	vars        []namedValue
	fetches     []*fetch
	views       []*view
	eventType   *value
	occurredAt  *value
	identities  []namedValue
	traits      []namedValue
	attribution []namedValue
	properties  []namedValue
	consent     []consentValue
}

// Spec returns the source spec.
func (c *Compiled) Spec() *Spec { return c.spec }

// NeedsFetch reports whether the provider's requests carry only ids and
// are completed by API calls before they are mapped.
func (c *Compiled) NeedsFetch() bool { return len(c.fetches) > 0 }

// Document is a decoded request body with the request it came from.
type Document struct {
	req  *RawRequest
	root any
}

// Decode parses the request body by the spec's body format. Errors are
// *MalformedError or *UnsupportedMediaError.
func (c *Compiled) Decode(req *RawRequest) (*Document, error) {
	format := c.spec.Body.Format
	ct := req.ContentType()
	if format == "auto" || format == "" {
		format = "form"
		if ct == "application/json" || strings.HasSuffix(ct, "+json") || ct == "text/json" {
			format = "json"
		}
	}
	if format == "json" {
		if len(strings.TrimSpace(string(req.Body))) == 0 {
			return nil, malformed("empty body")
		}
		v, err := DecodeJSON(req.Body)
		if err != nil {
			return nil, err
		}
		return &Document{req: req, root: v}, nil
	}
	f, err := ParseFormBody(req.Header("Content-Type"), req.Body)
	if err != nil {
		return nil, err
	}
	obj := make(map[string]any, f.Len())
	for _, k := range f.Keys() {
		vals := f.Values(k)
		if len(vals) == 1 {
			obj[k] = vals[0]
			continue
		}
		list := make([]any, len(vals))
		for i, v := range vals {
			list[i] = v
		}
		obj[k] = list
	}
	nestBracketKeys(obj)
	for _, k := range c.spec.Body.JSONFields {
		if s, ok := obj[k].(string); ok && strings.TrimSpace(s) != "" {
			v, err := DecodeJSON([]byte(s))
			if err != nil {
				return nil, malformed("form field %q: %s", k, strings.TrimPrefix(err.Error(), "malformed body: "))
			}
			obj[k] = v
		}
	}
	return &Document{req: req, root: obj}, nil
}

// nestBracketKeys also reads PHP/Rails-style keys as nested objects:
// "hook[ticket_id]=9" is reachable as hook.ticket_id. The flat key stays;
// a base name that is already a field is left alone.
func nestBracketKeys(obj map[string]any) {
	for k, v := range obj {
		open := strings.IndexByte(k, '[')
		if open <= 0 || !strings.HasSuffix(k, "]") || strings.Count(k, "[") != 1 {
			continue
		}
		base, sub := k[:open], k[open+1:len(k)-1]
		if sub == "" {
			continue
		}
		nested, ok := obj[base].(map[string]any)
		if !ok {
			if _, taken := obj[base]; taken {
				continue
			}
			nested = map[string]any{}
			obj[base] = nested
		}
		nested[sub] = v
	}
}

// Ignored reports whether the request is a provider test or ping that is
// acknowledged but creates nothing.
func (c *Compiled) Ignored(doc *Document) bool {
	return anyHolds(c.ignore, newEnv(doc, doc.root, nil, ""))
}

// maxKeyLen bounds a dedup key; longer keys (a batch's ids) are hashed.
const maxKeyLen = 200

// DedupKey returns the provider's delivery id for the request, or a hash of
// its body when the provider has none ("sha256:…", which the edge only
// trusts within its dedup window).
func (c *Compiled) DedupKey(doc *Document) string {
	if vals, err := c.dedup.eval(newEnv(doc, doc.root, nil, "")); err == nil {
		var parts []string
		for _, v := range vals {
			if v != "" {
				parts = append(parts, v)
			}
		}
		if len(parts) > 0 {
			slices.Sort(parts)
			key := strings.Join(slices.Compact(parts), ",")
			if len(key) > maxKeyLen {
				sum := sha256.Sum256([]byte(key))
				key = "keys:" + hex.EncodeToString(sum[:16])
			}
			return key
		}
	}
	sum := sha256.Sum256(doc.req.Body)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// recordsOf returns the request's records: the elements the Records path
// selects, or else the body itself (HubSpot sends a batch as an array, a
// workflow webhook as one object).
func (c *Compiled) recordsOf(doc *Document) []any {
	if c.records == nil {
		return []any{doc.root}
	}
	var records []any
	for _, r := range c.records.path.Eval(doc.root) {
		if arr, ok := r.([]any); ok {
			records = append(records, arr...)
			continue
		}
		records = append(records, r)
	}
	if _, isObj := doc.root.(map[string]any); len(records) == 0 && isObj {
		return []any{doc.root}
	}
	return records
}

// FetchRequest is one API call the pipeline makes before mapping.
type FetchRequest struct {
	// Record is the index of the record the document belongs to.
	Record int
	// Name is the document's name ($name in selectors).
	Name string
	// Path is relative to the source's API base; placeholders are escaped.
	Path     string
	Auth     string
	Headers  map[string]string
	Optional bool
}

// Fetched holds fetched documents (raw JSON) by record index and fetch
// name; JSON null is a document that was optional and not found. It is
// stored with the request so a replay maps the same data.
type Fetched map[int]map[string]json.RawMessage

// NextFetch returns the next API call the request needs given what is
// already fetched, or nil when every record has its documents. An error is
// an *UnmappableError: an id the call needs is missing from the request.
func (c *Compiled) NextFetch(doc *Document, fetched Fetched) (*FetchRequest, error) {
	if len(c.fetches) == 0 {
		return nil, nil
	}
	for i, rec := range c.recordsOf(doc) {
		docs, err := decodeFetched(fetched[i])
		if err != nil {
			return nil, err
		}
		e := c.recordEnv(doc, rec, docs, "")
		if anyHolds(c.skip, e) {
			continue
		}
		for _, f := range c.fetches {
			if _, done := fetched[i][f.spec.Name]; done {
				continue
			}
			if f.when != nil && !f.when.holds(e) {
				continue
			}
			path, ok := f.url.render(e, escapeSegment)
			if !ok {
				return nil, &UnmappableError{Reason: fmt.Sprintf("fetch %s: the request lacks a value for %s", f.spec.Name, f.spec.URL)}
			}
			auth := f.spec.Auth
			if auth == "" {
				auth = "bearer"
			}
			return &FetchRequest{Record: i, Name: f.spec.Name, Path: path, Auth: auth, Headers: f.spec.Headers, Optional: f.spec.Optional}, nil
		}
	}
	return nil, nil
}

// recordEnv is the env of one record, with its vars and views computed
// from the documents fetched so far.
func (c *Compiled) recordEnv(doc *Document, rec any, docs map[string]any, region string) *env {
	e := newEnv(doc, rec, docs, region)
	if len(c.vars) > 0 {
		vars := map[string]any{}
		for _, nv := range c.vars {
			if v, err := nv.v.first(e); err == nil && v != "" {
				vars[nv.key] = v
			}
		}
		docs["vars"] = vars
	}
	for _, v := range c.views {
		args := make([]any, len(v.from))
		for j, name := range v.from {
			args[j] = docs[name]
		}
		docs[v.name] = v.fn(args...)
	}
	return e
}

// escapeSegment percent-encodes every byte but RFC 3986's unreserved
// ones, so an id that is a URN ("urn:li:leadGenFormResponse:(…,…)") stays
// one path segment.
func escapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func decodeFetched(raw map[string]json.RawMessage) (map[string]any, error) {
	docs := make(map[string]any, len(raw))
	for name, b := range raw {
		if len(b) == 0 || string(b) == "null" {
			docs[name] = nil
			continue
		}
		v, err := DecodeJSON(b)
		if err != nil {
			return nil, &UnmappableError{Reason: fmt.Sprintf("fetched document %s: %v", name, err)}
		}
		docs[name] = v
	}
	return docs, nil
}

// Map turns a decoded request into its canonical events (one per record,
// none when every record is skipped). Errors are *UnmappableError naming
// the field and the problem.
func (c *Compiled) Map(doc *Document, defaultRegion string) ([]*Event, error) {
	return c.MapFetched(doc, defaultRegion, nil)
}

// MapFetched is Map with the documents fetched for the request.
func (c *Compiled) MapFetched(doc *Document, defaultRegion string, fetched Fetched) ([]*Event, error) {
	records := c.recordsOf(doc)
	if len(records) == 0 {
		return nil, &UnmappableError{Reason: "the request holds no record to map"}
	}
	var events []*Event
	for i, rec := range records {
		docs, err := decodeFetched(fetched[i])
		if err != nil {
			return nil, err
		}
		e := c.recordEnv(doc, rec, docs, defaultRegion)
		if anyHolds(c.skip, e) {
			continue
		}
		for _, f := range c.fetches {
			if _, ok := docs[f.spec.Name]; !ok && (f.when == nil || f.when.holds(e)) {
				return nil, &UnmappableError{Reason: fmt.Sprintf("record %d: %s was not fetched", i, f.spec.Name)}
			}
		}
		ev, err := c.mapRecord(e)
		if err != nil {
			if len(records) > 1 {
				return nil, &UnmappableError{Reason: fmt.Sprintf("record %d: %s", i, err.(*UnmappableError).Reason)}
			}
			return nil, err
		}
		ev.Record = i
		events = append(events, ev)
	}
	return events, nil
}

func (c *Compiled) mapRecord(e *env) (*Event, error) {
	req := e.doc.req
	ev := &Event{
		Source:     req.Source,
		Provider:   req.Provider,
		Type:       c.spec.Provider + "_event",
		OccurredAt: req.ReceivedAt.UTC(),
		Traits:     map[string]string{},
		Properties: map[string]any{},
	}
	var errs []string
	one := func(key string, v *value) string {
		s, err := v.first(e)
		if err != nil {
			errs = append(errs, key+": "+err.Error())
			return ""
		}
		if s == "" && v.required {
			errs = append(errs, key+": required value is missing")
		}
		return s
	}
	if t := one("event.type", c.eventType); t != "" {
		ev.Type = t
	}
	if at := one("event.occurred_at", c.occurredAt); at != "" {
		if ts, err := time.Parse(time.RFC3339Nano, at); err == nil {
			ev.OccurredAt = ts.UTC()
		}
	}
	ev.RecordKey = one("record_key", c.recordKey)
	for _, nv := range c.identities {
		v := one("identities."+nv.key, nv.v)
		switch IdentityType(nv.key) {
		case IdentityEmail:
			v = NormalizeEmail(v)
		case IdentityPhone:
			region := e.region
			if nv.v.region != nil {
				region = nv.v.regionIn(e)
			}
			p, ok := NormalizePhone(v, region)
			if ok {
				ev.addPhone(p)
				ev.Traits[nv.key] = p.E164
			}
			continue
		default:
			if IsJunk(v) {
				v = ""
			}
		}
		if v != "" {
			ev.Identities = append(ev.Identities, Identity{Type: IdentityType(nv.key), Value: v})
			if nv.key == "email" || nv.key == "phone" {
				ev.Traits[nv.key] = v
			}
		}
	}
	for _, nv := range c.traits {
		if v := one("traits."+nv.key, nv.v); v != "" {
			ev.Traits[nv.key] = v
		}
	}
	touch := &Touch{CycleSource: req.Source, At: ev.OccurredAt}
	fields := map[string]*string{
		"utm_source": &touch.Source, "utm_medium": &touch.Medium, "utm_campaign": &touch.Campaign,
		"utm_term": &touch.Term, "utm_content": &touch.Content, "gclid": &touch.Gclid, "fbclid": &touch.Fbclid,
		"li_fat_id": &touch.LiFatID, "page_url": &touch.PageURL, "referrer": &touch.Referrer,
	}
	for _, nv := range c.attribution {
		*fields[nv.key] = one("attribution."+nv.key, nv.v)
	}
	fillTouchFromURL(touch, touch.PageURL)
	fillTouchFromURL(touch, touch.Referrer)
	if !touch.Empty() {
		ev.Attribution = touch
	}
	for _, nv := range c.properties {
		if nv.v.object || nv.v.entries != nil {
			if m := nv.v.objectIn(e); m != nil {
				ev.Properties[nv.key] = m
			} else if nv.v.required {
				errs = append(errs, "properties."+nv.key+": required value is missing")
			}
			continue
		}
		vals, err := nv.v.eval(e)
		if err != nil {
			errs = append(errs, "properties."+nv.key+": "+err.Error())
			continue
		}
		var list []any
		for _, s := range vals {
			if s != "" {
				list = append(list, typedValue(s, nv.v.typed))
			}
		}
		switch {
		case len(list) == 0:
			if nv.v.required {
				errs = append(errs, "properties."+nv.key+": required value is missing")
			}
		case nv.v.all:
			ev.Properties[nv.key] = list
		default:
			ev.Properties[nv.key] = list[0]
		}
	}
	for _, cv := range c.consent {
		v := one("consent."+cv.purpose, cv.v)
		if v == "" {
			continue
		}
		b, err := boolTransform(v, nil)
		if err != nil {
			errs = append(errs, "consent."+cv.purpose+": "+err.Error())
			continue
		}
		status := ConsentDenied
		if b == "true" {
			status = ConsentGranted
		}
		ev.Consent = append(ev.Consent, ConsentChoice{Purpose: cv.purpose, Status: status, Method: cv.method})
	}
	if len(errs) > 0 {
		return nil, &UnmappableError{Reason: strings.Join(errs, "; ")}
	}
	if len(ev.Identities) == 0 {
		return nil, &UnmappableError{Reason: "no identifier (email, phone, user or external id) in the request"}
	}
	return ev, nil
}
