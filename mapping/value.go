package mapping

import (
	"errors"
	"fmt"
	"strings"
)

// value is a compiled ValueSpec.
type value struct {
	sources    []selector // path, or coalesce alternatives in order
	firstOf    []*value
	tmpl       *template
	konst      string
	def        string
	transforms []transform
	lookup     map[string]string
	strict     bool
	region     *value
	when       *condition
	all        bool
	required   bool
	// typed is the JSON type a property takes from its last transform.
	typed string
	// object and entries build an object property (see ValueSpec).
	object  bool
	entries *entries
}

type entries struct{ key, value Path }

// condition is a compiled Condition.
type condition struct {
	val    *value
	equals *string
	in     []string
	notIn  []string
	absent bool
}

// compileValue checks and compiles v; every problem is returned. optional
// allows a spec with no source (an unset dedup or occurred_at).
func compileValue(v ValueSpec, optional bool) (*value, []error) {
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	cv := &value{konst: v.Const, def: v.Default, lookup: v.Lookup, strict: v.Strict, all: v.All, required: v.Required}
	sources := 0
	for _, set := range []bool{v.Path != "", len(v.Coalesce) > 0, len(v.FirstOf) > 0, v.Header != "", v.Query != "", v.Const != "", v.Template != ""} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0 && !optional:
		add(errors.New("needs one of path, coalesce, first_of, header, query, const or template"))
	case sources > 1:
		add(errors.New("set only one of path, coalesce, first_of, header, query, const or template"))
	}
	for i, sub := range v.FirstOf {
		sv, serrs := compileValue(sub, false)
		for _, e := range serrs {
			add(fmt.Errorf("first_of[%d]: %w", i, e))
		}
		cv.firstOf = append(cv.firstOf, sv)
	}
	paths := v.Coalesce
	switch {
	case v.Path != "":
		paths = []string{v.Path}
	case v.Header != "":
		paths = []string{"header:" + v.Header}
	case v.Query != "":
		paths = []string{"query:" + v.Query}
	}
	for _, p := range paths {
		sel, err := parseSelector(p)
		if err != nil {
			add(err)
			continue
		}
		cv.sources = append(cv.sources, sel)
	}
	if v.Template != "" {
		t, err := parseTemplate(v.Template)
		if err != nil {
			add(err)
		} else {
			cv.tmpl = &t
		}
	}
	for _, name := range v.Transforms {
		t, err := compileTransform(name)
		if err != nil {
			add(err)
			continue
		}
		cv.transforms = append(cv.transforms, t)
	}
	if n := len(v.Transforms); n > 0 {
		cv.typed, _, _ = strings.Cut(v.Transforms[n-1], ":")
	}
	cv.object = v.Object
	if v.Entries != nil {
		kp, kerr := ParsePath(v.Entries.Key)
		vp, verr := ParsePath(v.Entries.Value)
		if kerr != nil || verr != nil {
			add(fmt.Errorf("entries: key and value must be paths: %v", errors.Join(kerr, verr)))
		}
		cv.entries = &entries{key: kp, value: vp}
	}
	if (v.Object || v.Entries != nil) && (v.Object && v.Entries != nil || len(cv.sources) == 0 || len(v.Transforms) > 0 || v.All) {
		add(errors.New("object and entries take one path or coalesce, without all or transforms, and not both"))
	}
	if v.Region != nil {
		r, rerrs := compileValue(*v.Region, false)
		for _, e := range rerrs {
			add(fmt.Errorf("region: %w", e))
		}
		cv.region = r
	}
	if v.When != nil {
		c, cerrs := compileCondition(*v.When)
		for _, e := range cerrs {
			add(fmt.Errorf("when: %w", e))
		}
		cv.when = c
	}
	return cv, errs
}

func compileCondition(c Condition) (*condition, []error) {
	v, errs := compileValue(c.ValueSpec, false)
	cc := &condition{val: v, in: c.In, notIn: c.NotIn, absent: c.Absent}
	if c.Equals != "" {
		eq := c.Equals
		cc.equals = &eq
	}
	tests := 0
	for _, set := range []bool{c.Equals != "", len(c.In) > 0, len(c.NotIn) > 0, c.Absent} {
		if set {
			tests++
		}
	}
	if tests > 1 {
		errs = append(errs, errors.New("set at most one of equals, in, not_in or absent"))
	}
	return cc, errs
}

// holds evaluates the condition: equals / in / not_in compare the first
// value; absent holds when there is none; with no test, a value must be
// present.
func (c *condition) holds(e *env) bool {
	vals, err := c.val.eval(e)
	v := ""
	if err == nil {
		v = firstNonEmptyOf(vals)
	}
	switch {
	case c.absent:
		return v == ""
	case c.equals != nil:
		return v == *c.equals
	case len(c.in) > 0:
		return v != "" && contains(c.in, v)
	case len(c.notIn) > 0:
		return v != "" && !contains(c.notIn, v)
	}
	return v != ""
}

func anyHolds(conds []*condition, e *env) bool {
	for _, c := range conds {
		if c.holds(e) {
			return true
		}
	}
	return false
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// eval returns the value's results after transforms and lookup: one value
// (or none), or every value when the spec says all. "" entries mean a value
// that a transform emptied.
func (v *value) eval(e *env) ([]string, error) {
	if v.when != nil && !v.when.holds(e) {
		return nil, nil
	}
	raw := v.source(e)
	ctx := &transformCtx{region: e.region}
	if v.region != nil {
		ctx.region = v.regionIn(e)
	}
	var out []string
	for _, s := range raw {
		vals := []string{CleanText(s)}
		for _, t := range v.transforms {
			var err error
			if vals, err = t.apply(vals, ctx); err != nil {
				return nil, err
			}
			if len(vals) == 0 {
				break
			}
		}
		for _, s := range vals {
			if v.lookup != nil && s != "" {
				if m, ok := v.lookup[s]; ok {
					s = m
				} else if m, ok := v.lookup["*"]; ok {
					s = m
				} else if v.strict {
					return nil, fmt.Errorf("%q is not one of the mapped values", truncate(s, 40))
				}
			}
			out = append(out, s)
		}
		if !v.all && firstNonEmptyOf(out) != "" {
			break
		}
	}
	if v.def != "" && firstNonEmptyOf(out) == "" {
		return []string{v.def}, nil
	}
	if !v.all {
		if f := firstNonEmptyOf(out); f != "" {
			return []string{f}, nil
		}
	}
	return out, nil
}

// first returns the value's first non-empty result.
func (v *value) first(e *env) (string, error) {
	vals, err := v.eval(e)
	return firstNonEmptyOf(vals), err
}

func firstNonEmptyOf(vals []string) string {
	for _, s := range vals {
		if s != "" {
			return s
		}
	}
	return ""
}

func (v *value) source(e *env) []string {
	switch {
	case v.konst != "":
		return []string{v.konst}
	case v.tmpl != nil:
		if s, ok := v.tmpl.render(e, nil); ok {
			return []string{s}
		}
		return nil
	case v.firstOf != nil:
		for _, sub := range v.firstOf {
			if vals, err := sub.eval(e); err == nil && firstNonEmptyOf(vals) != "" {
				return vals
			}
		}
		return nil
	}
	for _, sel := range v.sources {
		if vals := e.eval(sel, v.all); firstNonEmptyOf(cleanAll(vals)) != "" {
			return vals
		}
	}
	return nil
}

func cleanAll(vals []string) []string {
	out := vals[:0:0]
	for _, s := range vals {
		out = append(out, CleanText(s))
	}
	return out
}

// regionIn resolves where national phone numbers (and names) are read:
// the region value's country, else the default region.
func (v *value) regionIn(e *env) string {
	s, err := v.region.first(e)
	if err == nil {
		if code := CountryCode(s); code != "" {
			return code
		}
	}
	return e.region
}

// selectors lists every selector the value reads (for compile checks).
func (v *value) selectors() []selector {
	out := append([]selector(nil), v.sources...)
	if v.tmpl != nil {
		out = append(out, v.tmpl.selectors()...)
	}
	if v.region != nil {
		out = append(out, v.region.selectors()...)
	}
	if v.when != nil {
		out = append(out, v.when.val.selectors()...)
	}
	for _, sub := range v.firstOf {
		out = append(out, sub.selectors()...)
	}
	return out
}

// objectIn builds an object property: the first selected object, or the
// selected array's entries. nil when there is none.
func (v *value) objectIn(e *env) map[string]any {
	if v.when != nil && !v.when.holds(e) {
		return nil
	}
	for _, sel := range v.sources {
		for _, x := range e.raw(sel) {
			if v.entries == nil {
				if m, ok := x.(map[string]any); ok && len(m) > 0 {
					return m
				}
				continue
			}
			if out := v.entries.of(x); len(out) > 0 {
				return out
			}
		}
	}
	return nil
}

func (en *entries) of(x any) map[string]any {
	arr, ok := x.([]any)
	if !ok {
		return nil
	}
	out := map[string]any{}
	for _, el := range arr {
		keys := scalars(en.key.Eval(el), false)
		if len(keys) == 0 || CleanText(keys[0]) == "" {
			continue
		}
		vals := en.value.Eval(el)
		switch {
		case len(vals) == 1:
			if l, isList := vals[0].([]any); isList && len(l) == 1 {
				out[keys[0]] = l[0]
			} else if vals[0] != nil {
				out[keys[0]] = vals[0]
			}
		case len(vals) > 1:
			out[keys[0]] = vals
		}
	}
	return out
}
