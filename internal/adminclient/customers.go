package adminclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Customer is GET /v1/customers/{id}: the unified record. Fields the CLI
// does not show stay in Raw.
type Customer struct {
	ID             string                     `json:"id"`
	Version        int64                      `json:"version"`
	CreatedAt      time.Time                  `json:"created_at"`
	UpdatedAt      time.Time                  `json:"updated_at"`
	Traits         map[string]string          `json:"traits"`
	Identities     []Identity                 `json:"identities"`
	Attribution    map[string]map[string]any  `json:"attribution"`
	Consent        map[string]json.RawMessage `json:"consent"`
	Stage          *string                    `json:"stage"`
	StageEnteredAt *time.Time                 `json:"stage_entered_at"`
	Status         *string                    `json:"customer_status"`
	Scores         Scores                     `json:"scores"`
	StageHistory   []StageStint               `json:"stage_history"`
	ReferredBy     *string                    `json:"referred_by"`
	ReferralCount  int                        `json:"referral_count"`
	Merges         []json.RawMessage          `json:"merges"`
	Tickets        []json.RawMessage          `json:"tickets"`
	Responses      []json.RawMessage          `json:"survey_responses"`

	// Raw is the API's answer as received.
	Raw json.RawMessage `json:"-"`
}

// Identity is one identifier linked to a customer.
type Identity struct {
	Type      string    `json:"type"`
	Value     string    `json:"value"`
	Source    string    `json:"source"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Scores are the lifecycle scores.
type Scores struct {
	Fit         float64 `json:"fit"`
	Engagement  float64 `json:"engagement"`
	Health      float64 `json:"health"`
	HealthZone  string  `json:"health_zone"`
	Band        string  `json:"band"`
	NPSCategory string  `json:"nps_category"`
	Model       string  `json:"model"`
}

// StageStint is one stay in a lifecycle stage.
type StageStint struct {
	Stage     string     `json:"stage"`
	EnteredAt time.Time  `json:"entered_at"`
	ExitedAt  *time.Time `json:"exited_at"`
	Direction string     `json:"direction"`
	RuleID    string     `json:"rule_id"`
	Reason    string     `json:"reason"`
}

// GetCustomer reads one customer. A merged id answers with the record
// that holds the person now (the API redirects); an erased one is ErrGone.
func (c *Client) GetCustomer(ctx context.Context, id string) (*Customer, error) {
	var out Customer
	raw, err := c.call(ctx, http.MethodGet, "/v1/customers/"+url.PathEscape(id), nil, nil, &out)
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	return &out, nil
}

// Lookup is one identifier to find a customer by: Type is one of the
// LookupTypes.
type Lookup struct {
	Type  string
	Value string
}

// LookupTypes are the identifiers GET /v1/customers can search by.
var LookupTypes = []string{"email", "phone", "user_id", "external_id", "anonymous_id"}

// FindCustomer finds the customer holding an identifier (emails and
// phone numbers are normalized by the API as on ingest).
func (c *Client) FindCustomer(ctx context.Context, l Lookup) (*Customer, error) {
	var out Customer
	raw, err := c.call(ctx, http.MethodGet, "/v1/customers", url.Values{l.Type: {l.Value}}, nil, &out)
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	return &out, nil
}

// TimelineEntry is one interaction of a customer.
type TimelineEntry struct {
	ID         int64           `json:"id"`
	Source     string          `json:"source"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	RequestID  string          `json:"request_id"`
	Properties json.RawMessage `json:"properties"`
}

// Timeline is one page of a customer's interactions, newest first.
type Timeline struct {
	Items []TimelineEntry `json:"items"`
	// NextBefore continues with the next page (0: this was the last).
	NextBefore int64           `json:"next_before"`
	Raw        json.RawMessage `json:"-"`
}

// Timeline reads a page of a customer's timeline.
func (c *Client) Timeline(ctx context.Context, id string, p Page) (*Timeline, error) {
	var out Timeline
	raw, err := c.call(ctx, http.MethodGet, "/v1/customers/"+url.PathEscape(id)+"/timeline", p.values(), nil, &out)
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	return &out, nil
}

// ExportQuery selects the customers to export.
type ExportQuery struct {
	// Format is jsonl (one JSON document a line) or csv.
	Format string
	// Stage keeps customers in this lifecycle stage ("" any).
	Stage string
	// UpdatedSince keeps customers updated at or after it (zero: any).
	UpdatedSince time.Time
}

// Export streams GET /v1/customers/export. The caller reads the body to
// its end and closes it; the call has no deadline but ctx (the wait for
// the first byte is bounded by the client's timeout).
func (c *Client) Export(ctx context.Context, q ExportQuery) (io.ReadCloser, error) {
	v := url.Values{}
	setIf(v, "format", q.Format)
	setIf(v, "stage", q.Stage)
	setIf(v, "updated_since", rfc3339(q.UpdatedSince))
	return c.stream(ctx, "/v1/customers/export", v)
}
