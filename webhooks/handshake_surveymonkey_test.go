package webhooks

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandshakeSurveyMonkey(t *testing.T) {
	handshake := Providers()["surveymonkey"].Handshake
	tests := []struct {
		name      string
		method    string
		handshake bool
	}{
		{name: "the HEAD probe at webhook creation is answered 200", method: http.MethodHead, handshake: true},
		{name: "a GET is not a handshake", method: http.MethodGet},
		{name: "a POST is not a handshake", method: http.MethodPost},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			got := handshake(SourceConfig{Provider: "surveymonkey"}, w, httptest.NewRequest(tt.method, "/hooks/surveymonkey", nil))
			if got != tt.handshake {
				t.Fatalf("handshake = %v, want %v", got, tt.handshake)
			}
			if w.Code != http.StatusOK || w.Body.Len() != 0 {
				t.Errorf("answered %d %q, want 200 with no body", w.Code, w.Body.String())
			}
		})
	}
}
