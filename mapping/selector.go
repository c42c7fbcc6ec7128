package mapping

import (
	"fmt"
	"net/url"
	"strings"
)

// A selector names where one value comes from. Its syntax, used by path,
// coalesce, conditions, and inside template and fetch placeholders:
//
//	a.b[0].c         a path from the current record (the body when the
//	                 request is not batched); see Path for the syntax
//	$.a.b            a path from the body's root, whatever the record
//	$lead.a.b        a path into the document named lead: a fetched API
//	                 response or a view (see Spec.Fetch and Spec.Views)
//	header:Name      a request header (kept headers only)
//	query:name       a query parameter of the request URL
//
// Inside {…} placeholders, several selectors separated by '|' are tried in
// order and the first non-empty value wins: "{detail.requester_id|requester.id}".
type selector struct {
	raw  string
	kind selectorKind
	name string // header, query parameter or document name
	path Path
}

type selectorKind int

const (
	selRecord selectorKind = iota
	selRoot
	selDoc
	selHeader
	selQuery
)

func parseSelector(raw string) (selector, error) {
	s := strings.TrimSpace(raw)
	sel := selector{raw: s}
	var p string
	switch {
	case s == "":
		return sel, fmt.Errorf("empty selector")
	case strings.HasPrefix(s, "header:"):
		sel.kind, sel.name = selHeader, strings.TrimSpace(strings.TrimPrefix(s, "header:"))
		if sel.name == "" {
			return sel, fmt.Errorf("selector %q: header name missing", s)
		}
		return sel, nil
	case strings.HasPrefix(s, "query:"):
		sel.kind, sel.name = selQuery, strings.TrimSpace(strings.TrimPrefix(s, "query:"))
		if sel.name == "" {
			return sel, fmt.Errorf("selector %q: query parameter name missing", s)
		}
		return sel, nil
	case s == "$":
		return sel, fmt.Errorf("selector %q: a path must follow $", s)
	case strings.HasPrefix(s, "$."):
		sel.kind, p = selRoot, s[2:]
	case strings.HasPrefix(s, "$"):
		name, rest, _ := strings.Cut(s[1:], ".")
		if !isSimpleName(name) {
			return sel, fmt.Errorf("selector %q: $%s is not a document name", s, name)
		}
		sel.kind, sel.name, p = selDoc, name, rest
		if p == "" {
			// The whole document: only useful in conditions ("was it fetched").
			return sel, nil
		}
	default:
		sel.kind, p = selRecord, s
	}
	path, err := ParsePath(p)
	if err != nil {
		return sel, err
	}
	sel.path = path
	return sel, nil
}

// isSimpleName reports a name usable as $name: letters, digits and '_'.
func isSimpleName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// docName returns the document a selector reads, or "".
func (s selector) docName() string {
	if s.kind == selDoc {
		return s.name
	}
	return ""
}

// env is what selectors read: one record of one request, and the named
// documents (fetched responses and views) of that record.
type env struct {
	doc    *Document
	rec    any
	docs   map[string]any
	region string
	query  url.Values
}

func newEnv(doc *Document, rec any, docs map[string]any, region string) *env {
	return &env{doc: doc, rec: rec, docs: docs, region: region}
}

// eval returns the scalar values the selector picks (all of them, or the
// first when !all). Objects are skipped; a list of scalars gives its
// elements.
func (e *env) eval(s selector, all bool) []string {
	switch s.kind {
	case selHeader:
		if h := e.doc.req.Header(s.name); h != "" {
			return []string{h}
		}
		return nil
	case selQuery:
		if e.query == nil {
			e.query, _ = url.ParseQuery(e.doc.req.Query)
		}
		if v := e.query.Get(s.name); v != "" {
			return []string{v}
		}
		return nil
	}
	from, ok := e.root(s)
	if !ok {
		return nil
	}
	if s.kind == selDoc && len(s.path.segs) == 0 {
		if from == nil {
			return nil
		}
		return []string{"true"}
	}
	return scalars(s.path.Eval(from), all)
}

// raw returns the values a path selector picks, unconverted (objects
// and lists included); nil for headers and query parameters.
func (e *env) raw(s selector) []any {
	if s.kind == selHeader || s.kind == selQuery {
		return nil
	}
	from, ok := e.root(s)
	if !ok {
		return nil
	}
	if len(s.path.segs) == 0 {
		return []any{from} // "$doc": the whole document
	}
	return s.path.Eval(from)
}

// root is the value a selector's path starts from.
func (e *env) root(s selector) (any, bool) {
	switch s.kind {
	case selRoot:
		return e.doc.root, true
	case selDoc:
		d, ok := e.docs[s.name]
		return d, ok
	default:
		return e.rec, true
	}
}

// scalars turns selected values into strings: objects are skipped, a list
// of scalars (checkboxes, Meta's values[]) gives its elements.
func scalars(vals []any, all bool) []string {
	var out []string
	for _, v := range vals {
		switch x := v.(type) {
		case map[string]any, nil:
			continue
		case []any:
			for _, e := range x {
				switch e.(type) {
				case map[string]any, []any, nil:
				default:
					out = append(out, ScalarString(e))
				}
			}
		default:
			out = append(out, ScalarString(x))
		}
		if !all && len(out) > 0 {
			return out[:1]
		}
	}
	return out
}

// template is a string with {selector|selector…} placeholders.
type template struct {
	raw   string
	lits  []string     // len(lits) == len(slots)+1
	slots [][]selector // alternatives per placeholder
}

func parseTemplate(raw string) (template, error) {
	t := template{raw: raw}
	rest := raw
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return t, fmt.Errorf("template %q: '}' without '{'", raw)
			}
			t.lits = append(t.lits, rest)
			return t, nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return t, fmt.Errorf("template %q: unclosed '{'", raw)
		}
		t.lits = append(t.lits, rest[:i])
		var alts []selector
		for _, a := range strings.Split(rest[i+1:i+j], "|") {
			sel, err := parseSelector(a)
			if err != nil {
				return t, fmt.Errorf("template %q: %w", raw, err)
			}
			alts = append(alts, sel)
		}
		t.slots = append(t.slots, alts)
		rest = rest[i+j+1:]
	}
}

// render fills the placeholders; ok is false when one of them is empty.
// escape, when set, is applied to each placeholder value.
func (t template) render(e *env, escape func(string) string) (string, bool) {
	var b strings.Builder
	for i, alts := range t.slots {
		b.WriteString(t.lits[i])
		v := ""
		for _, sel := range alts {
			if vals := e.eval(sel, false); len(vals) > 0 {
				if v = CleanText(vals[0]); v != "" {
					break
				}
			}
		}
		if v == "" {
			return "", false
		}
		if escape != nil {
			v = escape(v)
		}
		b.WriteString(v)
	}
	b.WriteString(t.lits[len(t.lits)-1])
	return b.String(), true
}

// selectors lists every selector of the template.
func (t template) selectors() []selector {
	var out []selector
	for _, alts := range t.slots {
		out = append(out, alts...)
	}
	return out
}
