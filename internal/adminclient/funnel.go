package adminclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// FunnelQuery selects a funnel: the period [From, To) (zero: the API's
// default) and the cohort horizon ("" the API's default).
type FunnelQuery struct {
	From, To time.Time
	Horizon  string
}

// Funnel is GET /v1/funnel (docs/funnel.md defines each metric). A rate
// whose denominator is zero is nil.
type Funnel struct {
	Period struct {
		From            time.Time `json:"from"`
		To              time.Time `json:"to"`
		HorizonDays     float64   `json:"horizon_days"`
		AsOf            time.Time `json:"as_of"`
		HorizonComplete bool      `json:"horizon_complete"`
	} `json:"period"`
	Ladder []string `json:"ladder"`
	Stages []struct {
		Stage   string `json:"stage"`
		Current int64  `json:"current"`
		Entries int64  `json:"entries"`
		Entered int64  `json:"entered"`
	} `json:"stages"`
	Conversions []struct {
		FromStage string   `json:"from_stage"`
		ToStage   string   `json:"to_stage"`
		Cohort    int64    `json:"cohort"`
		Converted int64    `json:"converted"`
		Rate      *float64 `json:"rate"`
	} `json:"conversions"`
	TimeInStage []struct {
		Stage           string   `json:"stage"`
		CompletedStints int64    `json:"completed_stints"`
		MedianHours     *float64 `json:"median_hours"`
		P90Hours        *float64 `json:"p90_hours"`
	} `json:"time_in_stage"`
	Leads struct {
		Total    int64 `json:"total"`
		BySource []struct {
			Source  *string `json:"source"`
			Channel string  `json:"channel"`
			Leads   int64   `json:"leads"`
		} `json:"by_source"`
	} `json:"leads"`
	WinRate struct {
		Won  int64    `json:"won"`
		Lost int64    `json:"lost"`
		Rate *float64 `json:"rate"`
	} `json:"win_rate"`
	SalesCycle struct {
		Won      int64    `json:"won"`
		MeanDays *float64 `json:"mean_days"`
	} `json:"sales_cycle"`
	Churn struct {
		CustomersAtStart int64    `json:"customers_at_start"`
		Lost             int64    `json:"lost"`
		Rate             *float64 `json:"rate"`
	} `json:"churn"`
	NPS struct {
		Responses  int64    `json:"responses"`
		Promoters  int64    `json:"promoters"`
		Passives   int64    `json:"passives"`
		Detractors int64    `json:"detractors"`
		Score      *float64 `json:"score"`
	} `json:"nps"`
	Referrals struct {
		New      int64    `json:"new"`
		Referred int64    `json:"referred"`
		Rate     *float64 `json:"rate"`
	} `json:"referrals"`

	Raw json.RawMessage `json:"-"`
}

// Funnel reads the funnel metrics of a period.
func (c *Client) Funnel(ctx context.Context, q FunnelQuery) (*Funnel, error) {
	v := url.Values{}
	setIf(v, "from", rfc3339(q.From))
	setIf(v, "to", rfc3339(q.To))
	setIf(v, "horizon", q.Horizon)
	var out Funnel
	raw, err := c.call(ctx, http.MethodGet, "/v1/funnel", v, nil, &out)
	if err != nil {
		return nil, err
	}
	out.Raw = raw
	return &out, nil
}
