// Package eventschema holds the JSON Schemas (draft 2020-12) of the
// lifecycle stream, in schemas/: cloudevent.json for the CloudEvents
// envelope, one TYPE.json per event type for its data, and defs.json for
// the pieces they share. Validate checks a published event against them,
// so tests catch drift between the code's JSON and the contract.
package eventschema

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed schemas/*.json
var files embed.FS

// base is the URI the embedded schemas are known by; their references
// are relative (defs.json#/$defs/…), so they resolve among the files
// alone, here as on a disk.
const base = "file:///cyclehub/eventschema/schemas/"

const (
	envelopeFile = "cloudevent.json"
	defsFile     = "defs.json"
)

// Validator checks events against the compiled schemas.
type Validator struct {
	envelope *jsonschema.Schema
	data     map[string]*jsonschema.Schema // by event type
}

// Load compiles the embedded schemas: the envelope and, for every other
// file but defs.json, the data of the event type the file is named after.
func Load() (*Validator, error) {
	names, err := fs.Glob(files, "schemas/*.json")
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	// Nothing but the embedded files: no disk, no network.
	c.UseLoader(jsonschema.SchemeURLLoader{})
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", n, err)
		}
		if err := c.AddResource(base+strings.TrimPrefix(n, "schemas/"), doc); err != nil {
			return nil, fmt.Errorf("schema %s: %w", n, err)
		}
	}
	v := &Validator{data: map[string]*jsonschema.Schema{}}
	for _, n := range names {
		name := strings.TrimPrefix(n, "schemas/")
		sch, err := c.Compile(base + name)
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		switch name {
		case envelopeFile:
			v.envelope = sch
		case defsFile:
		default:
			v.data[strings.TrimSuffix(name, ".json")] = sch
		}
	}
	if v.envelope == nil {
		return nil, errors.New("schema " + envelopeFile + " is missing")
	}
	return v, nil
}

// Types lists the event types that have a data schema, sorted.
func (v *Validator) Types() []string {
	out := make([]string, 0, len(v.data))
	for t := range v.data {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

var (
	loadOnce sync.Once
	loaded   *Validator
	loadErr  error
)

// Validate checks one event (its JSON, as published) with the embedded
// schemas, compiled once.
func Validate(eventJSON []byte) error {
	loadOnce.Do(func() { loaded, loadErr = Load() })
	if loadErr != nil {
		return fmt.Errorf("eventschema: %w", loadErr)
	}
	return loaded.Validate(eventJSON)
}

// Problem is one way an event breaks its schema: where (a JSON pointer
// into the event, "" for the event itself) and what.
type Problem struct {
	Pointer string
	Message string
}

func (p Problem) String() string {
	if p.Pointer == "" {
		return "(event): " + p.Message
	}
	return p.Pointer + ": " + p.Message
}

// Error is an event that does not match the contract.
type Error struct {
	// Type is the event's type, when it has one.
	Type     string
	Problems []Problem
}

func (e *Error) Error() string {
	what := "event"
	if e.Type != "" {
		what = e.Type + " event"
	}
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.String()
	}
	return what + " does not match its schema: " + strings.Join(msgs, "; ")
}

var printer = message.NewPrinter(language.English)

// Validate checks the envelope against cloudevent.json, data against the
// schema of the event's type, and that the ids and versions agree: the
// subject and data name the key's customer, data.version is the
// sequence. It returns an *Error listing every problem.
func (v *Validator) Validate(eventJSON []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(eventJSON))
	if err != nil {
		return &Error{Problems: []Problem{{Message: "not JSON: " + err.Error()}}}
	}
	e := &Error{}
	ev, _ := doc.(map[string]any)
	if typ, ok := ev["type"].(string); ok {
		e.Type = typ
	}
	e.add("", v.envelope.Validate(doc))
	if data, ok := ev["data"].(map[string]any); ok {
		if sch := v.data[e.Type]; sch != nil {
			e.add("/data", sch.Validate(data))
		}
		e.Problems = append(e.Problems, consistency(ev, data)...)
	}
	if len(e.Problems) > 0 {
		return e
	}
	return nil
}

// add records the failing leaves of a validation error, their instance
// locations under prefix.
func (e *Error) add(prefix string, err error) {
	if err == nil {
		return
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		e.Problems = append(e.Problems, Problem{Pointer: prefix, Message: err.Error()})
		return
	}
	// name is the pointer of a property whose name is at fault, under
	// propertyNames: its causes are about the name, not a value, and the
	// library validates the name alone, so the object's location is the
	// parent's.
	var walk func(ve *jsonschema.ValidationError, parent []string, name string)
	walk = func(ve *jsonschema.ValidationError, parent []string, name string) {
		if pn, ok := ve.ErrorKind.(*kind.PropertyNames); ok {
			name = prefix + pointer(append(slices.Clone(parent), pn.Property))
		}
		if len(ve.Causes) > 0 {
			for _, c := range ve.Causes {
				walk(c, ve.InstanceLocation, name)
			}
			return
		}
		ptr := prefix + pointer(ve.InstanceLocation)
		msg := ve.ErrorKind.LocalizedString(printer)
		switch ve.ErrorKind.(type) {
		case *kind.FalseSchema:
			msg = "not allowed"
		case *kind.Not:
			msg = "matches a schema it must not"
		}
		if name != "" {
			ptr, msg = name, "property name not allowed: "+msg
			if _, ok := ve.ErrorKind.(*kind.Not); ok {
				msg = "property name not allowed"
			}
		}
		p := Problem{Pointer: ptr, Message: msg}
		if !slices.Contains(e.Problems, p) {
			e.Problems = append(e.Problems, p)
		}
	}
	walk(ve, nil, "")
}

// pointer is the JSON pointer (RFC 6901) of an instance location.
func pointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		sb.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return sb.String()
}

// consistency checks what a schema cannot: that the envelope and data
// agree. Fields of the wrong type are left to the schemas.
func consistency(ev, data map[string]any) []Problem {
	var out []Problem
	key, _ := ev["partitionkey"].(string)
	if subject, ok := ev["subject"].(string); ok && key != "" && subject != "customer/"+key {
		out = append(out, Problem{"/subject", fmt.Sprintf("%q does not name the partition key's customer %q", subject, key)})
	}
	if seq, ok := ev["sequence"].(string); ok {
		if ver, ok := data["version"].(json.Number); ok && ver.String() != seq {
			out = append(out, Problem{"/data/version", fmt.Sprintf("%s is not the sequence %q", ver, seq)})
		}
	}
	if key == "" {
		return out
	}
	if id, ok := data["customer_id"].(string); ok && id != key {
		out = append(out, Problem{"/data/customer_id", fmt.Sprintf("%q is not the partition key %q", id, key)})
	}
	if ev["type"] == "cyclehub.customer.merged.v1" {
		surv, _ := data["survivor_id"].(string)
		merged, _ := data["merged_id"].(string)
		if surv != "" && merged != "" {
			if surv == merged {
				out = append(out, Problem{"/data/merged_id", "the merged record is the survivor"})
			} else if key != surv && key != merged {
				out = append(out, Problem{"/partitionkey", fmt.Sprintf("%q is neither the survivor nor the merged record", key)})
			}
		}
	}
	return out
}
