package hubspotsink_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeHubSpot is a loopback stand-in for HubSpot's CRM v3 contacts API:
// batch upsert by email (refusing unknown properties and backward
// lifecycle stage moves, as HubSpot does), search, merge, GDPR delete and
// update, behind a bearer token.
type fakeHubSpot struct {
	URL   string
	token string

	mu       sync.Mutex
	nextID   int
	contacts map[string]map[string]string // object id -> properties
	requests []fakeRequest
	// intercept, when set, may answer a request itself (returning true).
	intercept func(w http.ResponseWriter, r *http.Request, body []byte) bool
}

type fakeRequest struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// knownProperties are the contact properties of the fake portal.
var knownProperties = []string{"email", "firstname", "lastname", "phone", "company", "jobtitle", "country",
	"lifecyclestage", "cyclehub_customer_id", "customer_status", "plan", "hs_object_id"}

// stageRank is HubSpot's lifecycle stage order.
var stageRank = map[string]int{"subscriber": 1, "lead": 2, "marketingqualifiedlead": 3, "salesqualifiedlead": 4,
	"opportunity": 5, "customer": 6, "evangelist": 7, "other": 8}

func newFakeHubSpot(t *testing.T, token string) *fakeHubSpot {
	f := &fakeHubSpot{token: token, nextID: 100, contacts: map[string]map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// seed adds a contact and returns its object id.
func (f *fakeHubSpot) seed(props map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.create(props)
}

func (f *fakeHubSpot) create(props map[string]string) string {
	f.nextID++
	id := fmt.Sprint(f.nextID)
	c := map[string]string{"hs_object_id": id}
	for k, v := range props {
		c[k] = v
	}
	f.contacts[id] = c
	return id
}

// contact returns a copy of a contact's properties (nil when absent).
func (f *fakeHubSpot) contact(id string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.contacts[id]; ok {
		out := map[string]string{}
		for k, v := range c {
			out[k] = v
		}
		return out
	}
	return nil
}

// byEmail returns the object id of the contact with email ("" if none).
func (f *fakeHubSpot) byEmail(email string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.findEmail(email)
}

func (f *fakeHubSpot) findEmail(email string) string {
	for id, c := range f.contacts {
		if email != "" && strings.EqualFold(c["email"], email) {
			return id
		}
	}
	return ""
}

func (f *fakeHubSpot) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.contacts)
}

// seen returns the requests received, optionally only those to path.
func (f *fakeHubSpot) seen(path string) []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRequest
	for _, r := range f.requests {
		if path == "" || r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeHubSpot) setIntercept(fn func(w http.ResponseWriter, r *http.Request, body []byte) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.intercept = fn
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func apiErr(category, msg string) map[string]any {
	return map[string]any{"status": "error", "category": category, "message": msg,
		"correlationId": "5b0c8a4e-0000-4000-8000-000000000000"}
}

func (f *fakeHubSpot) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, fakeRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	intercept := f.intercept
	f.mu.Unlock()
	if intercept != nil && intercept(w, r, body) {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		writeJSON(w, http.StatusUnauthorized, apiErr("INVALID_AUTHENTICATION",
			"Authentication credentials not found. This API supports OAuth 2.0 authentication."))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/contacts/batch/upsert":
		f.upsert(w, body)
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/contacts/search":
		f.search(w, body)
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/contacts/merge":
		f.merge(w, body)
	case r.Method == http.MethodPost && r.URL.Path == "/crm/v3/objects/contacts/gdpr-delete":
		f.gdprDelete(w, body)
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/crm/v3/objects/contacts/"):
		f.update(w, strings.TrimPrefix(r.URL.Path, "/crm/v3/objects/contacts/"), body)
	default:
		writeJSON(w, http.StatusNotFound, apiErr("OBJECT_NOT_FOUND", "no such endpoint"))
	}
}

type fakeInput struct {
	IDProperty string            `json:"idProperty"`
	ID         string            `json:"id"`
	Properties map[string]string `json:"properties"`
	Trace      string            `json:"objectWriteTraceId"`
}

func (f *fakeHubSpot) upsert(w http.ResponseWriter, body []byte) {
	var req struct {
		Inputs []fakeInput `json:"inputs"`
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.Inputs) == 0 || len(req.Inputs) > 100 {
		writeJSON(w, http.StatusBadRequest, apiErr("VALIDATION_ERROR", "Invalid input JSON or batch size"))
		return
	}
	seen := map[string]bool{}
	for _, in := range req.Inputs {
		if seen[strings.ToLower(in.ID)] {
			writeJSON(w, http.StatusBadRequest, apiErr("VALIDATION_ERROR", "Duplicate IDs found in batch input: ["+in.ID+"]"))
			return
		}
		seen[strings.ToLower(in.ID)] = true
	}
	var results, errs []map[string]any
	fail := func(in fakeInput, msg string) {
		errs = append(errs, map[string]any{"status": "error", "category": "VALIDATION_ERROR", "message": msg,
			"context": map[string][]string{"ids": {in.ID}}})
	}
inputs:
	for _, in := range req.Inputs {
		if in.IDProperty != "email" || in.ID == "" {
			fail(in, "idProperty must be email with a value")
			continue
		}
		for p := range in.Properties {
			if !slices.Contains(knownProperties, p) || p == "hs_object_id" {
				fail(in, fmt.Sprintf("Property values were not valid: [{\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":%q}]", p))
				continue inputs
			}
		}
		id := f.findEmail(in.ID)
		if st, ok := in.Properties["lifecyclestage"]; ok && id != "" && st != "" {
			if cur := f.contacts[id]["lifecyclestage"]; cur != "" && stageRank[st] < stageRank[cur] {
				fail(in, "Property values were not valid: lifecyclestage cannot be moved backward from "+cur+" to "+st)
				continue
			}
		}
		isNew := id == ""
		if isNew {
			id = f.create(map[string]string{"email": strings.ToLower(in.ID)})
		}
		for k, v := range in.Properties {
			f.contacts[id][k] = v
		}
		results = append(results, map[string]any{"id": id, "new": isNew, "properties": f.contacts[id],
			"objectWriteTraceId": in.Trace})
	}
	out := map[string]any{"status": "COMPLETE", "results": results, "startedAt": "2026-01-01T00:00:00Z",
		"completedAt": "2026-01-01T00:00:01Z"}
	status := http.StatusOK
	if len(errs) > 0 {
		out["errors"], out["numErrors"] = errs, len(errs)
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, out)
}

func (f *fakeHubSpot) search(w http.ResponseWriter, body []byte) {
	var req struct {
		FilterGroups []struct {
			Filters []struct {
				PropertyName, Operator, Value string
			}
		}
		Properties []string
	}
	if err := json.Unmarshal(body, &req); err != nil || len(req.FilterGroups) > 5 {
		writeJSON(w, http.StatusBadRequest, apiErr("VALIDATION_ERROR", "invalid search"))
		return
	}
	var results []map[string]any
	for _, id := range sortedKeys(f.contacts) {
		c := f.contacts[id]
		match := false
		for _, g := range req.FilterGroups {
			all := len(g.Filters) > 0
			for _, fl := range g.Filters {
				all = all && fl.Operator == "EQ" && c[fl.PropertyName] == fl.Value
			}
			match = match || all
		}
		if !match {
			continue
		}
		props := map[string]any{}
		for _, p := range req.Properties {
			if v, ok := c[p]; ok {
				props[p] = v
			} else {
				props[p] = nil
			}
		}
		results = append(results, map[string]any{"id": id, "properties": props, "archived": false})
	}
	writeJSON(w, http.StatusOK, map[string]any{"total": len(results), "results": results})
}

func (f *fakeHubSpot) merge(w http.ResponseWriter, body []byte) {
	var req struct{ PrimaryObjectID, ObjectIDToMerge string }
	_ = json.Unmarshal(body, &req)
	primary, merged := f.contacts[req.PrimaryObjectID], f.contacts[req.ObjectIDToMerge]
	if primary == nil || merged == nil || req.PrimaryObjectID == req.ObjectIDToMerge {
		writeJSON(w, http.StatusNotFound, apiErr("OBJECT_NOT_FOUND", "object not found"))
		return
	}
	for k, v := range merged {
		if primary[k] == "" {
			primary[k] = v
		}
	}
	delete(f.contacts, req.ObjectIDToMerge)
	writeJSON(w, http.StatusOK, map[string]any{"id": req.PrimaryObjectID, "properties": primary})
}

func (f *fakeHubSpot) gdprDelete(w http.ResponseWriter, body []byte) {
	var req struct{ ObjectID, IDProperty string }
	_ = json.Unmarshal(body, &req)
	id := req.ObjectID
	if req.IDProperty == "email" {
		id = f.findEmail(req.ObjectID)
	}
	if _, ok := f.contacts[id]; !ok {
		writeJSON(w, http.StatusNotFound, apiErr("OBJECT_NOT_FOUND", "resource not found"))
		return
	}
	delete(f.contacts, id)
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeHubSpot) update(w http.ResponseWriter, id string, body []byte) {
	var req struct {
		Properties map[string]string `json:"properties"`
	}
	_ = json.Unmarshal(body, &req)
	c, ok := f.contacts[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, apiErr("OBJECT_NOT_FOUND", "resource not found"))
		return
	}
	for k, v := range req.Properties {
		c[k] = v
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "properties": c})
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
