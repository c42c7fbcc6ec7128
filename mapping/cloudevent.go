package mapping

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Lifecycle event types published on the stream (DESIGN.md §3).
const (
	TypeCustomerCreated = "cyclehub.customer.created.v1"
	TypeCustomerUpdated = "cyclehub.customer.updated.v1"
	TypeCustomerMerged  = "cyclehub.customer.merged.v1"
	TypeCustomerErased  = "cyclehub.customer.erased.v1"
	TypeStageChanged    = "cyclehub.customer.stage_changed.v1"
	TypeScoreChanged    = "cyclehub.customer.score_changed.v1"
)

// CloudEventSource is the `source` attribute of every event CycleHub emits.
const CloudEventSource = "/cyclehub/pipeline"

// CloudEvent is a CloudEvents 1.0 event in structured JSON mode.
type CloudEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	// Sequence is the customer record version (sequence extension). It is a
	// string per the extension's spec; it holds a base-10 integer.
	Sequence     string          `json:"sequence"`
	PartitionKey string          `json:"partitionkey"`
	Data         json.RawMessage `json:"data"`
}

// eventNamespace derives deterministic event ids: the same customer version
// always yields the same id, so a re-emitted event is recognizably the same.
var eventNamespace = uuid.MustParse("5b0c8a4e-3f7e-4b7c-9a55-0c1e2d3f4a5b")

// EventID is the stable id of a customer's event at a version.
func EventID(customerID string, version int64) string {
	return uuid.NewSHA1(eventNamespace, []byte(customerID+"/"+strconv.FormatInt(version, 10))).String()
}

// NewCloudEvent builds the envelope for a customer's event at its current
// version.
func NewCloudEvent(eventType string, c *Customer, at time.Time, data any) (*CloudEvent, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode %s data: %w", eventType, err)
	}
	return &CloudEvent{
		SpecVersion:     "1.0",
		ID:              EventID(c.ID, c.Version),
		Source:          CloudEventSource,
		Type:            eventType,
		Subject:         "customer/" + c.ID,
		Time:            at.UTC(),
		DataContentType: "application/json",
		Sequence:        strconv.FormatInt(c.Version, 10),
		PartitionKey:    c.ID,
		Data:            raw,
	}, nil
}

// Trigger names the interaction that caused a change.
type Trigger struct {
	Source     string    `json:"source"`
	EventType  string    `json:"event_type"`
	RequestID  string    `json:"request_id"`
	OccurredAt time.Time `json:"occurred_at"`
}

// CustomerChangedData is the `data` of created.v1 and updated.v1 events.
// Direct identifiers (email, phone, names) are left out: consumers that
// need them read the admin API with the customer id.
type CustomerChangedData struct {
	CustomerID    string            `json:"customer_id"`
	Version       int64             `json:"version"`
	ChangedTraits []string          `json:"changed_traits"`
	Traits        map[string]string `json:"traits"`
	// ChangedConsent lists purposes whose consent status changed; Consent
	// is every purpose's current status (granted or denied).
	ChangedConsent []string          `json:"changed_consent,omitempty"`
	Consent        map[string]string `json:"consent,omitempty"`
	FirstTouch     *Touch            `json:"first_touch,omitempty"`
	LastTouch      *Touch            `json:"last_touch,omitempty"`
	Trigger        Trigger           `json:"trigger"`
}

// ChangedEvent builds the created/updated event for a change just applied
// (c.Version must already be the new version).
func ChangedEvent(c *Customer, ch Change, trig Trigger) (*CloudEvent, error) {
	typ := TypeCustomerUpdated
	if ch.Created {
		typ = TypeCustomerCreated
	}
	changed := ch.ChangedTraits
	if changed == nil {
		changed = []string{}
	}
	return NewCloudEvent(typ, c, trig.OccurredAt, CustomerChangedData{
		CustomerID:     c.ID,
		Version:        c.Version,
		ChangedTraits:  changed,
		Traits:         streamTraits(c),
		ChangedConsent: ch.ChangedConsent,
		Consent:        consentStatuses(c),
		FirstTouch:     streamTouch(c.FirstTouch),
		LastTouch:      streamTouch(c.LastTouch),
		Trigger:        trig,
	})
}

// streamTraits are the traits the stream carries: no direct identifiers.
func streamTraits(c *Customer) map[string]string {
	traits := map[string]string{}
	for k, v := range c.Traits {
		if !IsPIITrait(k) {
			traits[k] = v.Value
		}
	}
	return traits
}

// consentStatuses is every purpose's current status (nil when none).
func consentStatuses(c *Customer) map[string]string {
	if len(c.Consent) == 0 {
		return nil
	}
	consent := map[string]string{}
	for p, st := range c.Consent {
		consent[p] = st.Status
	}
	return consent
}

// streamTouch is a touch as the stream carries it: page and referrer URLs
// lose their query and fragment, which can hold personal data (?email=).
func streamTouch(t *Touch) *Touch {
	if t == nil {
		return nil
	}
	out := *t
	out.PageURL, out.Referrer = stripQuery(t.PageURL), stripQuery(t.Referrer)
	return &out
}

func stripQuery(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}

// CustomerMergedData is the `data` of merged.v1, published on both keys:
// the survivor's and the merged record's. Ids only.
type CustomerMergedData struct {
	SurvivorID string `json:"survivor_id"`
	MergedID   string `json:"merged_id"`
	// LinkedBy is the kind of identifier the event shared with both.
	LinkedBy IdentityType `json:"linked_by"`
	// ChangedTraits names the survivor's traits the merge changed (on the
	// survivor's key; re-read the customer for their values).
	ChangedTraits []string `json:"changed_traits,omitempty"`
	// Version is the version of the record the event is keyed by.
	Version int64   `json:"version"`
	Trigger Trigger `json:"trigger"`
}

// MergedEvent builds the merged.v1 event for c (the survivor or the merged
// record, whose Version must already be the new one).
func MergedEvent(c *Customer, survivorID, mergedID string, linkedBy IdentityType, changed []string, trig Trigger) (*CloudEvent, error) {
	return NewCloudEvent(TypeCustomerMerged, c, trig.OccurredAt, CustomerMergedData{
		SurvivorID: survivorID, MergedID: mergedID, LinkedBy: linkedBy, ChangedTraits: changed, Version: c.Version, Trigger: trig,
	})
}

// CustomerErasedData is the `data` of erased.v1: ids only. Consumers drop
// everything they hold about the customer.
type CustomerErasedData struct {
	CustomerID string `json:"customer_id"`
	Version    int64  `json:"version"`
	// SurvivorID is set when an erased record had been merged into another
	// that was erased with it.
	SurvivorID string `json:"survivor_id,omitempty"`
}

// ErasedEvent builds the erased.v1 event for c at its new version.
func ErasedEvent(c *Customer, survivorID string, at time.Time) (*CloudEvent, error) {
	return NewCloudEvent(TypeCustomerErased, c, at, CustomerErasedData{CustomerID: c.ID, Version: c.Version, SurvivorID: survivorID})
}

// ScoreSummary is a customer's scores as the stream carries them.
type ScoreSummary struct {
	Fit         float64 `json:"fit"`
	Engagement  float64 `json:"engagement"`
	Health      float64 `json:"health"`
	HealthZone  string  `json:"health_zone,omitempty"`
	Band        string  `json:"band,omitempty"`
	NPSCategory string  `json:"nps_category,omitempty"`
	Model       string  `json:"model"`
}

func summary(s Scores) ScoreSummary {
	return ScoreSummary{Fit: s.Fit, Engagement: s.Engagement, Health: s.Health, HealthZone: s.HealthZone, Band: s.Band,
		NPSCategory: s.NPSCategory, Model: s.Model}
}

// StageChangedData is the `data` of stage_changed.v1.
type StageChangedData struct {
	CustomerID string `json:"customer_id"`
	Version    int64  `json:"version"`
	FromStage  string `json:"from_stage"`
	ToStage    string `json:"to_stage"`
	// Direction is forward or backward; Phase the new stage's phase.
	Direction string `json:"direction"`
	Phase     string `json:"phase,omitempty"`
	RuleID    string `json:"rule_id"`
	Reason    string `json:"reason,omitempty"`
	// TimeInPreviousStageSeconds is how long the customer was in
	// from_stage (0 when there was none).
	TimeInPreviousStageSeconds int64        `json:"time_in_previous_stage_seconds"`
	Status                     string       `json:"customer_status,omitempty"`
	Scores                     ScoreSummary `json:"scores"`
	Trigger                    Trigger      `json:"trigger"`
}

// StageChangedEvent builds stage_changed.v1 for c at its new version.
func StageChangedEvent(c *Customer, ch LifecycleChange, phase string, trig Trigger) (*CloudEvent, error) {
	return NewCloudEvent(TypeStageChanged, c, trig.OccurredAt, StageChangedData{
		CustomerID: c.ID, Version: c.Version, FromStage: ch.StageFrom, ToStage: ch.StageTo, Direction: ch.Direction,
		Phase: phase, RuleID: ch.StageRule, Reason: ch.Reason, TimeInPreviousStageSeconds: int64(ch.TimeInPrevious.Seconds()),
		Status: c.Lifecycle.Status, Scores: summary(c.Lifecycle.Scores), Trigger: trig,
	})
}

// ScoreChangedData is the `data` of score_changed.v1: published when the
// band changes or a score crosses a threshold, not on every point.
type ScoreChangedData struct {
	CustomerID string `json:"customer_id"`
	Version    int64  `json:"version"`
	BandFrom   string `json:"band_from,omitempty"`
	BandTo     string `json:"band_to,omitempty"`
	// Crossed names the scores that crossed a threshold.
	Crossed []string `json:"crossed,omitempty"`
	// StatusFrom and StatusTo are customer_status before and after.
	StatusFrom    string                    `json:"customer_status_from,omitempty"`
	StatusTo      string                    `json:"customer_status_to,omitempty"`
	Scores        ScoreSummary              `json:"scores"`
	Contributions map[string][]Contribution `json:"contributions,omitempty"`
	Trigger       Trigger                   `json:"trigger"`
}

// ScoreChangedEvent builds score_changed.v1 for c at its new version.
func ScoreChangedEvent(c *Customer, ch LifecycleChange, trig Trigger) (*CloudEvent, error) {
	return NewCloudEvent(TypeScoreChanged, c, trig.OccurredAt, ScoreChangedData{
		CustomerID: c.ID, Version: c.Version, BandFrom: ch.BandFrom, BandTo: ch.BandTo, Crossed: ch.Crossed,
		StatusFrom: ch.StatusFrom, StatusTo: ch.StatusTo, Scores: summary(c.Lifecycle.Scores),
		Contributions: c.Lifecycle.Scores.Contributions, Trigger: trig,
	})
}

// MarshalCloudEvent is a CloudEvent's structured JSON, as the outbox
// stores and every sink sends it.
func MarshalCloudEvent(ce *CloudEvent) ([]byte, error) { return json.Marshal(ce) }
