package adminapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/internal/secret"
	"github.com/cyclehub/cyclehub/store/pgstore"
)

// notFoundStore knows no customer; every other method panics (the
// embedded nil interface), so a request refused by auth must never reach it.
type notFoundStore struct{ Store }

func (notFoundStore) GetCustomer(context.Context, string) (*pgstore.CustomerView, error) {
	return nil, pgstore.ErrNotFound
}

func TestAdminAuth(t *testing.T) {
	const token = "admin-token-0123456789abcdef"
	tests := []struct {
		name   string
		token  secret.Secret // the API's
		header []string      // Authorization values sent
		want   int
	}{
		{"the right bearer token is let through", token, []string{"Bearer " + token}, http.StatusNotFound},
		{"the scheme is case-insensitive", token, []string{"bearer " + token}, http.StatusNotFound},
		{"spaces around the token are ignored", token, []string{"Bearer  " + token + " "}, http.StatusNotFound},
		{"no Authorization header is refused", token, nil, http.StatusUnauthorized},
		{"a wrong token is refused", token, []string{"Bearer wrong-token-0123456789abcd"}, http.StatusUnauthorized},
		{"a prefix of the token is refused", token, []string{"Bearer " + token[:len(token)-1]}, http.StatusUnauthorized},
		{"the token with a suffix is refused", token, []string{"Bearer " + token + "x"}, http.StatusUnauthorized},
		{"the token without a scheme is refused", token, []string{token}, http.StatusUnauthorized},
		{"the token as Basic credentials is refused", token, []string{"Basic " + token}, http.StatusUnauthorized},
		{"an empty bearer token is refused", token, []string{"Bearer "}, http.StatusUnauthorized},
		{"an API without a token refuses even an empty bearer token", "", []string{"Bearer "}, http.StatusUnauthorized},
		{"an API without a token refuses every token", "", []string{"Bearer " + token}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := logrus.New()
			log.SetOutput(io.Discard)
			mux := http.NewServeMux()
			New(tt.token, notFoundStore{}, "", logrus.NewEntry(log)).Register(mux)
			req := httptest.NewRequest(http.MethodGet, "/v1/customers/0198f3a0-0000-7000-8000-000000000000", nil)
			for _, h := range tt.header {
				req.Header.Add("Authorization", h)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tt.want, rec.Body)
			}
			if tt.want != http.StatusUnauthorized {
				return
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="cyclehub"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["error"] != "unauthorized" {
				t.Errorf("body %q, want the unauthorized JSON error", rec.Body)
			}
		})
	}
}
