package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidReplay wraps what is wrong with an InboxReplay.
var ErrInvalidReplay = errors.New("invalid inbox replay")

// defaultReplayBatch is how many inbox rows one replay statement reads.
const defaultReplayBatch = 500

// InboxReplay selects the stored requests of one source, received in
// [From, To), to process again after a mapping fix.
type InboxReplay struct {
	Source   string
	From, To time.Time
	// DryRun counts what a replay would do and changes nothing.
	DryRun bool
	// Refetch drops the provider API documents stored with the requests
	// so they are fetched again (as Replay's refetch).
	Refetch bool
	// BatchSize caps the rows each statement reads and changes (zero:
	// 500), so a large range never holds one long transaction.
	BatchSize int
}

// InboxReplayResult counts the requests of a replay's range by what
// happened to them (with DryRun: what would have).
type InboxReplayResult struct {
	// Queued requests are pending again: quarantined or rejected ones,
	// and processed ones that left nothing on any record.
	Queued int64 `json:"queued"`
	// SkippedPurged requests have no raw payload any more: wiped by an
	// erasure, or dropped as about an erased person. (Requests deleted by
	// retention are no longer in the inbox and are not counted at all.)
	SkippedPurged int64 `json:"skipped_purged"`
	// SkippedApplied requests were processed and their effects are on
	// the record (they have timeline entries): processing them again
	// would count them twice (see ReplayInbox).
	SkippedApplied int64 `json:"skipped_applied"`
	// AlreadyPending requests are waiting to be processed anyway.
	AlreadyPending int64 `json:"already_pending"`
	// SkippedImported requests are rows of a bulk import: only the import
	// has their mapping, so they are replayed by running it again.
	SkippedImported int64 `json:"skipped_imported"`
	DryRun          bool  `json:"dry_run"`
}

// replayBatchSQL classifies the next batch of a source's range after the
// cursor ($4, $5) and, unless it is a dry run ($7), queues the
// replayable rows again; it answers the batch's counts and its last row
// (the next cursor). One statement: the batch is its own transaction.
//
// The classification, in order: purged (the payload is gone: erased or
// suppressed, or wiped in place: empty body and headers), pending,
// applied (done, with timeline entries), replayable (done without any,
// quarantined, rejected). The UPDATE checks the status again under the
// row lock, so a row another replay or the pipeline changed meanwhile is
// left alone (and not counted as queued).
const replayBatchSQL = `
WITH batch AS (
    SELECT i.id, i.received_at,
           CASE WHEN i.status IN ('erased', 'suppressed') OR (octet_length(i.body) = 0 AND i.headers = '{}'::jsonb) THEN 'purged'
                WHEN i.import_run IS NOT NULL THEN 'imported'
                WHEN i.status = 'pending' THEN 'pending'
                WHEN i.status = 'done' AND EXISTS (SELECT 1 FROM timeline t WHERE t.inbox_id = i.id) THEN 'applied'
                ELSE 'replay'
           END AS kind
    FROM inbox i
    WHERE i.source = $1 AND i.received_at >= $2 AND i.received_at < $3
      AND i.received_at >= $4 AND (i.received_at, i.id) > ($4, $5)
    ORDER BY i.received_at, i.id
    LIMIT $6
), queued AS (
    UPDATE inbox i SET status = 'pending', attempts = 0, reason = NULL, not_before = '-infinity', processed_at = NULL,
           fetched = CASE WHEN $8 THEN NULL ELSE i.fetched END
    FROM batch b
    WHERE NOT $7 AND i.id = b.id AND b.kind = 'replay' AND i.status IN ('done', 'quarantined', 'rejected')
    RETURNING i.id
), last AS (
    SELECT received_at, id FROM batch ORDER BY received_at DESC, id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM batch),
       (SELECT count(*) FROM batch WHERE kind = 'purged'),
       (SELECT count(*) FROM batch WHERE kind = 'pending'),
       (SELECT count(*) FROM batch WHERE kind = 'applied'),
       (SELECT count(*) FROM batch WHERE kind = 'imported'),
       CASE WHEN $7 THEN (SELECT count(*) FROM batch WHERE kind = 'replay') ELSE (SELECT count(*) FROM queued) END,
       (SELECT received_at FROM last), (SELECT id FROM last)`

// ReplayInbox queues the stored requests of q.Source received in
// [q.From, q.To) for processing again, in batches of q.BatchSize (each
// its own short transaction, oldest first by received_at), and counts
// them by outcome. It returns when the range is done; an error leaves the
// batches already done queued (a replay is safe to run again: see below).
//
// Replay must not count anything twice. The pipeline's guarantee
// (DESIGN.md §2, effectively once on the record) rests on a request
// being applied once: the edge deduplicates redeliveries, and the
// pipeline writes a request's effects and marks it done in one
// transaction. Processing a done request again is not idempotent: the
// timeline, identities, tickets, survey answers, referrals and batched
// record keys are upserts keyed by the request or the record, but the
// engagement points its events earned are appended to the record's
// signals again, its consent choices are appended to the ledger again,
// and the scores, stage and events that follow move on the doubled
// points. Quarantine replay (Replay) is safe because a quarantined or
// rejected request never had any effect: the pipeline quarantines a
// request instead of writing its effects, never after. ReplayInbox
// follows the same rule: it queues a request only when nothing of it is
// on any record — quarantined, rejected, and done requests that have no
// timeline entry (every applied record of a request writes one, keyed
// by (inbox_id, record_index), and merges move it to the survivor, so
// none means their mapping produced nothing, e.g. before the mapping
// fix, or only records already applied elsewhere). Done requests with
// timeline entries are counted as SkippedApplied. Running the same
// replay twice therefore never doubles anything: a request processed
// after the first is applied and skipped by the second.
//
// Requests whose payload is gone (erased, suppressed) are never queued:
// they are SkippedPurged. Rows of a bulk import are SkippedImported (the
// daemon does not have the import's mapping). ErrInvalidReplay when q is invalid.
func (s *Store) ReplayInbox(ctx context.Context, q InboxReplay) (*InboxReplayResult, error) {
	switch {
	case q.Source == "":
		return nil, fmt.Errorf("%w: source is required", ErrInvalidReplay)
	case q.From.IsZero() || q.To.IsZero():
		return nil, fmt.Errorf("%w: from and to are required", ErrInvalidReplay)
	case !q.From.Before(q.To):
		return nil, fmt.Errorf("%w: from must be before to", ErrInvalidReplay)
	}
	if q.BatchSize <= 0 {
		q.BatchSize = defaultReplayBatch
	}
	out := &InboxReplayResult{DryRun: q.DryRun}
	afterAt, afterID := q.From, int64(0)
	for {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("replay %s: %w", q.Source, err)
		}
		var n, purged, pending, applied, imported, queued int64
		var lastAt *time.Time
		var lastID *int64
		err := s.pool.QueryRow(ctx, replayBatchSQL, q.Source, q.From, q.To, afterAt, afterID, q.BatchSize, q.DryRun, q.Refetch).
			Scan(&n, &purged, &pending, &applied, &imported, &queued, &lastAt, &lastID)
		if err != nil {
			return out, fmt.Errorf("replay %s: %w", q.Source, err)
		}
		out.SkippedPurged += purged
		out.AlreadyPending += pending
		out.SkippedApplied += applied
		out.SkippedImported += imported
		out.Queued += queued
		if n < int64(q.BatchSize) || lastAt == nil || lastID == nil {
			return out, nil
		}
		afterAt, afterID = *lastAt, *lastID
	}
}
