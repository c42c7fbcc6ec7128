package mapping

import "time"

// Consent statuses. A purpose never chosen is unknown, which means no
// marketing (DOMAIN.md, Privacy).
const (
	ConsentGranted = "granted"
	ConsentDenied  = "denied"
)

// ConsentChoice is one explicit choice an event carries: a purpose
// (email_marketing, sms_marketing, …) granted or denied, and how it was
// expressed (a form checkbox, an unsubscribe link, …).
type ConsentChoice struct {
	Purpose string `json:"purpose"`
	Status  string `json:"status"`
	Method  string `json:"method"`
}

// ConsentState is the current state of one purpose: the most recent
// explicit choice, with where and when it was made.
type ConsentState struct {
	Status string    `json:"status"`
	Source string    `json:"source"`
	Method string    `json:"method"`
	At     time.Time `json:"at"`
}

// ConsentRecord is a ledger row: a choice as it was recorded.
type ConsentRecord struct {
	CustomerID string
	Purpose    string
	Status     string
	Source     string
	Method     string
	InboxID    int64
	At         time.Time
}

// applyConsent folds a choice made at at into the current state: the most
// recent explicit choice wins. It reports whether the state changed.
func (c *Customer) applyConsent(ch ConsentChoice, source string, at time.Time) bool {
	if c.Consent == nil {
		c.Consent = map[string]ConsentState{}
	}
	cur, ok := c.Consent[ch.Purpose]
	if ok && at.Before(cur.At) {
		return false
	}
	next := ConsentState{Status: ch.Status, Source: source, Method: ch.Method, At: at}
	c.Consent[ch.Purpose] = next
	return !ok || cur.Status != next.Status
}
