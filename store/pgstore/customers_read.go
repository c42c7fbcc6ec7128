package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// ErrNotFound means no such record.
var ErrNotFound = errors.New("not found")

// CustomerView is a customer with its identities, merge history, tickets
// and survey responses, as the admin API shows it.
type CustomerView struct {
	Customer   mapping.Customer
	Identities []IdentityView
	// ErasedAt is set when the profile was erased on request.
	ErasedAt  *time.Time
	Merges    []MergeView
	Conflicts []ConflictView
	Tickets   []TicketView
	Responses []ResponseView
	// StageHistory is every stint in a stage, oldest first.
	StageHistory []StageStint
}

// StageStint is one stint of a customer in a stage.
type StageStint struct {
	Stage     string     `json:"stage"`
	EnteredAt time.Time  `json:"entered_at"`
	ExitedAt  *time.Time `json:"exited_at"`
	Direction string     `json:"direction"`
	// RuleID is the rule that moved the customer here ("merge" when a
	// merge did); Reason says why for a backward move.
	RuleID string `json:"rule_id,omitempty"`
	Reason string `json:"reason,omitempty"`
	// RequestID is the webhook that triggered the move ("" for a move
	// time made: the sweeper's).
	RequestID string `json:"request_id,omitempty"`
	// Trigger is the event type that moved it, or the re-evaluation
	// that did (lifecycle.sweep, lifecycle.requeued, rules.apply).
	Trigger string `json:"trigger,omitempty"`
	Model   string `json:"model,omitempty"`
}

// IdentityView is one identity of a customer.
type IdentityView struct {
	Type      string
	Value     string
	Source    string
	FirstSeen time.Time
	LastSeen  time.Time
}

// MergeView is one merge the customer took part in.
type MergeView struct {
	SurvivorID   string    `json:"survivor_id"`
	MergedID     string    `json:"merged_id"`
	IdentityType string    `json:"linked_by"`
	Source       string    `json:"source"`
	MergedAt     time.Time `json:"merged_at"`
}

// ConflictView is a merge refused because it would give one person two
// tenant user ids.
type ConflictView struct {
	CustomerIDs []string  `json:"customer_ids"`
	Reason      string    `json:"reason"`
	Source      string    `json:"source"`
	DetectedAt  time.Time `json:"detected_at"`
}

// TicketView is a support ticket of the customer.
type TicketView struct {
	Source   string    `json:"source"`
	TicketID string    `json:"ticket_id"`
	Subject  *string   `json:"subject,omitempty"`
	Status   *string   `json:"status,omitempty"`
	Priority *string   `json:"priority,omitempty"`
	Channel  *string   `json:"channel,omitempty"`
	URL      *string   `json:"url,omitempty"`
	OpenedAt time.Time `json:"opened_at"`
	Updated  time.Time `json:"updated_at"`
}

// ResponseView is a survey answer of the customer.
type ResponseView struct {
	Source     string    `json:"source"`
	ResponseID string    `json:"response_id"`
	Kind       string    `json:"kind"`
	Score      *string   `json:"score,omitempty"`
	Category   *string   `json:"category,omitempty"`
	Comment    *string   `json:"comment,omitempty"`
	AnsweredAt time.Time `json:"answered_at"`
}

// recentRows caps the tickets and responses a customer view lists.
const recentRows = 20

// GetCustomer returns the customer with id, or ErrNotFound. A merged
// record comes back with Customer.MergedInto set (and nothing else).
func (s *Store) GetCustomer(ctx context.Context, id string) (*CustomerView, error) {
	if !validUUID(id) {
		return nil, ErrNotFound
	}
	var v CustomerView
	c, err := scanCustomer(s.pool.QueryRow(ctx, `SELECT c.erased_at, `+customerColumns+` FROM customers c WHERE c.id = $1`, id), &v.ErasedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get customer: %w", err)
	}
	v.Customer = *c
	if v.Customer.MergedInto != "" || v.ErasedAt != nil {
		return &v, nil
	}
	reads := []struct {
		name string
		sql  string
		into func(pgx.Rows) error
	}{
		{"identities", `SELECT type, value, source, first_seen, last_seen FROM identities
			WHERE customer_id = $1 ORDER BY type, value`, func(r pgx.Rows) (err error) {
			v.Identities, err = pgx.CollectRows(r, pgx.RowToStructByPos[IdentityView])
			return err
		}},
		{"merges", `SELECT survivor_id::text, merged_id::text, identity_type, source, merged_at FROM merges
			WHERE survivor_id = $1 OR merged_id = $1 ORDER BY id`, func(r pgx.Rows) (err error) {
			v.Merges, err = pgx.CollectRows(r, pgx.RowToStructByPos[MergeView])
			return err
		}},
		{"merge conflicts", `SELECT customer_ids::text[], reason, source, detected_at FROM merge_conflicts
			WHERE $1 = ANY(customer_ids) ORDER BY id`, func(r pgx.Rows) (err error) {
			v.Conflicts, err = pgx.CollectRows(r, pgx.RowToStructByPos[ConflictView])
			return err
		}},
		{"tickets", `SELECT source, ticket_id, subject, status, priority, channel, url, opened_at, updated_at FROM tickets
			WHERE customer_id = $1 ORDER BY updated_at DESC, id DESC LIMIT ` + strconv.Itoa(recentRows), func(r pgx.Rows) (err error) {
			v.Tickets, err = pgx.CollectRows(r, pgx.RowToStructByPos[TicketView])
			return err
		}},
		{"survey responses", `SELECT source, response_id, kind, score::text, category, comment, answered_at FROM survey_responses
			WHERE customer_id = $1 ORDER BY answered_at DESC, id DESC LIMIT ` + strconv.Itoa(recentRows), func(r pgx.Rows) (err error) {
			v.Responses, err = pgx.CollectRows(r, pgx.RowToStructByPos[ResponseView])
			return err
		}},
		{"stage history", `SELECT stage, entered_at, exited_at, direction, coalesce(rule_id, ''), coalesce(reason, ''),
			coalesce(request_id::text, ''), coalesce(trigger, ''), coalesce(model, '') FROM stage_history
			WHERE customer_id = $1 ORDER BY entered_at, id`, func(r pgx.Rows) (err error) {
			v.StageHistory, err = pgx.CollectRows(r, pgx.RowToStructByPos[StageStint])
			return err
		}},
	}
	for _, rd := range reads {
		rows, err := s.pool.Query(ctx, rd.sql, id)
		if err != nil {
			return nil, fmt.Errorf("get customer %s: %w", rd.name, err)
		}
		if err := rd.into(rows); err != nil {
			return nil, fmt.Errorf("get customer %s: %w", rd.name, err)
		}
	}
	return &v, nil
}

// Survivor follows a merged id to the record that holds its person now
// (through chains of merges); "" when id is not merged.
func (s *Store) Survivor(ctx context.Context, id string) (string, error) {
	var survivor string
	err := s.pool.QueryRow(ctx, `
		WITH RECURSIVE chain(id, merged_into, depth) AS (
		    SELECT id, merged_into, 0 FROM customers WHERE id = $1
		    UNION ALL
		    SELECT c.id, c.merged_into, chain.depth + 1 FROM customers c JOIN chain ON c.id = chain.merged_into
		    WHERE chain.depth < 64
		)
		SELECT coalesce((SELECT id::text FROM chain WHERE merged_into IS NULL AND depth > 0), '')`, id).Scan(&survivor)
	if err != nil {
		return "", fmt.Errorf("follow merges of %s: %w", id, err)
	}
	return survivor, nil
}

// FindCustomerID returns the id of the customer holding the identity.
func (s *Store) FindCustomerID(ctx context.Context, id mapping.Identity) (string, error) {
	var cid string
	err := s.pool.QueryRow(ctx, `SELECT customer_id::text FROM identities WHERE type = $1 AND value = $2`,
		string(id.Type), id.Value).Scan(&cid)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("find customer: %w", err)
	}
	return cid, nil
}

func validUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
				return false
			}
		}
	}
	return true
}
