package adminclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinels for errors.Is on an *APIError.
var (
	// ErrUnauthorized: the API refused the token (401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: no such record, or no such route on this daemon (404).
	ErrNotFound = errors.New("not found")
	// ErrGone: the customer was erased (410).
	ErrGone = errors.New("gone")
)

// APIError is an answer outside 2xx. Its message quotes the API's error
// JSON ({"error": code, "message": text}) as received.
type APIError struct {
	// BaseURL is the API that answered; Method and Path the call.
	BaseURL string
	Method  string
	Path    string
	Status  int
	// Code and Message are the API's "error" and "message" fields (empty
	// when the answer is not the API's error JSON, e.g. a proxy's page).
	Code    string
	Message string
	// Body is the answer: compact JSON, or its first bytes as text.
	Body string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Body != "" {
		msg += ": " + e.Body
	}
	if e.Status == http.StatusNotFound && e.Code == "" {
		msg += " (the daemon has no such endpoint: is it older than this client?)"
	}
	return msg
}

// Is matches ErrUnauthorized, ErrNotFound and ErrGone by status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrGone:
		return e.Status == http.StatusGone
	}
	return false
}

// maxQuoted bounds how much of a non-JSON answer an error quotes.
const maxQuoted = 300

func newAPIError(base, method, path string, status int, body []byte) *APIError {
	e := &APIError{BaseURL: base, Method: method, Path: path, Status: status}
	var doc struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &doc) == nil && doc.Error != "" {
		e.Code, e.Message = doc.Error, doc.Message
		e.Body = compact(body)
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > maxQuoted {
		text = text[:maxQuoted] + "…"
	}
	e.Body = text
	return e
}
