package adminclient

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// InboxReplay selects stored inbox requests to run through the pipeline
// again (after a mapping fix).
type InboxReplay struct {
	// Source is the configured source name (required).
	Source string
	// From and To bound when the requests were received.
	From, To time.Time
	// DryRun counts what would be queued and queues nothing.
	DryRun bool
	// Refetch drops the provider API documents stored with the requests
	// so they are fetched again.
	Refetch bool
}

// inboxReplayTimeout bounds a replay: the API works through a large range
// in batches for up to ten minutes before it answers.
const inboxReplayTimeout = 11 * time.Minute

// InboxReplayed counts the requests of the range by what happened to
// them (in a dry run: what would have).
type InboxReplayed struct {
	Source string    `json:"source"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Queued requests are pending again.
	Queued int `json:"queued"`
	// SkippedPurged requests have no payload any more (erasure).
	SkippedPurged int `json:"skipped_purged"`
	// SkippedApplied requests are on the record already (they have
	// timeline entries): processing them again would count them twice.
	SkippedApplied int `json:"skipped_applied"`
	// AlreadyPending requests are waiting to be processed anyway.
	AlreadyPending int `json:"already_pending"`
	// SkippedImported requests are rows of a bulk import (replayed by
	// running the import again).
	SkippedImported int             `json:"skipped_imported"`
	DryRun          bool            `json:"dry_run"`
	Raw             json.RawMessage `json:"-"`
}

// ReplayInbox queues the stored requests of a range again: POST
// /v1/inbox/replay. It may take minutes on a large range.
func (c *Client) ReplayInbox(ctx context.Context, r InboxReplay) (*InboxReplayed, error) {
	body := map[string]any{"source": r.Source, "from": rfc3339(r.From), "to": rfc3339(r.To), "dry_run": r.DryRun, "refetch": r.Refetch}
	var out InboxReplayed
	raw, err := c.callWithin(ctx, max(c.timeout, inboxReplayTimeout), http.MethodPost, "/v1/inbox/replay", nil, body, &out)
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	return &out, nil
}
