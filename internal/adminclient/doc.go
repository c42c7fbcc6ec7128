// Package adminclient is the Go client of CycleHub's admin API (/v1, a
// bearer token): customers, timelines, quarantine, deliveries, the funnel,
// inbox replays and exports. The cyclehub CLI is its user.
//
// It speaks HTTP with resty and imports nothing of CycleHub's: it knows the
// API by its JSON only. Every read returns the typed answer together with
// the API's JSON as received (Raw), so a caller can show either. Answers
// outside 2xx are *APIError, matched with errors.Is against
// ErrUnauthorized, ErrNotFound and ErrGone. There are no retries: a failed
// call says why, and the caller (an operator) decides.
//
// What does not belong here: flags, output formatting, reading the daemon's
// config (cmd/cyclehub does that), and anything that talks to the stores.
package adminclient
