package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cyclehub/cyclehub/mapping"
)

// ErrNotFound means no such record.
var ErrNotFound = errors.New("not found")

// CustomerView is a customer with its identities, as the admin API shows it.
type CustomerView struct {
	Customer   mapping.Customer
	Identities []IdentityView
}

// IdentityView is one identity of a customer.
type IdentityView struct {
	Type      string
	Value     string
	Source    string
	FirstSeen time.Time
	LastSeen  time.Time
}

// GetCustomer returns the customer with id, or ErrNotFound.
func (s *Store) GetCustomer(ctx context.Context, id string) (*CustomerView, error) {
	if !validUUID(id) {
		return nil, ErrNotFound
	}
	var (
		v                   CustomerView
		traits, first, last []byte
	)
	err := s.pool.QueryRow(ctx, `
		SELECT id::text, version, traits, first_touch, last_touch, created_at, updated_at
		FROM customers WHERE id = $1`, id).Scan(&v.Customer.ID, &v.Customer.Version, &traits, &first, &last,
		&v.Customer.CreatedAt, &v.Customer.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get customer: %w", err)
	}
	if err := decodeCustomerJSON(&v.Customer, traits, first, last); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT type, value, source, first_seen, last_seen FROM identities
		WHERE customer_id = $1 ORDER BY type, value`, id)
	if err != nil {
		return nil, fmt.Errorf("get customer identities: %w", err)
	}
	v.Identities, err = pgx.CollectRows(rows, pgx.RowToStructByPos[IdentityView])
	if err != nil {
		return nil, fmt.Errorf("get customer identities: %w", err)
	}
	return &v, nil
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
