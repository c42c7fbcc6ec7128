package pipeline

import (
	"context"

	"github.com/cyclehub/cyclehub/mapping"
)

// Inbox hands out batches of stored requests.
type Inbox interface {
	// Claim locks up to limit pending requests in a new transaction.
	Claim(ctx context.Context, limit int) (Batch, error)
	// ClaimIDs claims exactly these requests if they are still pending.
	ClaimIDs(ctx context.Context, ids []int64) (Batch, error)
}

// Batch is one claimed set of requests and the transaction that owns them.
type Batch interface {
	Requests() []*mapping.RawRequest
	// LockCustomers locks every identity (and the customers holding them)
	// and returns the customers by identity key.
	LockCustomers(ctx context.Context, ids []mapping.Identity) (map[string]*mapping.Customer, error)
	// FindReferrer returns the customer a referral names, by identity or
	// by customer id (following merges); "" when none.
	FindReferrer(ctx context.Context, id mapping.Identity, customerID string) (string, error)
	// Suppressed returns which of the hashes are on the suppression list
	// (as strings of their bytes).
	Suppressed(ctx context.Context, hashes [][]byte) (map[string]bool, error)
	// ClaimRecords marks batched records (source[i], key[i] of inbox row
	// inboxIDs[i]) as applied and reports which were new: a record the
	// provider re-batched into another delivery is applied once.
	ClaimRecords(ctx context.Context, sources, keys []string, inboxIDs []int64) ([]bool, error)
	// Write applies the batch's effects inside the transaction.
	Write(ctx context.Context, e *mapping.Effects) error
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// EventMapper maps one raw request to its canonical events (a batched
// request carries several).
type EventMapper interface {
	Map(req *mapping.RawRequest) ([]*mapping.Event, error)
}

// permanent is implemented by errors that will recur if retried with the
// same input.
type permanent interface{ Permanent() bool }

// temporary is implemented by errors worth retrying later.
type temporary interface{ Temporary() bool }
