package webhooks

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandshakeMeta(t *testing.T) {
	const token = "test-verify-token-meta-0001"
	cfg := SourceConfig{Provider: "meta", Secret: "test-meta-app-secret", VerifyToken: token}
	tests := []struct {
		name      string
		cfg       SourceConfig
		method    string
		target    string
		handshake bool
		status    int
		body      string
	}{
		{name: "the right verify token is answered 200 with the challenge", cfg: cfg, method: http.MethodGet, target: "/hooks/meta?hub.mode=subscribe&hub.challenge=1903260781&hub.verify_token=" + token, handshake: true, status: 200, body: "1903260781"},
		{name: "the challenge is echoed verbatim, escapes decoded once", cfg: cfg, method: http.MethodGet, target: "/hooks/meta?hub.mode=subscribe&hub.challenge=a%2Bb+c&hub.verify_token=" + token, handshake: true, status: 200, body: "a+b c"},
		{name: "a wrong verify token is answered 403", cfg: cfg, method: http.MethodGet, target: "/hooks/meta?hub.mode=subscribe&hub.challenge=1903260781&hub.verify_token=wrong", handshake: true, status: 403},
		{name: "a missing verify token is answered 403", cfg: cfg, method: http.MethodGet, target: "/hooks/meta?hub.mode=subscribe&hub.challenge=1903260781", handshake: true, status: 403},
		{name: "a mode other than subscribe is answered 403", cfg: cfg, method: http.MethodGet, target: "/hooks/meta?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=" + token, handshake: true, status: 403},
		{name: "a source without a verify token refuses every handshake", cfg: SourceConfig{Provider: "meta"}, method: http.MethodGet, target: "/hooks/meta?hub.mode=subscribe&hub.challenge=1&hub.verify_token=", handshake: true, status: 403},
		{name: "a handshake without a challenge is answered 400", cfg: cfg, method: http.MethodGet, target: "/hooks/meta?hub.mode=subscribe&hub.verify_token=" + token, handshake: true, status: 400},
		{name: "a GET without hub.mode is not a handshake", cfg: cfg, method: http.MethodGet, target: "/hooks/meta?hub.challenge=1&hub.verify_token=" + token},
		{name: "a POST carrying handshake parameters is not a handshake", cfg: cfg, method: http.MethodPost, target: "/hooks/meta?hub.mode=subscribe&hub.challenge=1&hub.verify_token=" + token},
		{name: "a HEAD is not a handshake", cfg: cfg, method: http.MethodHead, target: "/hooks/meta"},
	}
	handshake := Providers()["meta"].Handshake
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			got := handshake(tt.cfg, w, httptest.NewRequest(tt.method, tt.target, nil))
			if got != tt.handshake {
				t.Fatalf("handshake = %v, want %v", got, tt.handshake)
			}
			if !got {
				if w.Code != 200 || w.Body.Len() != 0 || len(w.Header()) != 0 {
					t.Errorf("wrote a response (%d %q) for a request that is not a handshake", w.Code, w.Body.String())
				}
				return
			}
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if tt.status == 200 {
				if w.Body.String() != tt.body {
					t.Errorf("body %q, want %q", w.Body.String(), tt.body)
				}
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type %q, want text/plain", ct)
				}
				return
			}
			if strings.Contains(w.Body.String(), token) {
				t.Errorf("the refusal %q reveals the verify token", w.Body.String())
			}
		})
	}
}
