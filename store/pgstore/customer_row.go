package pgstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// customerColumns are the columns customerRow scans, for a customers
// table aliased c.
const customerColumns = `c.id::text, c.version, c.traits, c.first_touch, c.last_touch, c.consent,
       c.created_at, c.updated_at, coalesce(c.merged_into::text, ''),
       coalesce(c.stage, ''), c.stage_entered_at, coalesce(c.customer_status, ''), c.scores, c.signals,
       coalesce(c.referred_by::text, ''), c.referral_count`

// customerRow scans a customer's columns (customerColumns) into c.
type customerRow struct {
	c                            *mapping.Customer
	traits, first, last, consent []byte
	scores, signals              []byte
	stageEntered                 *time.Time
}

func (r *customerRow) dest() []any {
	c := r.c
	return []any{&c.ID, &c.Version, &r.traits, &r.first, &r.last, &r.consent, &c.CreatedAt, &c.UpdatedAt, &c.MergedInto,
		&c.Lifecycle.Stage, &r.stageEntered, &c.Lifecycle.Status, &r.scores, &r.signals,
		&c.Lifecycle.ReferredBy, &c.Lifecycle.ReferralCount}
}

// decode fills in what the scan left as JSON.
func (r *customerRow) decode() error {
	c := r.c
	if r.stageEntered != nil {
		c.Lifecycle.StageEnteredAt = *r.stageEntered
	}
	for _, f := range []struct {
		name string
		raw  []byte
		into any
	}{
		{"traits", r.traits, &c.Traits}, {"consent", r.consent, &c.Consent}, {"first_touch", r.first, &c.FirstTouch},
		{"last_touch", r.last, &c.LastTouch}, {"scores", r.scores, &c.Lifecycle.Scores}, {"signals", r.signals, &c.Lifecycle.Signals},
	} {
		if len(f.raw) == 0 {
			continue
		}
		if err := json.Unmarshal(f.raw, f.into); err != nil {
			return fmt.Errorf("customer %s %s: %w", c.ID, f.name, err)
		}
	}
	return nil
}

// scanCustomer scans a row of customerColumns (plus extra leading
// destinations) into a new customer.
func scanCustomer(row pgx.Row, extra ...any) (*mapping.Customer, error) {
	r := customerRow{c: &mapping.Customer{}}
	if err := row.Scan(append(extra, r.dest()...)...); err != nil {
		return nil, err
	}
	return r.c, r.decode()
}
