package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/cyclehub/cyclehub/store/pgstore"
)

// replayWriteWindow is how long a bulk replay may take before its answer
// is written (the server's write timeout is for ordinary requests).
const replayWriteWindow = 10 * time.Minute

// inboxReplayRequest is the body of POST /v1/inbox/replay.
type inboxReplayRequest struct {
	Source  string `json:"source"`
	From    string `json:"from"`
	To      string `json:"to"`
	DryRun  bool   `json:"dry_run"`
	Refetch bool   `json:"refetch"`
}

// inboxReplayResponse is the answer: the range replayed and the counts.
type inboxReplayResponse struct {
	Source string    `json:"source"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	*pgstore.InboxReplayResult
}

// replayInbox answers POST /v1/inbox/replay with a JSON body {"source",
// "from", "to", "dry_run", "refetch"}: every stored request of source
// received in [from, to) (RFC 3339 times or dates, midnight UTC) that
// can be processed again without counting twice is queued again
// (pgstore.ReplayInbox says which, and why applied ones are skipped),
// in batches. 202 with the counts; 200 with what would happen for a dry
// run. 400 when the body is bad.
func (a *API) replayInbox(w http.ResponseWriter, r *http.Request) {
	var req inboxReplayRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_body",
			`the body must be JSON {"source", "from", "to", "dry_run", "refetch"}: `+err.Error())
		return
	}
	q := pgstore.InboxReplay{Source: strings.TrimSpace(req.Source), DryRun: req.DryRun, Refetch: req.Refetch}
	if q.Source == "" {
		writeError(w, http.StatusBadRequest, "invalid_source", "source is required (a configured source name)")
		return
	}
	for _, p := range []struct {
		name, v string
		into    *time.Time
	}{{"from", req.From, &q.From}, {"to", req.To, &q.To}} {
		if p.v == "" {
			writeError(w, http.StatusBadRequest, "invalid_"+p.name, p.name+" is required")
			return
		}
		t, err := parseTimeParam(p.v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_"+p.name, p.name+" "+err.Error())
			return
		}
		*p.into = t
	}
	if !q.From.Before(q.To) {
		writeError(w, http.StatusBadRequest, "invalid_period", "from must be before to (the range is [from, to))")
		return
	}
	// A large range takes a while; the answer must still get out.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(replayWriteWindow))
	res, err := a.store.ReplayInbox(r.Context(), q)
	if res != nil && res.Queued > 0 && !q.DryRun && a.OnReplay != nil {
		a.OnReplay() // what was queued before a failure is queued
	}
	switch {
	case errors.Is(err, pgstore.ErrInvalidReplay):
		writeError(w, http.StatusBadRequest, "invalid_body", err.Error())
		return
	case err != nil:
		if res != nil {
			a.log.WithField("source", q.Source).WithField("queued", res.Queued).Warn("inbox replay stopped part way; running it again is safe")
		}
		a.unavailable(w, err)
		return
	}
	a.log.WithField("source", q.Source).WithField("queued", res.Queued).WithField("dry_run", q.DryRun).
		WithField("skipped_applied", res.SkippedApplied).WithField("skipped_purged", res.SkippedPurged).Info("inbox replay")
	status := http.StatusAccepted
	if q.DryRun {
		status = http.StatusOK
	}
	writeJSON(w, status, inboxReplayResponse{Source: q.Source, From: q.From, To: q.To, InboxReplayResult: res})
}
