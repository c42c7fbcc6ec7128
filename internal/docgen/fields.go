package docgen

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/cyclehub/cyclehub/internal/secret"
)

// field is one row of a config reference table.
type field struct {
	// Key is the YAML path inside its block: "url", "http.timeout",
	// "secrets[].until".
	Key      string
	Type     string
	Default  string
	Required bool
	Doc      string
}

var (
	durationType    = reflect.TypeFor[time.Duration]()
	timeType        = reflect.TypeFor[time.Time]()
	secretType      = reflect.TypeFor[secret.Secret]()
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// defaulter and validator are the methods config blocks have (the config
// decoder calls SetDefaults before decoding a new block over it).
type (
	defaulter interface{ SetDefaults() }
	validator interface{ Validate() []error }
)

// docSource finds a field's description: its doc tag, else an entry of
// descriptions (for config types outside connectors/), else an error.
type docSource struct {
	used map[string]bool
}

func (d *docSource) doc(owner reflect.Type, sf reflect.StructField, key string) (string, error) {
	if s, ok := sf.Tag.Lookup("doc"); ok && strings.TrimSpace(s) != "" {
		return s, nil
	}
	id := owner.PkgPath() + "." + owner.Name() + "." + key
	if s, ok := descriptions[id]; ok {
		d.used[id] = true
		return s, nil
	}
	return "", fmt.Errorf("%s.%s (yaml %q) has no description: add a doc:\"…\" struct tag to it, or an entry %q in internal/docgen/descriptions.go",
		owner.String(), sf.Name, key, id)
}

// unused lists the entries of descriptions no field asked for (a renamed
// or removed field leaves one behind).
func (d *docSource) unused() []string {
	var out []string
	for id := range descriptions {
		if !d.used[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// newDefault returns a block of type t as the config decoder starts it:
// the zero value with its SetDefaults applied.
func newDefault(t reflect.Type) reflect.Value {
	p := reflect.New(t)
	if d, ok := p.Interface().(defaulter); ok {
		d.SetDefaults()
	}
	return p.Elem()
}

// requiredKeys validates a block holding only its defaults and returns the
// keys its Validate refuses: those a user must set.
func requiredKeys(def reflect.Value) map[string]bool {
	out := map[string]bool{}
	v, ok := def.Interface().(validator)
	if !ok {
		return out
	}
	errs := v.Validate()
	if one, ok := withOneElement(def).Interface().(validator); ok {
		errs = append(errs, one.Validate()...)
	}
	for _, err := range errs {
		key, _, found := strings.Cut(err.Error(), ": ")
		if !found {
			continue
		}
		out[normalizeKey(key)] = true
	}
	return out
}

// withOneElement returns a copy of block def in which every empty list of
// objects holds one element with its defaults, so that Validate also
// reports the keys an element must have (secrets[].secret).
func withOneElement(def reflect.Value) reflect.Value {
	out := reflect.New(def.Type()).Elem()
	out.Set(def)
	for i := range out.NumField() {
		f := out.Field(i)
		if !f.CanSet() {
			continue
		}
		switch t := f.Type(); {
		case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && !isLeaf(t.Elem()) && f.Len() == 0:
			s := reflect.MakeSlice(t, 1, 1)
			s.Index(0).Set(newDefault(t.Elem()))
			f.Set(s)
		case t.Kind() == reflect.Struct && !isLeaf(t):
			f.Set(withOneElement(f))
		}
	}
	return out
}

// normalizeKey turns "secrets[0].secret" into "secrets[].secret".
func normalizeKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		if k[i] == '[' {
			if j := strings.IndexByte(k[i:], ']'); j > 0 {
				if _, err := strconv.Atoi(k[i+1 : i+j]); err == nil {
					b.WriteString("[]")
					i += j
					continue
				}
			}
		}
		b.WriteByte(k[i])
	}
	return b.String()
}

// isLeaf reports whether the config decoder reads t as one scalar value
// (the same rule as configs' decoder).
func isLeaf(t reflect.Type) bool {
	return t == durationType || t.Implements(unmarshalerType) || t.Implements(textType) ||
		reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textType)
}

// yamlName is a field's YAML key ("" when the decoder skips it) and
// whether it is inlined.
func yamlName(sf reflect.StructField) (string, bool) {
	tag, ok := sf.Tag.Lookup("yaml")
	if !ok || tag == "-" {
		return "", false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if slices.Contains(strings.Split(opts, ","), "inline") {
		return "", true
	}
	if !sf.IsExported() {
		return "", false
	}
	if name == "" {
		name = strings.ToLower(sf.Name)
	}
	return name, false
}

// fields lists the rows of struct type t, whose defaults are def, each key
// prefixed by prefix. required holds the keys the block's Validate refuses
// on its defaults.
func (d *docSource) fields(t reflect.Type, def reflect.Value, prefix string, required map[string]bool) ([]field, error) {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		name, inline := yamlName(sf)
		fv := def.Field(i)
		ft := sf.Type
		if inline {
			for ft.Kind() == reflect.Pointer {
				ft, fv = ft.Elem(), reflect.Zero(ft.Elem())
			}
			rows, err := d.fields(ft, fv, prefix, required)
			if err != nil {
				return nil, err
			}
			out = append(out, rows...)
			continue
		}
		if name == "" {
			continue
		}
		key := prefix + name
		text, err := d.doc(t, sf, name)
		if err != nil {
			return nil, err
		}
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
			if fv.IsNil() {
				fv = newDefault(ft)
			} else {
				fv = fv.Elem()
			}
		}
		row := field{Key: key, Type: typeName(ft), Doc: text, Required: required[key]}
		switch {
		case !isLeaf(ft) && ft.Kind() == reflect.Struct:
			row.Type, row.Default = "object", "see below"
			sub, err := d.fields(ft, fv, key+".", required)
			if err != nil {
				return nil, err
			}
			out = append(out, row)
			out = append(out, sub...)
			continue
		case !isLeaf(ft) && ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && !isLeaf(ft.Elem()):
			row.Default = renderDefault(fv, row.Required)
			sub, err := d.fields(ft.Elem(), newDefault(ft.Elem()), key+"[].", required)
			if err != nil {
				return nil, err
			}
			out = append(out, row)
			out = append(out, sub...)
			continue
		}
		row.Default = renderDefault(fv, row.Required)
		out = append(out, row)
	}
	return out, nil
}

// typeName names a config value's type for users.
func typeName(t reflect.Type) string {
	switch t {
	case durationType:
		return "duration"
	case timeType:
		return "time (RFC 3339)"
	case secretType:
		return "secret"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct && !isLeaf(t.Elem()) {
			return "list of objects"
		}
		return "list of " + typeName(t.Elem()) + "s"
	case reflect.Map:
		return "map of " + typeName(t.Key()) + " to " + typeName(t.Elem())
	case reflect.Struct:
		return "object"
	}
	return t.String()
}

// renderDefault shows a default value in a table cell.
func renderDefault(v reflect.Value, required bool) string {
	if required {
		return "none"
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "none"
		}
		v = v.Elem()
	}
	switch {
	case v.Type() == secretType:
		if v.String() == "" {
			return "none"
		}
		return "set (not shown)"
	case v.Type() == durationType:
		return code(shortDuration(time.Duration(v.Int())))
	case v.Type() == timeType:
		t := v.Interface().(time.Time)
		if t.IsZero() {
			return "none"
		}
		return code(t.Format(time.RFC3339))
	}
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return "none"
		}
		return code(v.String())
	case reflect.Slice:
		if v.Len() == 0 {
			return "none"
		}
		items := make([]string, v.Len())
		for i := range v.Len() {
			items[i] = renderDefault(v.Index(i), false)
		}
		return strings.Join(items, ", ")
	case reflect.Map:
		if v.Len() == 0 {
			return "none"
		}
		keys := make([]string, 0, v.Len())
		long := v.Type().Elem() == secretType
		for it := v.MapRange(); it.Next(); {
			keys = append(keys, it.Key().String())
			if s := fmt.Sprint(it.Value().Interface()); len(s) > 40 || strings.ContainsAny(s, "\n`|") {
				long = true
			}
		}
		slices.Sort(keys)
		if long {
			names := make([]string, len(keys))
			for i, k := range keys {
				names[i] = code(k)
			}
			return "entries for " + strings.Join(names, ", ")
		}
		pairs := make([]string, len(keys))
		for i, k := range keys {
			pairs[i] = code(k) + " → " + code(fmt.Sprint(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())).Interface()))
		}
		return strings.Join(pairs, ", ")
	case reflect.Float32, reflect.Float64:
		return code(strconv.FormatFloat(v.Float(), 'f', -1, 64))
	}
	return code(fmt.Sprint(v.Interface()))
}

// shortDuration prints a duration as a config file would hold it: 2m, 6h,
// 1h30m, 250ms.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// code formats s as inline code.
func code(s string) string {
	if strings.Contains(s, "`") {
		return "``" + s + "``"
	}
	return "`" + s + "`"
}
