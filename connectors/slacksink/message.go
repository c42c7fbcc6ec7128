package slacksink

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"text/template"
	"time"

	"github.com/cyclehub/cyclehub/mapping"
)

// TemplateData is what a message template renders. Every string in it is
// escaped for Slack (&, <, >).
type TemplateData struct {
	// Type is the full event type (cyclehub.customer.stage_changed.v1);
	// Short its short name (stage_changed).
	Type, Short string
	ID          string
	Subject     string
	Time        time.Time
	// Data is the CloudEvent's data: JSON objects as map[string]any,
	// integers as int64, other numbers as float64. A missing key is nil:
	// use {{or .Data.x "fallback"}} or {{with .Data.x}}…{{end}}.
	Data map[string]any
	// Contact is the person (empty, never nil, when the delivery carries
	// none).
	Contact *mapping.Contact
}

// Name is how the message names the person: first and last name, else
// the email, else "customer <id>".
func (d TemplateData) Name() string {
	if n := strings.TrimSpace(d.Contact.FirstName + " " + d.Contact.LastName); n != "" {
		return n
	}
	if d.Contact.Email != "" {
		return d.Contact.Email
	}
	id := d.Contact.CustomerID
	if id == "" {
		id, _ = d.Data["customer_id"].(string)
	}
	if id == "" {
		id = strings.TrimPrefix(d.Subject, "customer/")
	}
	if id == "" {
		return "a customer"
	}
	return "customer " + id
}

// funcs are the template functions besides text/template's own.
var funcs = template.FuncMap{
	// join joins a list's items: {{join .Data.crossed ", "}}.
	"join": func(list any, sep string) string {
		switch l := list.(type) {
		case []any:
			parts := make([]string, len(l))
			for i, v := range l {
				parts[i] = fmt.Sprint(v)
			}
			return strings.Join(parts, sep)
		case []string:
			return strings.Join(l, sep)
		case nil:
			return ""
		}
		return fmt.Sprint(list)
	},
	// duration formats seconds roughly: 3d, 5h, 12m, 40s.
	"duration": func(v any) string {
		var s float64
		switch n := v.(type) {
		case int64:
			s = float64(n)
		case float64:
			s = n
		case int:
			s = float64(n)
		default:
			return ""
		}
		d := time.Duration(s) * time.Second
		switch {
		case d >= 24*time.Hour:
			return fmt.Sprintf("%dd", int(math.Round(d.Hours()/24)))
		case d >= time.Hour:
			return fmt.Sprintf("%dh", int(math.Round(d.Hours())))
		case d >= time.Minute:
			return fmt.Sprintf("%dm", int(math.Round(d.Minutes())))
		}
		return fmt.Sprintf("%ds", int(d.Seconds()))
	},
}

// typePrefix and the .vN suffix frame CycleHub's event types.
const typePrefix = "cyclehub.customer."

// shortType is an event type's short name: stage_changed for
// cyclehub.customer.stage_changed.v1 (other types as they are).
func shortType(typ string) string {
	s, ok := strings.CutPrefix(typ, typePrefix)
	if !ok {
		return typ
	}
	if i := strings.LastIndex(s, ".v"); i > 0 {
		s = s[:i]
	}
	return s
}

// templates are the parsed message templates by key.
type templates map[string]*template.Template

// parseTemplates parses the built-ins overlaid with the configured ones.
func parseTemplates(configured map[string]string) (templates, error) {
	all := DefaultTemplates()
	for k, v := range configured {
		all[k] = v
	}
	out := templates{}
	var errs []error
	for k, text := range all {
		t, err := parseTemplate(k, text)
		if err != nil {
			errs = append(errs, fmt.Errorf("templates.%s: %v", k, err))
			continue
		}
		out[k] = t
	}
	return out, errors.Join(errs...)
}

// pick is the most specific template of a record: <short>:<to_stage> for
// stage changes, then <short>, then default.
func (ts templates) pick(short string, data map[string]any) *template.Template {
	if to, _ := data["to_stage"].(string); to != "" {
		if t, ok := ts[short+":"+to]; ok {
			return t
		}
	}
	if t, ok := ts[short]; ok {
		return t
	}
	return ts[keyDefault]
}

// event is the part of the CloudEvent a message uses.
type event struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Subject string          `json:"subject"`
	Time    time.Time       `json:"time"`
	Data    json.RawMessage `json:"data"`
}

// errEmpty is a message that rendered to nothing (Slack refuses it).
var errEmpty = errors.New("the message is empty")

// render is the message text of r. Its errors are the record's: retrying
// cannot change them.
func (ts templates) render(r mapping.OutboxRecord) (string, error) {
	var ev event
	if err := json.Unmarshal(r.Payload, &ev); err != nil {
		return "", fmt.Errorf("read the event: %w", err)
	}
	data := map[string]any{}
	if len(ev.Data) > 0 && !bytes.Equal(ev.Data, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(ev.Data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", fmt.Errorf("read the event data: %w", err)
		}
		if m, ok := v.(map[string]any); ok {
			data = m
		}
	}
	if ev.ID == "" {
		ev.ID = r.EventID
	}
	if ev.Type == "" {
		ev.Type = r.Type
	}
	if ev.Time.IsZero() {
		ev.Time = r.Time
	}
	td := TemplateData{
		Type: escape(ev.Type), Short: escape(shortType(ev.Type)), ID: escape(ev.ID), Subject: escape(ev.Subject),
		Time: ev.Time, Data: escapeMap(data), Contact: escapeContact(r.Contact),
	}
	t := ts.pick(shortType(ev.Type), data)
	if t == nil {
		return "", errors.New("no template for the event")
	}
	var b strings.Builder
	if err := t.Execute(&b, td); err != nil {
		return "", fmt.Errorf("template %s: %w", t.Name(), err)
	}
	text := strings.TrimSpace(b.String())
	if text == "" {
		return "", fmt.Errorf("template %s: %w", t.Name(), errEmpty)
	}
	return text, nil
}

// slackEscaper escapes the characters Slack reads as markup: a value
// holding <!channel> or <https://x|y> is shown, not acted on.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escape(s string) string { return slackEscaper.Replace(s) }

// escapeValue escapes a decoded JSON value: strings escaped, numbers made
// int64 or float64, objects and arrays walked.
func escapeValue(v any) any {
	switch x := v.(type) {
	case string:
		return escape(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		return escapeMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = escapeValue(e)
		}
		return out
	}
	return v
}

func escapeMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = escapeValue(v)
	}
	return out
}

// escapeContact is an escaped copy of c (an empty contact for nil).
func escapeContact(c *mapping.Contact) *mapping.Contact {
	if c == nil {
		return &mapping.Contact{}
	}
	out := &mapping.Contact{
		CustomerID: escape(c.CustomerID), Email: escape(c.Email), Phone: escape(c.Phone),
		FirstName: escape(c.FirstName), LastName: escape(c.LastName), Company: escape(c.Company),
		JobTitle: escape(c.JobTitle), Country: escape(c.Country), Stage: escape(c.Stage), Status: escape(c.Status),
		MergedInto: escape(c.MergedInto),
	}
	if c.Traits != nil {
		out.Traits = make(map[string]string, len(c.Traits))
		for k, v := range c.Traits {
			out.Traits[k] = escape(v)
		}
	}
	return out
}
