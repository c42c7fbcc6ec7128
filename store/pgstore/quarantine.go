package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// QuarantineItem is a stored request that was not processed: quarantined
// by the pipeline (unmappable, poison) or rejected at the edge (malformed).
type QuarantineItem struct {
	ID          int64     `json:"id"`
	RequestID   string    `json:"request_id"`
	Source      string    `json:"source"`
	Provider    string    `json:"provider"`
	Status      string    `json:"status"`
	Reason      string    `json:"reason"`
	Attempts    int       `json:"attempts"`
	ReceivedAt  time.Time `json:"received_at"`
	ContentType string    `json:"content_type"`
	BodyBytes   int       `json:"body_bytes"`
	// Fetched says the provider API documents are stored with it (a
	// replay maps them again unless it asks to refetch).
	Fetched bool `json:"fetched"`
}

// ListQuarantine returns up to limit quarantined or rejected requests with
// an id below before (0: from the newest), newest first.
func (s *Store) ListQuarantine(ctx context.Context, source string, before int64, limit int) ([]QuarantineItem, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, request_id::text, source, provider, status, coalesce(reason, ''), attempts, received_at,
		       coalesce(headers->>'Content-Type', ''), octet_length(body), fetched IS NOT NULL
		FROM inbox
		WHERE status IN ('quarantined', 'rejected') AND ($1 = '' OR source = $1) AND ($2 = 0 OR id < $2)
		ORDER BY id DESC LIMIT $3`, source, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	items, err := pgx.CollectRows(rows, pgx.RowToStructByPos[QuarantineItem])
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return items, nil
}

// Replay puts a quarantined or rejected request back in the queue (after a
// mapping fix). With refetch, the provider API documents stored with it
// are dropped and fetched again (after an API token or base fix, or when
// the provider's data changed). ErrNotFound when there is no such request
// in quarantine; ErrImportedRequest for a row of a bulk import.
func (s *Store) Replay(ctx context.Context, id int64, refetch bool) error {
	tag, err := s.pool.Exec(ctx, `
		UPDATE inbox SET status = 'pending', attempts = 0, reason = NULL, not_before = '-infinity', processed_at = NULL,
		       fetched = CASE WHEN $2 THEN NULL ELSE fetched END
		WHERE id = $1 AND status IN ('quarantined', 'rejected') AND import_run IS NULL`, id, refetch)
	if err != nil {
		return fmt.Errorf("replay %d: %w", id, err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	var imported bool
	err = s.pool.QueryRow(ctx, `SELECT import_run IS NOT NULL FROM inbox WHERE id = $1 AND status IN ('quarantined', 'rejected')`, id).Scan(&imported)
	switch {
	case errors.Is(err, pgx.ErrNoRows) || (err == nil && !imported):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("replay %d: %w", id, err)
	}
	return ErrImportedRequest
}

// ErrImportedRequest: a row of a bulk import is replayed by running the
// import again (with the fixed mapping), since only the import has its
// mapping; the daemon would quarantine it again.
var ErrImportedRequest = errors.New("the request is a row of a bulk import: run the import again with the fixed mapping")
