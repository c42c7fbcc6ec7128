package webhooksink

import "time"

// SetClock replaces the signature clock (tests).
func (s *Sink) SetClock(now func() time.Time) { s.now = now }

// Sign exposes the signer (tests: the published test vector).
func (s *Sink) Sign(id, ts string, body []byte, now time.Time) string {
	return s.sign(id, ts, body, now)
}
