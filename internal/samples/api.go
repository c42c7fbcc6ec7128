package samples

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
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
func Responses(apiFetch json.RawMessage, local map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	for k, v := range local {
		out[k] = v
	}
	if len(apiFetch) == 0 || string(apiFetch) == "null" {
		return out, nil
	}
	var calls []apiCall
	if apiFetch[0] == '[' {
		if err := json.Unmarshal(apiFetch, &calls); err != nil {
			return nil, fmt.Errorf("api_fetch: %w", err)
		}
	} else {
		var one apiCall
		if err := json.Unmarshal(apiFetch, &one); err != nil {
			return nil, fmt.Errorf("api_fetch: %w", err)
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
	return out, nil
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
