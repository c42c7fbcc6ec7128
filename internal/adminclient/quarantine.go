package adminclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// QuarantineItem is a stored request the pipeline could not map
// (quarantined) or could not read (rejected).
type QuarantineItem struct {
	ID          int64     `json:"id"`
	RequestID   string    `json:"request_id"`
	Source      string    `json:"source"`
	Provider    string    `json:"provider"`
	Status      string    `json:"status"`
	Reason      string    `json:"reason"`
	Attempts    int       `json:"attempts"`
	ReceivedAt  time.Time `json:"received_at"`
	ContentType string    `json:"content_type"`
	BodyBytes   int       `json:"body_bytes"`
	Fetched     bool      `json:"fetched"`
}

// Quarantine is one page of GET /v1/quarantine, newest first.
type Quarantine struct {
	Items      []QuarantineItem `json:"items"`
	NextBefore int64            `json:"next_before"`
	Raw        json.RawMessage  `json:"-"`
}

// ListQuarantine lists quarantined and rejected requests, of one source
// when source is not "".
func (c *Client) ListQuarantine(ctx context.Context, source string, p Page) (*Quarantine, error) {
	q := p.values()
	setIf(q, "source", source)
	var out Quarantine
	raw, err := c.call(ctx, http.MethodGet, "/v1/quarantine", q, nil, &out)
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	return &out, nil
}

// Queued is the API's answer to a replay: {"status": "queued", "id": …}.
type Queued struct {
	Status  string          `json:"status"`
	ID      int64           `json:"id"`
	Refetch bool            `json:"refetch"`
	Raw     json.RawMessage `json:"-"`
}

// ReplayQuarantined queues a quarantined or rejected request again;
// refetch drops its stored provider API documents so they are fetched
// again. ErrNotFound: no such request in quarantine.
func (c *Client) ReplayQuarantined(ctx context.Context, id int64, refetch bool) (*Queued, error) {
	var q url.Values
	if refetch {
		q = url.Values{"refetch": {"true"}}
	}
	var out Queued
	raw, err := c.call(ctx, http.MethodPost, "/v1/quarantine/"+strconv.FormatInt(id, 10)+"/replay", q, nil, &out)
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	return &out, nil
}
