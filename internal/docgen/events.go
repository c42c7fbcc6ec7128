package docgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// EventsPath is the page whose schema section EventSchemas renders, and
// the markers around that section.
const (
	EventsPath      = "docs/events.md"
	SchemasDir      = "internal/eventschema/schemas"
	eventsBeginMark = "<!-- BEGIN GENERATED: event schemas (make docs renders this section from internal/eventschema/schemas; do not edit it by hand) -->"
	eventsEndMark   = "<!-- END GENERATED: event schemas -->"
)

// schema is the part of a JSON Schema (draft 2020-12) the stream's schemas
// use.
type schema struct {
	Ref                  string             `json:"$ref"`
	Title                string             `json:"title"`
	Description          string             `json:"description"`
	Type                 any                `json:"type"`
	Const                any                `json:"const"`
	Enum                 []any              `json:"enum"`
	Format               string             `json:"format"`
	Minimum              *float64           `json:"minimum"`
	Maximum              *float64           `json:"maximum"`
	Properties           map[string]*schema `json:"properties"`
	Required             []string           `json:"required"`
	AdditionalProperties json.RawMessage    `json:"additionalProperties"`
	Items                *schema            `json:"items"`
	AnyOf                []*schema          `json:"anyOf"`
	PropertyNames        *struct {
		Not *struct {
			Enum []string `json:"enum"`
		} `json:"not"`
	} `json:"propertyNames"`
	Defs map[string]*schema `json:"$defs"`

	// order is the properties' order in the file.
	order []string
}

// UnmarshalJSON keeps the order of properties as written.
func (s *schema) UnmarshalJSON(b []byte) error {
	type plain schema
	if err := json.Unmarshal(b, (*plain)(s)); err != nil {
		return err
	}
	var raw struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || len(raw.Properties) == 0 {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Properties))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if depth == 1 {
				s.order = append(s.order, t)
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// schemaSet is the stream's schema files, by file name.
type schemaSet map[string]*schema

func loadSchemas(dir string) (schemaSet, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("no schemas in %s: %v", dir, err)
	}
	set := schemaSet{}
	for _, n := range names {
		b, err := os.ReadFile(n) // #nosec G304 -- the repository's own schema files
		if err != nil {
			return nil, err
		}
		var s schema
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		set[filepath.Base(n)] = &s
	}
	return set, nil
}

// resolve follows a $ref ("defs.json#/$defs/x" or "#/$defs/x") from the
// file it appears in, returning the target and its file.
func (set schemaSet) resolve(file string, s *schema) (*schema, string, error) {
	for s.Ref != "" {
		target, frag, _ := strings.Cut(s.Ref, "#")
		if target != "" {
			file = target
		}
		doc, ok := set[file]
		if !ok {
			return nil, "", fmt.Errorf("$ref %q: no file %s", s.Ref, file)
		}
		name, ok := strings.CutPrefix(frag, "/$defs/")
		if !ok || doc.Defs[name] == nil {
			return nil, "", fmt.Errorf("$ref %q: not a definition of %s", s.Ref, file)
		}
		local := s.Description
		s = doc.Defs[name]
		if local != "" {
			c := *s
			c.Description = local
			s = &c
		}
	}
	return s, file, nil
}

type schemaRow struct {
	path, typ, required, doc string
}

// rows flattens an object schema into field rows.
func (set schemaSet) rows(file, prefix string, s *schema, out *[]schemaRow) error {
	for _, name := range s.order {
		prop, pfile, err := set.resolve(file, s.Properties[name])
		if err != nil {
			return err
		}
		path := prefix + name
		req := "no"
		if slices.Contains(s.Required, name) {
			req = "yes"
		}
		if err := set.row(pfile, path, req, prop, out); err != nil {
			return err
		}
	}
	return nil
}

func (set schemaSet) row(file, path, req string, s *schema, out *[]schemaRow) error {
	typ, err := set.typeOf(file, s)
	if err != nil {
		return err
	}
	doc := s.Description
	if s.PropertyNames != nil && s.PropertyNames.Not != nil {
		keys := make([]string, len(s.PropertyNames.Not.Enum))
		for i, k := range s.PropertyNames.Not.Enum {
			keys[i] = code(k)
		}
		doc = strings.TrimSpace(doc + " Never holds the keys " + strings.Join(keys, ", ") + ".")
	}
	*out = append(*out, schemaRow{path: path, typ: typ, required: req, doc: doc})
	switch {
	case len(s.Properties) > 0:
		return set.rows(file, path+".", s, out)
	case len(s.AdditionalProperties) > 0 && s.AdditionalProperties[0] == '{':
		var ap schema
		if err := json.Unmarshal(s.AdditionalProperties, &ap); err != nil {
			return err
		}
		inner, ifile, err := set.resolve(file, &ap)
		if err != nil {
			return err
		}
		if inner.Items != nil {
			items, ifile2, err := set.resolve(ifile, inner.Items)
			if err != nil {
				return err
			}
			if len(items.Properties) > 0 {
				return set.rows(ifile2, path+".<name>[].", items, out)
			}
		}
		if len(inner.Properties) > 0 {
			return set.rows(ifile, path+".<name>.", inner, out)
		}
	}
	return nil
}

// typeOf names a schema's type for readers.
func (set schemaSet) typeOf(file string, s *schema) (string, error) {
	switch {
	case s.Const != nil:
		return "always " + literal(s.Const), nil
	case len(s.Enum) > 0:
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = literal(v)
		}
		return "one of " + strings.Join(vals, ", "), nil
	case len(s.AnyOf) > 0:
		alts := make([]string, len(s.AnyOf))
		for i, a := range s.AnyOf {
			r, f, err := set.resolve(file, a)
			if err != nil {
				return "", err
			}
			if alts[i], err = set.typeOf(f, r); err != nil {
				return "", err
			}
			alts[i] = strings.TrimPrefix(alts[i], "always ")
		}
		return strings.Join(alts, " or "), nil
	}
	t, _ := s.Type.(string)
	switch t {
	case "string":
		switch s.Format {
		case "uuid":
			return "string (UUID)", nil
		case "date-time":
			return "string (RFC 3339 time)", nil
		}
		return "string", nil
	case "integer", "number":
		switch {
		case s.Minimum != nil && s.Maximum != nil:
			return fmt.Sprintf("%s, %s to %s", t, num(*s.Minimum), num(*s.Maximum)), nil
		case s.Minimum != nil:
			return fmt.Sprintf("%s ≥ %s", t, num(*s.Minimum)), nil
		}
		return t, nil
	case "array":
		if s.Items == nil {
			return "list", nil
		}
		items, f, err := set.resolve(file, s.Items)
		if err != nil {
			return "", err
		}
		it, err := set.typeOf(f, items)
		if err != nil {
			return "", err
		}
		return "list of " + it, nil
	case "object":
		if len(s.Properties) == 0 && len(s.AdditionalProperties) > 0 && s.AdditionalProperties[0] == '{' {
			var ap schema
			if err := json.Unmarshal(s.AdditionalProperties, &ap); err != nil {
				return "", err
			}
			r, f, err := set.resolve(file, &ap)
			if err != nil {
				return "", err
			}
			vt, err := set.typeOf(f, r)
			if err != nil {
				return "", err
			}
			return "map of name to " + vt, nil
		}
		return "object", nil
	case "":
		if s.Ref == "" && s.Type == nil {
			return "any", nil
		}
	}
	return t, nil
}

// literal shows a constant of a schema; the empty string as "".
func literal(v any) string {
	if s := fmt.Sprint(v); s != "" {
		return code(s)
	}
	return "`\"\"` (empty)"
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// EventSchemas renders the schema section of docs/events.md from the JSON
// Schemas in root/internal/eventschema/schemas: the envelope, then the
// data of every event type the envelope lists, field by field.
func EventSchemas(root string) ([]byte, error) {
	set, err := loadSchemas(filepath.Join(root, SchemasDir))
	if err != nil {
		return nil, err
	}
	env, ok := set["cloudevent.json"]
	if !ok {
		return nil, fmt.Errorf("%s/cloudevent.json is missing", SchemasDir)
	}
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	table := func(rows []schemaRow) {
		p("| Field | Type | Required | Description |\n|---|---|---|---|\n")
		for _, r := range rows {
			p("| `%s` | %s | %s | %s |\n", r.path, cell(r.typ), r.required, cell(r.doc))
		}
		p("\n")
	}
	p("%s\n\n", eventsBeginMark)
	p("### The envelope\n\n")
	p("[`cloudevent.json`](../%s/cloudevent.json): %s No other attribute appears.\n\n", SchemasDir, env.Description)
	var rows []schemaRow
	if err := set.rows("cloudevent.json", "", env, &rows); err != nil {
		return nil, err
	}
	table(rows)

	var types []string
	if tp := env.Properties["type"]; tp != nil {
		for _, v := range tp.Enum {
			types = append(types, fmt.Sprint(v))
		}
	}
	if len(types) == 0 {
		return nil, fmt.Errorf("cloudevent.json lists no event types")
	}
	for _, t := range types {
		file := t + ".json"
		s, ok := set[file]
		if !ok {
			return nil, fmt.Errorf("%s lists %s but %s/%s is missing", "cloudevent.json", t, SchemasDir, file)
		}
		p("### `%s`\n\n", t)
		p("[`%s`](../%s/%s): %s\n\n", file, SchemasDir, file, s.Description)
		var rows []schemaRow
		if err := set.rows(file, "", s, &rows); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		table(rows)
	}
	for name := range set {
		if name != "cloudevent.json" && name != "defs.json" && !slices.Contains(types, strings.TrimSuffix(name, ".json")) {
			return nil, fmt.Errorf("%s/%s is not an event type cloudevent.json lists", SchemasDir, name)
		}
	}
	p("%s\n", eventsEndMark)
	return b.Bytes(), nil
}

// SpliceEventSchemas replaces the generated section of page (the text of
// docs/events.md) with section.
func SpliceEventSchemas(page, section []byte) ([]byte, error) {
	start := bytes.Index(page, []byte(eventsBeginMark))
	end := bytes.Index(page, []byte(eventsEndMark))
	if start < 0 || end < start {
		return nil, fmt.Errorf("%s has no generated section (the lines %q … %q)", EventsPath, eventsBeginMark, eventsEndMark)
	}
	end += len(eventsEndMark)
	if end < len(page) && page[end] == '\n' {
		end++
	}
	out := slices.Clone(page[:start])
	out = append(out, section...)
	return append(out, page[end:]...), nil
}
