package adminapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"

	"github.com/cyclehub/cyclehub/internal/adminapi"
	"github.com/cyclehub/cyclehub/store/pgstore"
	"github.com/cyclehub/cyclehub/store/pgstore/pgtest"
)

const testToken = "admin-token-0123456789abcdef"

// apiEnv is the admin API on a real store, served over HTTP.
type apiEnv struct {
	t     *testing.T
	api   *adminapi.API
	store *pgstore.Store
	url   string // the database
	srv   *httptest.Server
}

// newAPIEnv serves the admin API on a fresh database; configure, when
// set, adjusts the API before it is served.
func newAPIEnv(t *testing.T, configure func(*adminapi.API)) *apiEnv {
	t.Helper()
	st, url := pgtest.Open(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	api := adminapi.New(testToken, st, "DE", logrus.NewEntry(log))
	if configure != nil {
		configure(api)
	}
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &apiEnv{t: t, api: api, store: st, url: url, srv: srv}
}

// do sends a request with the bearer token and returns the status, the
// response headers and the body.
func (e *apiEnv) do(method, path, body string) (int, http.Header, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// doJSON is do with the body decoded as a JSON object.
func (e *apiEnv) doJSON(method, path, body string) (int, map[string]any) {
	e.t.Helper()
	code, _, b := e.do(method, path, body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatalf("%s %s: %d, body is not a JSON object: %s", method, path, code, b)
	}
	return code, out
}

// exec runs SQL statements on the database.
func (e *apiEnv) exec(stmts ...string) {
	e.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			e.t.Fatalf("%v\n%s", err, s)
		}
	}
}

func TestNewRoutesRequireTheBearerToken(t *testing.T) {
	e := newAPIEnv(t, nil)
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/v1/funnel", ""},
		{"POST", "/v1/inbox/replay", `{"source":"typeform","from":"2026-01-01","to":"2026-01-02"}`},
		{"GET", "/v1/customers/export", ""},
	} {
		req, _ := http.NewRequest(r.method, e.srv.URL+r.path, strings.NewReader(r.body))
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d, want 401", r.method, r.path, resp.StatusCode)
		}
	}
}
