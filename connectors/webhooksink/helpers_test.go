package webhooksink_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

type goneHandler struct{}

func (goneHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "this endpoint was deleted", http.StatusGone)
}

func startServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
