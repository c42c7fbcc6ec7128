package mapping

import (
	"fmt"
	"slices"
	"strings"
)

// Spec is one provider's declarative mapping: how to read its requests into
// canonical events. Specs live in configs/mappings/<provider>.yaml; a new
// form is onboarded by writing (or adapting) one, without code.
type Spec struct {
	Provider string `yaml:"provider"`
	// Description says what the provider sends and what is mapped.
	Description string   `yaml:"description"`
	Body        BodySpec `yaml:"body"`
	// Ignore lists conditions under which a request is acknowledged but
	// creates nothing (provider tests and pings).
	Ignore []Condition `yaml:"ignore"`
	// Dedup is the provider's stable delivery id; empty means the content
	// hash of the body is used within the dedup window.
	Dedup ValueSpec `yaml:"dedup"`
	// Records, when set, is the path of the array whose elements are the
	// records of a batched request; each record becomes one event and
	// record-level paths are relative to it ("$." reaches the document).
	Records string `yaml:"records"`
	// Skip lists conditions under which a record is skipped.
	Skip        []Condition          `yaml:"skip"`
	Event       EventSpec            `yaml:"event"`
	Identities  map[string]ValueSpec `yaml:"identities"`
	Traits      map[string]ValueSpec `yaml:"traits"`
	Attribution map[string]ValueSpec `yaml:"attribution"`
	Properties  map[string]ValueSpec `yaml:"properties"`
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

// Condition matches when the value equals one of the given values (or,
// with neither, when it is present).
type Condition struct {
	ValueSpec `yaml:",inline"`
	Equals    string   `yaml:"equals"`
	In        []string `yaml:"in"`
}

// ValueSpec selects and transforms one value. Exactly one source is set:
// path, coalesce, header, query, const or template.
type ValueSpec struct {
	// Path selects from the body (JSON path or form key).
	Path string `yaml:"path"`
	// Coalesce tries paths in order and takes the first non-empty value.
	Coalesce []string `yaml:"coalesce"`
	// Header reads a request header.
	Header string `yaml:"header"`
	// Query reads a query parameter of the request URL.
	Query string `yaml:"query"`
	// Const is a constant.
	Const string `yaml:"const"`
	// Template interpolates {path} placeholders: "zendesk:user:{detail.requester_id}".
	// The result is empty when any placeholder is empty.
	Template string `yaml:"template"`
	// Transforms apply in order; see Transforms().
	Transforms []string `yaml:"transforms"`
	// Lookup maps values (after transforms); unmatched values pass through
	// unless Strict.
	Lookup map[string]string `yaml:"lookup"`
	Strict bool              `yaml:"strict"`
	// Region is where a national phone number is read (an ISO code or an
	// English country name); the source's default region otherwise.
	Region *ValueSpec `yaml:"region"`
	// All keeps every selected value (a list), for properties.
	All bool `yaml:"all"`
	// Required makes a missing value an unmappable request.
	Required bool `yaml:"required"`
}

// IsZero reports an unset value spec.
func (v ValueSpec) IsZero() bool {
	return v.Path == "" && len(v.Coalesce) == 0 && v.Header == "" && v.Query == "" && v.Const == "" && v.Template == ""
}

// identityTypes are the identity keys a spec may map, by priority.
var identityTypes = []string{"user_id", "email", "phone", "external_id", "anonymous_id"}

// attributionFields are the keys of Spec.Attribution.
var attributionFields = []string{"utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "fbclid", "li_fat_id", "page_url", "referrer"}

// Compile checks the spec and compiles its paths. Every problem is
// returned, prefixed by its key.
func (s *Spec) Compile() (*Compiled, []error) {
	c := &Compiled{spec: s, paths: map[string]Path{}}
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
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
		if _, err := c.compilePath(s.Records); err != nil {
			add("records", "%v", err)
		}
	}
	check := func(key string, v ValueSpec, optional bool) {
		for _, e := range c.compileValue(v, optional) {
			add(key, "%v", e)
		}
	}
	for i, cond := range s.Ignore {
		check(fmt.Sprintf("ignore[%d]", i), cond.ValueSpec, false)
	}
	for i, cond := range s.Skip {
		check(fmt.Sprintf("skip[%d]", i), cond.ValueSpec, false)
	}
	check("dedup", s.Dedup, true)
	check("event.type", s.Event.Type, true)
	check("event.occurred_at", s.Event.OccurredAt, true)
	for _, k := range sortedKeys(s.Identities) {
		if !slices.Contains(identityTypes, k) {
			add("identities."+k, "unknown identity type (one of %s)", strings.Join(identityTypes, ", "))
		}
		check("identities."+k, s.Identities[k], false)
	}
	for _, k := range sortedKeys(s.Traits) {
		check("traits."+k, s.Traits[k], false)
	}
	for _, k := range sortedKeys(s.Attribution) {
		if !slices.Contains(attributionFields, k) {
			add("attribution."+k, "unknown attribution field (one of %s)", strings.Join(attributionFields, ", "))
		}
		check("attribution."+k, s.Attribution[k], false)
	}
	for _, k := range sortedKeys(s.Properties) {
		check("properties."+k, s.Properties[k], false)
	}
	if len(s.Identities) == 0 {
		add("identities", "at least one identity must be mapped")
	}
	return c, errs
}

func (c *Compiled) compilePath(p string) (Path, error) {
	p = strings.TrimPrefix(p, "$.")
	if cp, ok := c.paths[p]; ok {
		return cp, nil
	}
	cp, err := ParsePath(p)
	if err == nil {
		c.paths[p] = cp
	}
	return cp, err
}

func (c *Compiled) compileValue(v ValueSpec, optional bool) []error {
	var errs []error
	sources := 0
	for _, set := range []bool{v.Path != "", len(v.Coalesce) > 0, v.Header != "", v.Query != "", v.Const != "", v.Template != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0 && !optional:
		errs = append(errs, fmt.Errorf("needs one of path, coalesce, header, query, const or template"))
	case sources > 1:
		errs = append(errs, fmt.Errorf("set only one of path, coalesce, header, query, const or template"))
	}
	for _, p := range append([]string{v.Path}, v.Coalesce...) {
		if p == "" {
			continue
		}
		if _, err := c.compilePath(p); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range templateRefs(v.Template) {
		if _, err := c.compilePath(p); err != nil {
			errs = append(errs, err)
		}
	}
	for _, t := range v.Transforms {
		if _, ok := transforms[t]; !ok {
			errs = append(errs, fmt.Errorf("unknown transform %q (known: %s)", t, strings.Join(Transforms(), ", ")))
		}
	}
	if v.Region != nil {
		errs = append(errs, c.compileValue(*v.Region, false)...)
	}
	return errs
}

// templateRefs lists the {path} placeholders of a template.
func templateRefs(t string) []string {
	var refs []string
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			return refs
		}
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			return refs
		}
		refs = append(refs, t[i+1:i+j])
		t = t[i+j+1:]
	}
}
