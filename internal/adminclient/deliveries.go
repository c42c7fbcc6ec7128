package adminclient

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Delivery is one event's delivery to one destination.
type Delivery struct {
	ID             int64      `json:"id"`
	Destination    string     `json:"destination"`
	EventID        string     `json:"event_id"`
	CustomerID     string     `json:"customer_id"`
	EventType      string     `json:"event_type"`
	Status         string     `json:"status"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  *time.Time `json:"next_attempt_at"`
	LastError      *string    `json:"last_error"`
	LastHTTPStatus *int       `json:"last_http_status"`
	CreatedAt      time.Time  `json:"created_at"`
	FinishedAt     *time.Time `json:"finished_at"`
}

// DeliveryFilter selects deliveries.
type DeliveryFilter struct {
	// Status is pending, delivering, delivered or dead ("" any; the
	// dead-letter queue is "dead").
	Status string
	// Destination is a configured destination's name ("" any).
	Destination string
	// From and To bound when the delivery was created (zero: open).
	From, To time.Time
}

// Deliveries is one page of GET /v1/deliveries, newest first.
type Deliveries struct {
	Items      []Delivery      `json:"items"`
	NextBefore int64           `json:"next_before"`
	Raw        json.RawMessage `json:"-"`
}

// ListDeliveries lists deliveries matching f.
func (c *Client) ListDeliveries(ctx context.Context, f DeliveryFilter, p Page) (*Deliveries, error) {
	q := p.values()
	setIf(q, "status", f.Status)
	setIf(q, "destination", f.Destination)
	setIf(q, "from", rfc3339(f.From))
	setIf(q, "to", rfc3339(f.To))
	var out Deliveries
	raw, err := c.call(ctx, http.MethodGet, "/v1/deliveries", q, nil, &out)
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	return &out, nil
}

// ReplayDelivery queues one dead delivery again (and re-enables its
// destination). ErrNotFound: no dead delivery with that id.
func (c *Client) ReplayDelivery(ctx context.Context, id int64) (*Queued, error) {
	var out Queued
	raw, err := c.call(ctx, http.MethodPost, "/v1/deliveries/"+strconv.FormatInt(id, 10)+"/replay", nil, nil, &out)
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	return &out, nil
}

// BulkQueued is the answer to a bulk delivery replay.
type BulkQueued struct {
	Status     string          `json:"status"`
	Deliveries int             `json:"deliveries"`
	Raw        json.RawMessage `json:"-"`
}

// ReplayDeliveries queues again every delivery to f.Destination (required)
// with f.Status (dead unless "delivered") created between f.From and f.To.
func (c *Client) ReplayDeliveries(ctx context.Context, f DeliveryFilter) (*BulkQueued, error) {
	body := map[string]string{"destination": f.Destination}
	for k, v := range map[string]string{"status": f.Status, "from": rfc3339(f.From), "to": rfc3339(f.To)} {
		if v != "" {
			body[k] = v
		}
	}
	var out BulkQueued
	raw, err := c.call(ctx, http.MethodPost, "/v1/deliveries/replay", nil, body, &out)
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	return &out, nil
}
