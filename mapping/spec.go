package mapping

import (
	"fmt"
	"slices"
	"strings"
)

// Spec is one provider's declarative mapping: how to read its requests into
// canonical events. Specs live in configs/mappings/<provider>.yaml; a new
// form is onboarded by writing (or adapting) one, without code. Values are
// read with selectors (see selector): body paths, headers, query
// parameters and fetched documents.
type Spec struct {
	Provider string `yaml:"provider"`
	// Description says what the provider sends and what is mapped.
	Description string   `yaml:"description"`
	Body        BodySpec `yaml:"body"`
	// Ignore lists conditions under which a request is acknowledged but
	// creates nothing (provider tests and pings).
	Ignore []Condition `yaml:"ignore"`
	// Dedup is the provider's stable delivery id; empty means the content
	// hash of the body is used within the dedup window. With all, every
	// value is part of the key (a batch's event ids).
	Dedup ValueSpec `yaml:"dedup"`
	// Records, when set, is the path of the array whose elements are the
	// records of a batched request; each record becomes one event and
	// record-level paths are relative to it ("$." reaches the document).
	Records string `yaml:"records"`
	// RecordKey is a batched record's own stable id (HubSpot's eventId): a
	// record already applied under this key is never applied again, even
	// when the provider re-batches it into another request.
	RecordKey ValueSpec `yaml:"record_key"`
	// Skip lists conditions under which a record is skipped: acknowledged,
	// with no effect (a test lead, an event of no interest).
	Skip []Condition `yaml:"skip"`
	// Vars are values computed per record, read as "$vars.<name>" (an id
	// cut out of a URN for a fetch URL, …). They may read fetched documents
	// but not each other.
	Vars map[string]ValueSpec `yaml:"vars"`
	// APIBase is the provider's API (https://graph.facebook.com); a
	// source's api_base overrides it (tests point it at a local server).
	// Empty for per-account APIs (https://<subdomain>.zendesk.com): the
	// source must then set it.
	APIBase string `yaml:"api_base"`
	// Fetch lists API calls made for each record, in order, before it is
	// mapped, for providers whose webhooks carry only ids. A fetched
	// document is read with selectors starting "$<name>.".
	Fetch []FetchSpec `yaml:"fetch"`
	// Views are documents computed from fetched ones by a built-in
	// function (joining LinkedIn answers to their form's questions, …),
	// read as "$<name>.".
	Views       map[string]ViewSpec  `yaml:"views"`
	Event       EventSpec            `yaml:"event"`
	Identities  map[string]ValueSpec `yaml:"identities"`
	Traits      map[string]ValueSpec `yaml:"traits"`
	Attribution map[string]ValueSpec `yaml:"attribution"`
	Properties  map[string]ValueSpec `yaml:"properties"`
	// Consent maps a purpose (email_marketing, sms_marketing, …) to the
	// explicit choice the request carries: a value read as a boolean
	// (granted or denied); absent means no choice was made.
	Consent map[string]ConsentSpec `yaml:"consent"`
}

// ConsentSpec reads one consent purpose.
type ConsentSpec struct {
	ValueSpec `yaml:",inline"`
	// Method says how the choice was expressed (form_checkbox,
	// unsubscribe_link, double_opt_in, …).
	Method string `yaml:"method"`
}

// FetchSpec is one API call per record.
type FetchSpec struct {
	Name string `yaml:"name"`
	// URL is a template relative to the API base:
	// "/v21.0/{value.leadgen_id}?fields=…". Placeholder values are
	// path-escaped.
	URL string `yaml:"url"`
	// When limits the call to records it holds for (deal events fetch the
	// deal, contact events the contact).
	When *Condition `yaml:"when"`
	// Auth is how the source's api_token is sent: bearer (default),
	// header:<Name>, query:<param> or basic (token as the user name, or
	// "user:password").
	Auth string `yaml:"auth"`
	// Headers are sent as they are (LinkedIn-Version, …).
	Headers map[string]string `yaml:"headers"`
	// Optional makes a 404 an absent document instead of a failure.
	Optional bool `yaml:"optional"`
}

// ViewSpec computes a document with a built-in function from fetched
// documents (named in From, in the order the function takes them).
type ViewSpec struct {
	Func string   `yaml:"func"`
	From []string `yaml:"from"`
}

// BodySpec says how to decode the body.
type BodySpec struct {
	// Format is json, form (urlencoded or multipart; JSON labelled as a form
	// is recognized), or auto (by Content-Type).
	Format string `yaml:"format"`
	// JSONFields are form fields whose value is JSON text (Unbounce's
	// data.json, Jotform's rawRequest): they are decoded in place.
	JSONFields []string `yaml:"json_fields"`
}

// EventSpec names the event and when it happened.
type EventSpec struct {
	Type       ValueSpec `yaml:"type"`
	OccurredAt ValueSpec `yaml:"occurred_at"`
}

// Condition tests one value: equals, in, not_in, absent, or (with none of
// them) that it is present.
type Condition struct {
	ValueSpec `yaml:",inline"`
	Equals    string   `yaml:"equals"`
	In        []string `yaml:"in"`
	NotIn     []string `yaml:"not_in"`
	Absent    bool     `yaml:"absent"`
}

// ValueSpec selects and transforms one value. Exactly one source is set:
// path, coalesce, first_of, header, query, const or template.
type ValueSpec struct {
	// Path is a selector (a body path, $.root path, $doc path, header:X or
	// query:x).
	Path string `yaml:"path"`
	// Coalesce tries selectors in order and takes the first non-empty value.
	Coalesce []string `yaml:"coalesce"`
	// Header reads a request header (same as path: "header:Name").
	Header string `yaml:"header"`
	// Query reads a query parameter of the request URL.
	Query string `yaml:"query"`
	// Const is a constant.
	Const string `yaml:"const"`
	// FirstOf tries whole value specs in order (each with its own when and
	// transforms) and takes the first that gives a value.
	FirstOf []ValueSpec `yaml:"first_of"`
	// Template interpolates {selector} placeholders, each with '|'
	// alternatives: "zendesk:user:{detail.requester_id|requester.id}".
	// The result is empty when a placeholder has no value.
	Template string `yaml:"template"`
	// When makes the value absent unless the condition holds.
	When *Condition `yaml:"when"`
	// Transforms apply in order; see Transforms().
	Transforms []string `yaml:"transforms"`
	// Lookup maps values (after transforms); unmatched values take the
	// "*" entry if there is one, else pass through unless Strict.
	Lookup map[string]string `yaml:"lookup"`
	Strict bool              `yaml:"strict"`
	// Default is the value when nothing else gives one.
	Default string `yaml:"default"`
	// Region is where a national phone number is read and a name is split
	// (an ISO code, a country name or a locale); the source's default
	// region otherwise.
	Region *ValueSpec `yaml:"region"`
	// All keeps every selected value (a list), for properties.
	All bool `yaml:"all"`
	// Object keeps the selected object as it is (a property holding a
	// form's answers by name).
	Object bool `yaml:"object"`
	// Entries turns a selected array of {key, value} elements into one
	// object (Meta's field_data by name, Typeform's answers by ref).
	Entries *EntriesSpec `yaml:"entries"`
	// Required makes a missing value an unmappable request.
	Required bool `yaml:"required"`
}

// IsZero reports an unset value spec.
func (v ValueSpec) IsZero() bool {
	return v.Path == "" && len(v.Coalesce) == 0 && len(v.FirstOf) == 0 && v.Header == "" && v.Query == "" &&
		v.Const == "" && v.Template == ""
}

// EntriesSpec names, relative to each element, the path of its key and of
// its value (a list of several values stays a list).
type EntriesSpec struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
}

// identityTypes are the identity keys a spec may map, by priority.
var identityTypes = []string{"user_id", "email", "phone", "external_id", "anonymous_id"}

// attributionFields are the keys of Spec.Attribution.
var attributionFields = []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "fbclid", "li_fat_id", "page_url", "referrer"}

// namedValue is a compiled value under its key.
type namedValue struct {
	key string
	v   *value
}

// consentValue is a compiled ConsentSpec.
type consentValue struct {
	purpose, method string
	v               *value
}

// fetch is a compiled FetchSpec.
type fetch struct {
	spec FetchSpec
	url  template
	when *condition
}

// view is a compiled ViewSpec.
type view struct {
	name string
	fn   viewFunc
	from []string
}

// Compile checks the spec and compiles it. Every problem is returned,
// prefixed by its key.
func (s *Spec) Compile() (*Compiled, []error) {
	c := &Compiled{spec: s}
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	// docs are the document names selectors may read, growing as fetches
	// are declared (a fetch may use the documents fetched before it).
	docs := map[string]bool{}
	checkDocs := func(key string, sels []selector) {
		for _, sel := range sels {
			if n := sel.docName(); n != "" && !docs[n] {
				add(key, "selector %q reads $%s, which no earlier fetch or view defines", sel.raw, n)
			}
		}
	}
	val := func(key string, v ValueSpec, optional bool) *value {
		cv, verrs := compileValue(v, optional)
		for _, e := range verrs {
			add(key, "%v", e)
		}
		return cv
	}
	cond := func(key string, cs []Condition) []*condition {
		var out []*condition
		for i, cd := range cs {
			k := fmt.Sprintf("%s[%d]", key, i)
			cc, cerrs := compileCondition(cd)
			for _, e := range cerrs {
				add(k, "%v", e)
			}
			checkDocs(k, cc.val.selectors())
			out = append(out, cc)
		}
		return out
	}

	if s.Provider == "" {
		add("provider", "must be set")
	}
	switch s.Body.Format {
	case "json", "form", "auto":
	case "":
		s.Body.Format = "auto"
	default:
		add("body.format", "must be json, form or auto; got %q", s.Body.Format)
	}
	if s.Records != "" {
		sel, err := parseSelector(s.Records)
		switch {
		case err != nil:
			add("records", "%v", err)
		case sel.kind != selRecord && sel.kind != selRoot:
			add("records", "must be a body path, got %q", s.Records)
		default:
			sel.kind = selRoot
			c.records = &sel
		}
	}
	c.ignore = cond("ignore", s.Ignore)
	c.dedup = val("dedup", s.Dedup, true)
	checkDocs("dedup", c.dedup.selectors())
	if !s.RecordKey.IsZero() && s.Records == "" {
		add("record_key", "needs records (a key per record of a batched request)")
	}
	c.recordKey = val("record_key", s.RecordKey, true)
	checkDocs("record_key", c.recordKey.selectors())

	for _, k := range sortedKeys(s.Vars) {
		if !isSimpleName(k) {
			add("vars."+k, "must be a simple name (letters, digits, _)")
		}
		c.vars = append(c.vars, namedValue{k, val("vars."+k, s.Vars[k], false)})
	}
	docs["vars"] = true
	names := map[string]bool{"vars": true}
	for i, f := range s.Fetch {
		key := fmt.Sprintf("fetch[%d]", i)
		switch {
		case !isSimpleName(f.Name):
			add(key+".name", "must be a simple name (letters, digits, _), read as $<name>.")
		case names[f.Name]:
			add(key+".name", "%q is used twice", f.Name)
		}
		names[f.Name] = true
		cf := &fetch{spec: f}
		if !strings.HasPrefix(f.URL, "/") {
			add(key+".url", "must be a path starting with / (the API base comes from the source)")
		}
		if t, err := parseTemplate(f.URL); err != nil {
			add(key+".url", "%v", err)
		} else {
			cf.url = t
			checkDocs(key+".url", t.selectors())
		}
		if f.When != nil {
			cc, cerrs := compileCondition(*f.When)
			for _, e := range cerrs {
				add(key+".when", "%v", e)
			}
			checkDocs(key+".when", cc.val.selectors())
			cf.when = cc
		}
		if a := f.Auth; a != "" && a != "bearer" && a != "basic" &&
			!(strings.HasPrefix(a, "header:") && len(a) > len("header:")) &&
			!(strings.HasPrefix(a, "query:") && len(a) > len("query:")) {
			add(key+".auth", "must be bearer, basic, header:<Name> or query:<param>; got %q", a)
		}
		docs[f.Name] = true
		c.fetches = append(c.fetches, cf)
	}
	for _, name := range sortedKeys(s.Views) {
		vs := s.Views[name]
		key := "views." + name
		fn, ok := viewFuncs[vs.Func]
		switch {
		case !isSimpleName(name) || names[name]:
			add(key, "must be a simple name not used by a fetch")
		case !ok:
			add(key+".func", "unknown view function %q (known: %s)", vs.Func, strings.Join(ViewFuncs(), ", "))
		}
		for _, from := range vs.From {
			if !names[from] {
				add(key+".from", "%q is not a fetch name", from)
			}
		}
		c.views = append(c.views, &view{name: name, fn: fn, from: vs.From})
	}
	for _, nv := range c.vars {
		for _, sel := range nv.v.selectors() {
			if sel.docName() == "vars" {
				add("vars."+nv.key, "selector %q: vars may not read other vars", sel.raw)
			} else if n := sel.docName(); n != "" && !docs[n] {
				add("vars."+nv.key, "selector %q reads $%s, which no fetch or view defines", sel.raw, n)
			}
		}
	}
	for _, v := range c.views {
		docs[v.name] = true
	}
	c.skip = cond("skip", s.Skip)

	c.eventType = val("event.type", s.Event.Type, true)
	checkDocs("event.type", c.eventType.selectors())
	c.occurredAt = val("event.occurred_at", s.Event.OccurredAt, true)
	checkDocs("event.occurred_at", c.occurredAt.selectors())
	section := func(prefix, what string, m map[string]ValueSpec, allowed []string) []namedValue {
		var out []namedValue
		keys := sortedKeys(m)
		if allowed != nil {
			keys = nil
			for _, k := range allowed {
				if _, ok := m[k]; ok {
					keys = append(keys, k)
				}
			}
			for _, k := range sortedKeys(m) {
				if !slices.Contains(allowed, k) {
					add(prefix+"."+k, "unknown %s (one of %s)", what, strings.Join(allowed, ", "))
				}
			}
		}
		for _, k := range keys {
			v := val(prefix+"."+k, m[k], false)
			checkDocs(prefix+"."+k, v.selectors())
			out = append(out, namedValue{k, v})
		}
		return out
	}
	c.identities = section("identities", "identity type", s.Identities, identityTypes)
	c.traits = section("traits", "", s.Traits, nil)
	c.attribution = section("attribution", "attribution field", s.Attribution, attributionFields)
	c.properties = section("properties", "", s.Properties, nil)
	for _, k := range sortedKeys(s.Consent) {
		cs := s.Consent[k]
		if !isSimpleName(k) {
			add("consent."+k, "a purpose is a simple name (email_marketing)")
		}
		if cs.Method == "" {
			add("consent."+k+".method", "must say how the choice is made (form_checkbox, unsubscribe_link, …)")
		}
		v := val("consent."+k, cs.ValueSpec, false)
		checkDocs("consent."+k, v.selectors())
		c.consent = append(c.consent, consentValue{purpose: k, method: cs.Method, v: v})
	}
	for _, sec := range []struct {
		name string
		vals []namedValue
	}{{"identities", c.identities}, {"traits", c.traits}, {"attribution", c.attribution}} {
		for _, nv := range sec.vals {
			if nv.v.object || nv.v.entries != nil {
				add(sec.name+"."+nv.key, "object and entries are for properties only")
			}
		}
	}
	if len(s.Identities) == 0 {
		add("identities", "at least one identity must be mapped")
	}
	return c, errs
}
