package mapping

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Compiled is a checked Spec, ready to map requests. It is immutable and
// safe for concurrent use.
type Compiled struct {
	spec  *Spec
	paths map[string]Path
}

// Spec returns the source spec.
func (c *Compiled) Spec() *Spec { return c.spec }

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

// Ignored reports whether the request is a provider test or ping that is
// acknowledged but creates nothing.
func (c *Compiled) Ignored(doc *Document) bool {
	return c.anyCondition(c.spec.Ignore, doc, doc.root)
}

// DedupKey returns the provider's delivery id for the request, or a hash of
// its body when the provider has none ("sha256:…").
func (c *Compiled) DedupKey(doc *Document) string {
	if !c.spec.Dedup.IsZero() {
		if vals, err := c.values(c.spec.Dedup, doc, doc.root); err == nil && len(vals) > 0 && vals[0] != "" {
			return vals[0]
		}
	}
	sum := sha256.Sum256(doc.req.Body)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

func (c *Compiled) anyCondition(conds []Condition, doc *Document, rec any) bool {
	for _, cond := range conds {
		vals, err := c.values(cond.ValueSpec, doc, rec)
		if err != nil || len(vals) == 0 {
			continue
		}
		switch {
		case cond.Equals != "":
			if vals[0] == cond.Equals {
				return true
			}
		case len(cond.In) > 0:
			for _, want := range cond.In {
				if vals[0] == want {
					return true
				}
			}
		case vals[0] != "":
			return true
		}
	}
	return false
}

// Map turns a decoded request into its canonical events (one per record).
// Errors are *UnmappableError naming the field and the problem.
func (c *Compiled) Map(doc *Document, defaultRegion string) ([]*Event, error) {
	records := []any{doc.root}
	if c.spec.Records != "" {
		p, _ := c.compilePath(c.spec.Records)
		records = nil
		for _, r := range p.Eval(doc.root) {
			if arr, ok := r.([]any); ok {
				records = append(records, arr...)
				continue
			}
			records = append(records, r)
		}
	}
	var events []*Event
	for i, rec := range records {
		if c.anyCondition(c.spec.Skip, doc, rec) {
			continue
		}
		ev, err := c.mapRecord(doc, rec, defaultRegion)
		if err != nil {
			if len(records) > 1 {
				return nil, &UnmappableError{Reason: fmt.Sprintf("record %d: %s", i, err.(*UnmappableError).Reason)}
			}
			return nil, err
		}
		events = append(events, ev)
	}
	if len(events) == 0 {
		return nil, &UnmappableError{Reason: "the request holds no record to map"}
	}
	return events, nil
}

func (c *Compiled) mapRecord(doc *Document, rec any, region string) (*Event, error) {
	s := c.spec
	ev := &Event{
		Source:     doc.req.Source,
		Provider:   doc.req.Provider,
		Type:       s.Provider + "_event",
		OccurredAt: doc.req.ReceivedAt.UTC(),
		Traits:     map[string]string{},
		Properties: map[string]any{},
	}
	var errs []string
	one := func(key string, v ValueSpec) string {
		vals, err := c.valuesIn(v, doc, rec, region)
		if err != nil {
			errs = append(errs, key+": "+err.Error())
			return ""
		}
		if len(vals) == 0 || vals[0] == "" {
			if v.Required {
				errs = append(errs, key+": required value is missing")
			}
			return ""
		}
		return vals[0]
	}
	if t := one("event.type", s.Event.Type); t != "" {
		ev.Type = t
	}
	if at := one("event.occurred_at", s.Event.OccurredAt); at != "" {
		if ts, err := time.Parse(time.RFC3339Nano, at); err == nil {
			ev.OccurredAt = ts.UTC()
		}
	}
	for _, typ := range identityTypes {
		spec, ok := s.Identities[typ]
		if !ok {
			continue
		}
		v := one("identities."+typ, spec)
		switch IdentityType(typ) {
		case IdentityEmail:
			v = NormalizeEmail(v)
		case IdentityPhone:
			if p, ok := NormalizePhone(v, c.region(spec, doc, rec, region)); ok {
				v = p.E164
			} else {
				v = ""
			}
		default:
			if IsJunk(v) {
				v = ""
			}
		}
		if v != "" {
			ev.Identities = append(ev.Identities, Identity{Type: IdentityType(typ), Value: v})
			if typ == "email" || typ == "phone" {
				ev.Traits[typ] = v
			}
		}
	}
	for _, k := range sortedKeys(s.Traits) {
		if v := one("traits."+k, s.Traits[k]); v != "" {
			ev.Traits[k] = v
		}
	}
	touch := &Touch{CycleSource: doc.req.Source, At: ev.OccurredAt}
	fields := map[string]*string{
		"utm_source": &touch.Source, "utm_medium": &touch.Medium, "utm_campaign": &touch.Campaign,
		"utm_term": &touch.Term, "utm_content": &touch.Content, "gclid": &touch.Gclid, "fbclid": &touch.Fbclid,
		"li_fat_id": &touch.LiFatID, "page_url": &touch.PageURL, "referrer": &touch.Referrer,
	}
	for _, k := range sortedKeys(s.Attribution) {
		*fields[k] = one("attribution."+k, s.Attribution[k])
	}
	fillTouchFromURL(touch, touch.PageURL)
	fillTouchFromURL(touch, touch.Referrer)
	if !touch.Empty() {
		ev.Attribution = touch
	}
	for _, k := range sortedKeys(s.Properties) {
		spec := s.Properties[k]
		vals, err := c.valuesIn(spec, doc, rec, region)
		if err != nil {
			errs = append(errs, "properties."+k+": "+err.Error())
			continue
		}
		switch {
		case len(vals) == 0 || (len(vals) == 1 && vals[0] == ""):
			if spec.Required {
				errs = append(errs, "properties."+k+": required value is missing")
			}
		case spec.All:
			list := make([]any, 0, len(vals))
			for _, v := range vals {
				if v != "" {
					list = append(list, typedValue(v, spec.Transforms))
				}
			}
			ev.Properties[k] = list
		default:
			ev.Properties[k] = typedValue(vals[0], spec.Transforms)
		}
	}
	if len(errs) > 0 {
		return nil, &UnmappableError{Reason: strings.Join(errs, "; ")}
	}
	if len(ev.Identities) == 0 {
		return nil, &UnmappableError{Reason: "no identifier (email, phone, user or external id) in the request"}
	}
	return ev, nil
}

// region resolves where a national phone number is read.
func (c *Compiled) region(v ValueSpec, doc *Document, rec any, def string) string {
	if v.Region == nil {
		return def
	}
	vals, err := c.values(*v.Region, doc, rec)
	if err != nil || len(vals) == 0 {
		return def
	}
	if code := CountryCode(vals[0]); code != "" {
		return code
	}
	return def
}

// values evaluates v without a default region.
func (c *Compiled) values(v ValueSpec, doc *Document, rec any) ([]string, error) {
	return c.valuesIn(v, doc, rec, "")
}

// valuesIn evaluates a value spec: its source, then transforms and lookup.
func (c *Compiled) valuesIn(v ValueSpec, doc *Document, rec any, region string) ([]string, error) {
	raw := c.source(v, doc, rec)
	if len(raw) == 0 {
		return nil, nil
	}
	ctx := &transformCtx{region: c.region(v, doc, rec, region)}
	out := raw[:0:0]
	for _, s := range raw {
		s = CleanText(s)
		for _, name := range v.Transforms {
			var err error
			if s, err = transforms[name](s, ctx); err != nil {
				return nil, err
			}
			if s == "" {
				break
			}
		}
		if v.Lookup != nil && s != "" {
			if m, ok := v.Lookup[s]; ok {
				s = m
			} else if v.Strict {
				return nil, fmt.Errorf("%q is not one of the mapped values", truncate(s, 40))
			}
		}
		out = append(out, s)
		if !v.All {
			break
		}
	}
	return out, nil
}

func (c *Compiled) source(v ValueSpec, doc *Document, rec any) []string {
	switch {
	case v.Const != "":
		return []string{v.Const}
	case v.Header != "":
		if h := doc.req.Header(v.Header); h != "" {
			return []string{h}
		}
		return nil
	case v.Query != "":
		q, _ := url.ParseQuery(doc.req.Query)
		if s := q.Get(v.Query); s != "" {
			return []string{s}
		}
		return nil
	case v.Path != "":
		return c.eval(v.Path, doc, rec, v.All)
	case len(v.Coalesce) > 0:
		for _, p := range v.Coalesce {
			if vals := c.eval(p, doc, rec, v.All); len(vals) > 0 && CleanText(vals[0]) != "" {
				return vals
			}
		}
		return nil
	case v.Template != "":
		out := v.Template
		for _, ref := range templateRefs(v.Template) {
			vals := c.eval(ref, doc, rec, false)
			if len(vals) == 0 || CleanText(vals[0]) == "" {
				return nil
			}
			out = strings.Replace(out, "{"+ref+"}", CleanText(vals[0]), 1)
		}
		return []string{out}
	}
	return nil
}

// eval selects scalar values; "$." paths start at the document root.
func (c *Compiled) eval(raw string, doc *Document, rec any, all bool) []string {
	from := rec
	if strings.HasPrefix(raw, "$.") {
		from = doc.root
	}
	p, err := c.compilePath(raw)
	if err != nil {
		return nil
	}
	var out []string
	for _, v := range p.Eval(from) {
		switch x := v.(type) {
		case map[string]any:
			continue
		case []any:
			// A list of scalars (checkboxes, Meta's values[]): its elements.
			for _, e := range x {
				if _, isObj := e.(map[string]any); !isObj && e != nil {
					out = append(out, ScalarString(e))
				}
			}
		case nil:
			continue
		default:
			out = append(out, ScalarString(x))
		}
		if !all && len(out) > 0 {
			break
		}
	}
	return out
}
