package webhooks

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandshakeLinkedIn(t *testing.T) {
	const key = "test-secret-linkedin-client-0001"
	const code = "5b9a1b2c-3d4e-4f60-8a7b-9c0d1e2f3a4b"
	cfg := SourceConfig{Provider: "linkedin", Secret: key}
	handshake := Providers()["linkedin"].Handshake

	t.Run("a challengeCode is answered with its HMAC-SHA256 under the client secret", func(t *testing.T) {
		w := httptest.NewRecorder()
		if !handshake(cfg, w, httptest.NewRequest(http.MethodGet, "/hooks/linkedin?challengeCode="+code, nil)) {
			t.Fatal("not taken for a handshake")
		}
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("Content-Type %q", ct)
		}
		var got map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatalf("body %q: %v", w.Body.String(), err)
		}
		want := map[string]string{"challengeCode": code, "challengeResponse": hex.EncodeToString(hmacSHA256(key, []byte(code)))}
		if len(got) != 2 || got["challengeCode"] != want["challengeCode"] || got["challengeResponse"] != want["challengeResponse"] {
			t.Errorf("body %v, want %v", got, want)
		}
	})
	t.Run("the challenge response for a known code and secret is the expected value", func(t *testing.T) {
		// Computed with: printf %s "$code" | openssl dgst -sha256 -hmac "$key"
		const want = "c274c49c173f5b813b4bc862f76b09880facab4f1ee6fc3e189f920a5623f662"
		w := httptest.NewRecorder()
		handshake(cfg, w, httptest.NewRequest(http.MethodGet, "/hooks/linkedin?challengeCode="+code, nil))
		var got map[string]string
		_ = json.Unmarshal(w.Body.Bytes(), &got)
		if got["challengeResponse"] != want {
			t.Errorf("challengeResponse %q, want %q", got["challengeResponse"], want)
		}
	})

	tests := []struct {
		name      string
		cfg       SourceConfig
		method    string
		target    string
		handshake bool
		status    int
	}{
		{name: "a GET without challengeCode is not a handshake", cfg: cfg, method: http.MethodGet, target: "/hooks/linkedin"},
		{name: "a POST with challengeCode is not a handshake", cfg: cfg, method: http.MethodPost, target: "/hooks/linkedin?challengeCode=" + code},
		{name: "an empty challengeCode is answered 400", cfg: cfg, method: http.MethodGet, target: "/hooks/linkedin?challengeCode=", handshake: true, status: 400},
		{name: "a source without a secret answers 500 rather than an HMAC under an empty key", cfg: SourceConfig{Provider: "linkedin"}, method: http.MethodGet, target: "/hooks/linkedin?challengeCode=" + code, handshake: true, status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			got := handshake(tt.cfg, w, httptest.NewRequest(tt.method, tt.target, nil))
			if got != tt.handshake {
				t.Fatalf("handshake = %v, want %v", got, tt.handshake)
			}
			if got && w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			if !got && w.Body.Len() != 0 {
				t.Errorf("wrote %q for a request that is not a handshake", w.Body.String())
			}
		})
	}
}
