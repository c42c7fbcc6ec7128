package fixturetest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// apiCall is a fixture's recorded API call: url and response (or
// response_excerpt).
type apiCall struct {
	URL             string          `json:"url"`
	Response        json.RawMessage `json:"response"`
	ResponseExcerpt json.RawMessage `json:"response_excerpt"`
}

// Responses returns the API answers by URL path (no query) of a fixture's
// api_fetch (one call or a list) and of local answers (null: a 404). A
// path containing "<…>" (the fixtures' placeholder for an encoded id)
// matches by its prefix.
func Responses(t testing.TB, apiFetch json.RawMessage, local map[string]json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	out := map[string]json.RawMessage{}
	for k, v := range local {
		out[k] = v
	}
	if len(apiFetch) == 0 || string(apiFetch) == "null" {
		return out
	}
	var calls []apiCall
	if apiFetch[0] == '[' {
		if err := json.Unmarshal(apiFetch, &calls); err != nil {
			t.Fatalf("api_fetch: %v", err)
		}
	} else {
		var one apiCall
		if err := json.Unmarshal(apiFetch, &one); err != nil {
			t.Fatalf("api_fetch: %v", err)
		}
		calls = []apiCall{one}
	}
	for _, call := range calls {
		path := call.URL
		if i := strings.Index(path, "://"); i >= 0 {
			path = path[i+3:]
			if j := strings.IndexByte(path, '/'); j >= 0 {
				path = path[j:]
			}
		}
		path, _, _ = strings.Cut(path, "?")
		body := call.Response
		if len(body) == 0 {
			body = call.ResponseExcerpt
		}
		out[path] = body
		// LinkedIn's sample gives its form's questions beside the response
		// (form_questions_from_GET_leadForms): serve them as the form.
		var hint struct {
			Questions map[string]string `json:"form_questions_from_GET_leadForms"`
		}
		if json.Unmarshal(body, &hint) == nil && len(hint.Questions) > 0 {
			ids := make([]string, 0, len(hint.Questions))
			for id := range hint.Questions {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			var qs []map[string]any
			for _, id := range ids {
				n, _ := strconv.Atoi(id)
				qs = append(qs, map[string]any{"questionId": n, "predefinedField": hint.Questions[id]})
			}
			form, _ := json.Marshal(map[string]any{"content": map[string]any{"questions": qs}})
			out["/rest/leadForms/<id>"] = form
		}
	}
	return out
}

// Lookup finds the answer for a request path (its query is ignored).
func Lookup(responses map[string]json.RawMessage, path string) (json.RawMessage, bool) {
	path, _, _ = strings.Cut(path, "?")
	if body, ok := responses[path]; ok {
		return body, true
	}
	for k, v := range responses {
		if i := strings.IndexByte(k, '<'); i >= 0 && strings.HasPrefix(path, k[:i]) {
			return v, true
		}
	}
	return nil, false
}

// API is a loopback provider API serving recorded answers.
type API struct {
	*httptest.Server
	mu    sync.Mutex
	calls []string
	auth  []string
}

// NewAPI serves responses (JSON null and unknown paths answer 404). It is
// closed when the test ends.
func NewAPI(t testing.TB, responses map[string]json.RawMessage) *API {
	t.Helper()
	a := &API{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.calls = append(a.calls, r.URL.RequestURI())
		a.auth = append(a.auth, r.Header.Get("Authorization")+r.Header.Get("X-Api-Token"))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		body, ok := Lookup(responses, r.URL.EscapedPath())
		if !ok || string(body) == "null" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"message":"not found"}}`))
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(a.Close)
	return a
}

// Calls returns the request URIs received so far.
func (a *API) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

// Auth returns the credentials (Authorization or X-API-TOKEN) of each call.
func (a *API) Auth() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.auth...)
}
