package mapping

import "time"

// Lifecycle is where a customer stands (DOMAIN.md, Stages and Scores): the
// stage and status, the scores with the rules that made them, and the
// signals the scores are computed from.
type Lifecycle struct {
	Stage          string    `json:"stage,omitempty"`
	StageEnteredAt time.Time `json:"stage_entered_at,omitzero"`
	// Status is customer_status: active, at_risk or churned ("" before
	// the person is a customer).
	Status  string  `json:"status,omitempty"`
	Scores  Scores  `json:"scores"`
	Signals Signals `json:"signals"`
	// ReferredBy is the customer who referred this one; ReferralCount how
	// many people this one referred.
	ReferredBy    string `json:"referred_by,omitempty"`
	ReferralCount int    `json:"referral_count,omitempty"`
}

// Scores are a customer's scores and the model that made them.
type Scores struct {
	Fit        float64 `json:"fit"`
	Engagement float64 `json:"engagement"`
	Health     float64 `json:"health"`
	// HealthZone is red, yellow or green by the model's health bounds.
	HealthZone string `json:"health_zone,omitempty"`
	// Band is fit grade × engagement level (A1 … C3).
	Band string `json:"band,omitempty"`
	// NPSCategory classifies the latest NPS answer.
	NPSCategory string `json:"nps_category,omitempty"`
	// Contributions explain each score: which rules gave how many points.
	Contributions map[string][]Contribution `json:"contributions,omitempty"`
	Model         string                    `json:"model,omitempty"`
}

// Contribution is the points one rule gave a score.
type Contribution struct {
	Rule   string  `json:"rule"`
	Points float64 `json:"points"`
}

// Signals are what scores are computed from, kept on the record so a
// score can be recomputed at any time (decay) without the history.
type Signals struct {
	// Engagement lists the points events earned, within the horizon.
	Engagement []Earned `json:"engagement,omitempty"`
	// Tickets are the support tickets of the last 90 days.
	Tickets []TicketSignal `json:"tickets,omitempty"`
	NPS     *ScoreSignal   `json:"nps,omitempty"`
	CSAT    *ScoreSignal   `json:"csat,omitempty"`
	// LastSeenAt is the latest interaction.
	LastSeenAt time.Time `json:"last_seen_at,omitzero"`
}

// Earned is the points one event earned under one engagement rule.
type Earned struct {
	Rule   string    `json:"rule"`
	Group  string    `json:"group,omitempty"`
	Points float64   `json:"points"`
	At     time.Time `json:"at"`
}

// TicketSignal is one support ticket as engagement and health see it.
type TicketSignal struct {
	ID       string    `json:"id"`
	Priority string    `json:"priority,omitempty"`
	Status   string    `json:"status,omitempty"`
	At       time.Time `json:"at"`
}

// ScoreSignal is the latest answer of a survey kind.
type ScoreSignal struct {
	Score float64   `json:"score"`
	At    time.Time `json:"at"`
}

// Phases of the lifecycle loop (DOMAIN.md).
const (
	PhaseAcquisition   = "acquisition"
	PhaseQualification = "qualification"
	PhaseConversion    = "conversion"
	PhaseRetention     = "retention"
	PhaseAdvocacy      = "advocacy"
)

// Customer statuses.
const (
	StatusActive  = "active"
	StatusAtRisk  = "at_risk"
	StatusChurned = "churned"
)
