package webhooks

import "net/http"

// handshakeSurveyMonkey answers the HEAD probe SurveyMonkey sends when a
// webhook is created, with 200 and no body.
func handshakeSurveyMonkey(_ SourceConfig, w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodHead {
		return false
	}
	w.WriteHeader(http.StatusOK)
	return true
}
