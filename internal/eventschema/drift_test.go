package eventschema_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cyclehub/cyclehub/mapping"
)

// jsonFields lists a struct's JSON fields and those always present (no
// omitempty or omitzero).
func jsonFields(t reflect.Type) (all, required []string) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !slices.Contains(strings.Split(opts, ","), "omitempty") && !slices.Contains(strings.Split(opts, ","), "omitzero") {
			required = append(required, name)
		}
	}
	slices.Sort(all)
	slices.Sort(required)
	return all, required
}

// schemaAt reads the object schema at a path of keys in a schema file.
func schemaAt(t *testing.T, file string, path ...string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("schemas/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range path {
		m, _ := doc.(map[string]any)
		doc = m[k]
	}
	m, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("%s: no object schema at %v", file, path)
	}
	return m
}

// TestSchemasListTheStructsFields keeps the schemas and the Go structs
// in step: each object schema has a property per JSON field, required
// exactly when the field is never left out, and allows no others.
func TestSchemasListTheStructsFields(t *testing.T) {
	cases := []struct {
		file string
		path []string
		typ  reflect.Type
	}{
		{"cloudevent.json", nil, reflect.TypeFor[mapping.CloudEvent]()},
		{mapping.TypeCustomerCreated + ".json", nil, reflect.TypeFor[mapping.CustomerChangedData]()},
		{mapping.TypeCustomerUpdated + ".json", nil, reflect.TypeFor[mapping.CustomerChangedData]()},
		{mapping.TypeCustomerMerged + ".json", nil, reflect.TypeFor[mapping.CustomerMergedData]()},
		{mapping.TypeCustomerErased + ".json", nil, reflect.TypeFor[mapping.CustomerErasedData]()},
		{mapping.TypeStageChanged + ".json", nil, reflect.TypeFor[mapping.StageChangedData]()},
		{mapping.TypeScoreChanged + ".json", nil, reflect.TypeFor[mapping.ScoreChangedData]()},
		{"defs.json", []string{"$defs", "trigger"}, reflect.TypeFor[mapping.Trigger]()},
		{"defs.json", []string{"$defs", "touch"}, reflect.TypeFor[mapping.Touch]()},
		{"defs.json", []string{"$defs", "scoreSummary"}, reflect.TypeFor[mapping.ScoreSummary]()},
		{"defs.json", []string{"$defs", "contributions", "additionalProperties", "items"}, reflect.TypeFor[mapping.Contribution]()},
	}
	for _, tc := range cases {
		t.Run(tc.file+strings.Join(tc.path, "/"), func(t *testing.T) {
			sch := schemaAt(t, tc.file, tc.path...)
			all, required := jsonFields(tc.typ)
			props, _ := sch["properties"].(map[string]any)
			var names []string
			for k := range props {
				names = append(names, k)
			}
			slices.Sort(names)
			var req []string
			for _, r := range sch["required"].([]any) {
				req = append(req, r.(string))
			}
			slices.Sort(req)
			if !slices.Equal(names, all) {
				t.Errorf("properties %v, want the fields of %s %v", names, tc.typ, all)
			}
			if !slices.Equal(req, required) {
				t.Errorf("required %v, want the fields of %s without omitempty %v", req, tc.typ, required)
			}
			if sch["additionalProperties"] != false {
				t.Errorf("additionalProperties is %v, want false", sch["additionalProperties"])
			}
		})
	}
}
