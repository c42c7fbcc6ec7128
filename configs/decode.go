package configs

import (
	"bytes"
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FieldError is one problem in a config, located by its dotted path (for
// example "sources.form.provider" or "sinks[2].url") and, when it comes
// from the YAML text, its 1-based line. Path is "" for problems with the
// document as a whole.
type FieldError struct {
	Path string
	Line int
	Msg  string
}

// Error formats the error as "path: msg (line N)", leaving out the path
// when it is empty and the line when it is 0.
func (e FieldError) Error() string {
	s := e.Msg
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	if e.Line > 0 {
		s += " (line " + strconv.Itoa(e.Line) + ")"
	}
	return s
}

// Errors collects every problem found in a config so that all of them can
// be reported at once.
type Errors []FieldError

// Add appends an error for path with no line number; semantic validators
// use it to report problems found after decoding.
func (e *Errors) Add(path, format string, args ...any) {
	*e = append(*e, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Err returns e as an error, or nil when it holds no errors. Return
// errs.Err() rather than errs so that an empty list is a nil error.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// Error lists the errors one per line, sorted by line, then path, then
// message. Errors without a line (line 0) come first.
func (e Errors) Error() string {
	lines := make([]string, 0, len(e))
	for _, fe := range e.sorted() {
		lines = append(lines, fe.Error())
	}
	return strings.Join(lines, "\n")
}

// sorted returns a sorted copy of e without exact duplicates.
func (e Errors) sorted() Errors {
	s := slices.Clone(e)
	slices.SortFunc(s, func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Msg, b.Msg))
	})
	return slices.Compact(s)
}

// maxSteps bounds the work Decode does, so that documents which alias the
// same nodes over and over cannot make it run for ever.
const maxSteps = 1 << 20

var (
	nodeType        = reflect.TypeFor[yaml.Node]()
	durationType    = reflect.TypeFor[time.Duration]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Decode strictly decodes the single YAML document in data into out, a
// non-nil pointer to a struct, after expanding environment references in
// scalar values with lookupEnv ([os.LookupEnv] when nil). The package
// documentation lists the rules. Absent keys and null values leave fields
// as they were, so defaults set on out beforehand survive.
//
// Decode returns nil, [Errors] listing every problem found, or a plain
// error when out is not a pointer to a struct. Fields decoded without
// problems are set even when Decode reports errors.
func Decode(data []byte, out any, lookupEnv func(string) (string, bool)) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("configs: Decode needs a non-nil pointer to a struct, got %T", out)
	}
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	root, err := parse(data)
	if err != nil || root == nil {
		return err
	}
	d := &decoder{
		lookup: lookupEnv,
		fields: map[reflect.Type]map[string][]int{},
		active: map[*yaml.Node]bool{},
		raw:    map[*yaml.Node]string{},
	}
	d.expand(root, "")
	d.decode(root, rv.Elem(), "")
	return d.errs.sorted().Err()
}

// parse returns the root node of the only document in data, or nil when
// data holds no document.
func parse(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(err)
	default:
		return nil, Errors{{Line: next.Line, Msg: "a config file must hold a single YAML document"}}
	}
	if len(doc.Content) != 1 {
		return nil, nil
	}
	return doc.Content[0], nil
}

func syntaxError(err error) error {
	line, msg := splitLine(strings.TrimPrefix(err.Error(), "yaml: "))
	return Errors{{Line: line, Msg: msg}}
}

// splitLine splits yaml.v3's "line N: msg" into N and msg.
func splitLine(s string) (int, string) {
	if rest, ok := strings.CutPrefix(s, "line "); ok {
		if num, msg, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				return n, msg
			}
		}
	}
	return 0, s
}

// ExpandEnv replaces "${VAR}" in s with the value lookup returns for VAR,
// and "${VAR:-default}" with that value or, when VAR is unset or empty,
// with default taken literally up to the first "}". "$$" stands for a
// single "$", and a "$" followed by anything else is kept as it is. The
// result is not expanded again. A nil lookup means [os.LookupEnv].
//
// Every problem (an unset variable without a default, a malformed
// reference) is reported, joined with [errors.Join]; messages never contain
// variable values.
func ExpandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var b strings.Builder
	var errs []error
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			errs = append(errs, errors.New(`"${" without a closing "}"`))
			break
		}
		expr := s[i+2 : i+2+end]
		i += 2 + end
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			errs = append(errs, fmt.Errorf("invalid environment variable reference %q", "${"+expr+"}"))
			continue
		}
		val, ok := lookup(name)
		switch {
		case hasDef && val == "":
			val = def
		case !ok:
			errs = append(errs, fmt.Errorf("environment variable %s is not set", name))
		}
		b.WriteString(val)
	}
	if len(errs) > 0 {
		return "", errors.Join(errs...)
	}
	return b.String(), nil
}

func validEnvName(name string) bool {
	for i, c := range []byte(name) {
		letter := c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return name != ""
}

type decoder struct {
	lookup func(string) (string, bool)
	errs   Errors
	steps  int
	fields map[reflect.Type]map[string][]int // struct type -> key -> field index
	active map[*yaml.Node]bool               // aliases being followed
	raw    map[*yaml.Node]string             // expanded scalars -> original text
}

func (d *decoder) add(path string, line int, format string, args ...any) {
	d.errs = append(d.errs, FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// tick counts one step and reports whether the budget is spent.
func (d *decoder) tick(n *yaml.Node) bool {
	d.steps++
	if d.steps == maxSteps {
		d.add("", n.Line, "document is too complex: too many nodes or aliases")
	}
	return d.steps >= maxSteps
}

// expand applies ExpandEnv to the scalar values under n. Scalars that fail
// to expand are marked null so that they are not reported a second time.
func (d *decoder) expand(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.expand(n.Content[i+1], join(path, n.Content[i].Value))
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			d.expand(c, index(path, i))
		}
	case yaml.ScalarNode:
		v, err := ExpandEnv(n.Value, d.lookup)
		if err != nil {
			for _, e := range unjoin(err) {
				d.add(path, n.Line, "%s", e)
			}
			n.Tag, n.Value = "!!null", ""
		} else if v != n.Value {
			d.raw[n] = n.Value
			n.Value = v
			if n.Style == 0 { // plain and untagged: type the new text
				n.Tag = ""
			}
		}
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.tick(n) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if d.active[n] {
			d.add(path, n.Line, "alias *%s refers to itself", n.Value)
			return
		}
		d.active[n] = true
		d.decode(n.Alias, v, path)
		delete(d.active, n)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	t := v.Type()
	switch {
	case t == nodeType || t.Implements(unmarshalerType) || t.Implements(textType) ||
		reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textType):
		d.leaf(n, v, path, "")
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
			setDefaults(v)
		}
		d.decode(n, v.Elem(), path)
	case t.Kind() == reflect.Struct:
		d.structure(n, v, path)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		d.mapping(n, v, path)
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		d.sequence(n, v, path)
	default:
		d.leaf(n, v, path, basicName(t))
	}
}

// defaulter is a config block with defaults of its own: a new block (a
// map entry, a pointer) gets them before its keys are decoded over them.
type defaulter interface{ SetDefaults() }

func setDefaults(p reflect.Value) {
	if d, ok := p.Interface().(defaulter); ok {
		d.SetDefaults()
	}
}

// leaf lets yaml.v3 decode n into v, leaving v untouched on failure. want
// names v's type for messages when v is of a basic kind without decoding
// methods of its own, and is empty otherwise.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, path, want string) {
	// yaml.v3 truncates floats into integers and wraps negative ones into
	// unsigned integers; accept only whole numbers within the sign range.
	k := v.Kind()
	if want != "" && k >= reflect.Int && k <= reflect.Uint64 && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || f != math.Trunc(f) || (k >= reflect.Uint && f < 0) {
			d.add(path, n.Line, "cannot parse %s as %s", d.describe(n), want)
			return
		}
	}
	tmp := reflect.New(v.Type())
	tmp.Elem().Set(v)
	err := n.Decode(tmp.Interface())
	if err == nil {
		v.Set(tmp.Elem())
		return
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		d.add(path, n.Line, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	if want != "" {
		d.add(path, n.Line, "cannot parse %s as %s", d.describe(n), want)
		return
	}
	for _, msg := range te.Errors {
		line, msg := splitLine(msg)
		d.add(path, line, "%s", msg)
	}
}

// basicName names the kinds whose only decoding failure is a mismatch with
// the node itself, or returns "" for other kinds.
func basicName(t reflect.Type) string {
	switch k := t.Kind(); {
	case t == durationType:
		return "duration"
	case k == reflect.Bool:
		return "boolean"
	case k == reflect.Int || k == reflect.Int64:
		return "integer"
	case k >= reflect.Int8 && k <= reflect.Uint64:
		return k.String()
	case k == reflect.Float32 || k == reflect.Float64:
		return "number"
	case k == reflect.String:
		return "string"
	}
	return ""
}

// describe shows a node in a message. Expanded scalars show their original
// text so that values taken from the environment are never echoed.
func (d *decoder) describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a sequence"
	}
	if raw, ok := d.raw[n]; ok {
		return strconv.Quote(raw)
	}
	return strconv.Quote(n.Value)
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(path, n.Line, "expected a mapping, got %s", d.describe(n))
		return
	}
	fields := d.fieldsOf(v.Type())
	for _, p := range d.pairs(n, path) {
		idx, ok := fields[p.key]
		if !ok {
			d.add(path, p.line, "unknown field %q", p.key)
			continue
		}
		f := v
		for i, x := range idx {
			if i > 0 && f.Kind() == reflect.Pointer {
				if f.IsNil() {
					f.Set(reflect.New(f.Type().Elem()))
				}
				f = f.Elem()
			}
			f = f.Field(x)
		}
		d.decode(p.val, f, join(path, p.key))
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(path, n.Line, "expected a mapping, got %s", d.describe(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, v.Len())
	for it := v.MapRange(); it.Next(); {
		m.SetMapIndex(it.Key(), it.Value())
	}
	for _, p := range d.pairs(n, path) {
		key := reflect.New(t.Key()).Elem()
		key.SetString(p.key)
		elem := reflect.New(t.Elem()).Elem()
		if old := m.MapIndex(key); old.IsValid() {
			elem.Set(old)
		} else {
			setDefaults(elem.Addr())
		}
		d.decode(p.val, elem, join(path, p.key))
		m.SetMapIndex(key, elem)
	}
	v.Set(m)
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.add(path, n.Line, "expected a sequence, got %s", d.describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.decode(c, s.Index(i), index(path, i))
	}
	v.Set(s)
}

type pair struct {
	key  string
	line int
	val  *yaml.Node
}

// pairs returns the entries of mapping n, reporting duplicate, merge
// ("<<") and non-scalar keys.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content) && !d.tick(n); i += 2 {
		k := n.Content[i]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.add(path, k.Line, "mapping keys must be scalars")
		case k.ShortTag() == "!!merge":
			d.add(path, k.Line, "merge keys (<<) are not supported")
		case seen[k.Value] > 0:
			d.add(path, k.Line, "duplicate key %q (first defined on line %d)", k.Value, seen[k.Value])
		default:
			seen[k.Value] = max(k.Line, 1)
			out = append(out, pair{k.Value, k.Line, n.Content[i+1]})
		}
	}
	return out
}

// fieldsOf maps the YAML keys of struct type t to field index paths.
func (d *decoder) fieldsOf(t reflect.Type) map[string][]int {
	if f, ok := d.fields[t]; ok {
		return f
	}
	f := map[string][]int{}
	collectFields(t, nil, f, map[reflect.Type]bool{t: true})
	d.fields[t] = f
	return f
}

// collectFields adds the tagged fields of t to out, those of inlined
// structs after the direct ones so that direct fields win.
func collectFields(t reflect.Type, prefix []int, out map[string][]int, seen map[reflect.Type]bool) {
	var inline []reflect.StructField
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("yaml")
		if !ok || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		sf.Index = append(slices.Clone(prefix), i)
		if slices.Contains(strings.Split(opts, ","), "inline") {
			inline = append(inline, sf)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		if _, dup := out[name]; !dup {
			out[name] = sf.Index
		}
	}
	for _, sf := range inline {
		ft := sf.Type
		if ft.Kind() == reflect.Pointer && sf.IsExported() {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && !seen[ft] {
			seen[ft] = true
			collectFields(ft, sf.Index, out, seen)
		}
	}
}

// join appends a mapping key to a path, bracketing and quoting keys that
// would make the path ambiguous.
func join(path, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]\"' \t\n") {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }
