package mapping

import (
	"strconv"
	"time"
)

// Ticket is a support ticket as its latest event describes it. Mappings of
// support desks name its fields as properties: ticket_id, ticket_subject,
// ticket_status, ticket_priority, ticket_channel, ticket_url.
type Ticket struct {
	CustomerID string
	Source     string
	TicketID   string
	Subject    string
	Status     string
	Priority   string
	Channel    string
	URL        string
	At         time.Time
}

// TicketOf returns the ticket an event is about, or nil.
func TicketOf(ev *Event) *Ticket {
	id := propString(ev, "ticket_id")
	if id == "" {
		return nil
	}
	return &Ticket{
		Source: ev.Source, TicketID: id, At: ev.OccurredAt,
		Subject: propString(ev, "ticket_subject"), Status: propString(ev, "ticket_status"),
		Priority: propString(ev, "ticket_priority"), Channel: propString(ev, "ticket_channel"), URL: propString(ev, "ticket_url"),
	}
}

// SurveyResponse is one answer to a survey. Mappings name its fields as
// properties: nps_score / csat_score / survey_score, nps_category,
// nps_comment / csat_comment / survey_comment, and the response's id as
// response_id or survey_response_id.
type SurveyResponse struct {
	CustomerID string
	Source     string
	ResponseID string
	Kind       string // nps, csat or other
	Score      string
	Category   string
	Comment    string
	At         time.Time
}

// SurveyResponseOf returns the survey answer an event carries, or nil.
// fallbackID names the response when the provider gives it no id (the
// request and record it came in).
func SurveyResponseOf(ev *Event, fallbackID string) *SurveyResponse {
	r := &SurveyResponse{Source: ev.Source, At: ev.OccurredAt}
	switch {
	case propString(ev, "nps_score") != "":
		r.Kind, r.Score, r.Comment = "nps", propString(ev, "nps_score"), propString(ev, "nps_comment")
		r.Category = propString(ev, "nps_category")
	case propString(ev, "csat_score") != "":
		r.Kind, r.Score, r.Comment = "csat", propString(ev, "csat_score"), propString(ev, "csat_comment")
	case propString(ev, "survey_score") != "":
		r.Kind, r.Score, r.Comment = "other", propString(ev, "survey_score"), propString(ev, "survey_comment")
	default:
		return nil
	}
	if r.Comment == "" {
		r.Comment = propString(ev, "survey_comment")
	}
	r.ResponseID = propString(ev, "response_id")
	if r.ResponseID == "" {
		r.ResponseID = propString(ev, "survey_response_id")
	}
	if r.ResponseID == "" {
		r.ResponseID = fallbackID
	}
	return r
}

// propString reads a scalar property as text.
func propString(ev *Event, key string) string {
	switch v := ev.Properties[key].(type) {
	case string:
		return v
	case interface{ String() string }:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case float64: // properties read back from storage
		return strconv.FormatFloat(v, 'f', -1, 64)
	case int:
		return strconv.Itoa(v)
	}
	return ""
}
