package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Bulk imports (cyclehub import, internal/importer). Rows of a file are
// stored in the inbox as requests of the import's source with status
// 'importing': the daemon's claims never see them (it does not have the
// import's mapping), only the import run that owns them (inbox.import_run)
// claims them. Each run's checkpoint and counters live in import_runs
// (migration 0008).

// StatusImporting is the inbox status of a stored import row that its
// import's workers have not processed yet.
const StatusImporting = "importing"

// ImportProvider is the provider stored with imported rows (rules read it
// as event.provider).
const ImportProvider = "import"

// importLockClass is the first key of the two-key session advisory lock a
// running import holds on its run (the second is the run id); two-key
// locks never collide with the store's bigint-keyed ones.
const importLockClass int32 = 0x696d7072 // "impr"

// ErrImportRunning means another process is running the same import.
var ErrImportRunning = errors.New("another cyclehub import of the same file, mapping and source is running")

// ImportRunKey identifies an import: opening the same key again resumes it
// while it is unfinished.
type ImportRunKey struct {
	Source        string
	FileName      string
	FileSHA256    string
	FileSize      int64
	Format        string
	MappingSHA256 string
}

// ImportRun is an import's checkpoint and counters.
type ImportRun struct {
	ID            int64
	Source        string
	FileName      string
	FileSHA256    string
	FileSize      int64
	Format        string
	MappingSHA256 string
	StartedAt     time.Time
	UpdatedAt     time.Time
	// ReadAt is set once every row of the file is stored.
	ReadAt *time.Time
	// FinishedAt is set once every stored row is processed.
	FinishedAt *time.Time
	// NextOffset and NextLine are where the next row to read starts.
	NextOffset, NextLine int64
	// RowsRead counts rows read from the file (good and bad); Enqueued the
	// rows stored; Skipped the rows already stored by this or an earlier
	// import (same content and mapping); Rejected the rows that could not
	// be parsed (stored as rejected); Adopted the waiting rows taken over
	// from interrupted runs of the same source and mapping.
	RowsRead, Enqueued, Skipped, Rejected, Adopted int64
	// Processed counts rows the pipeline finished (done, quarantined or
	// suppressed); Quarantined those it could not map or store.
	Processed, Quarantined int64
	// CustomersCreated and CustomersUpdated count created.v1 and
	// updated.v1 events of the run's rows.
	CustomersCreated, CustomersUpdated int64
}

const importRunColumns = `id, source, file_name, file_sha256, file_size, format, mapping_sha256, started_at, updated_at,
       read_at, finished_at, next_offset, next_line, rows_read, enqueued, skipped, rejected, adopted,
       processed, quarantined, customers_created, customers_updated`

func scanImportRun(row pgx.Row) (ImportRun, error) {
	var r ImportRun
	err := row.Scan(&r.ID, &r.Source, &r.FileName, &r.FileSHA256, &r.FileSize, &r.Format, &r.MappingSHA256,
		&r.StartedAt, &r.UpdatedAt, &r.ReadAt, &r.FinishedAt, &r.NextOffset, &r.NextLine, &r.RowsRead,
		&r.Enqueued, &r.Skipped, &r.Rejected, &r.Adopted, &r.Processed, &r.Quarantined,
		&r.CustomersCreated, &r.CustomersUpdated)
	return r, err
}

// ImportLock is a running import's hold on its run: a session advisory
// lock on a connection of its own, so a crashed import releases it.
type ImportLock struct {
	conn *pgxpool.Conn
	run  int64
}

// Release gives the run up (it stays resumable).
func (l *ImportLock) Release(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, importLockClass, runLockKey(l.run)); err != nil {
		// A broken connection: closing it drops the lock server-side.
		_ = l.conn.Conn().Close(ctx)
	}
	l.conn.Release()
}

// OpenImportRun starts the import key names or, when an unfinished one
// exists, resumes it (resumed is true), and locks it for this process:
// ErrImportRunning if another process holds it. An unfinished run last
// written before staleBefore is closed and started afresh (raw payload
// retention may have purged its waiting rows: reading the file again
// stores them again). The run then adopts the waiting rows of every other
// unfinished run of the same source and mapping that no process is
// running (an import interrupted, its file edited, and run again): those
// rows are skipped as already stored when the file is read again, so they
// must be processed by this run.
func (s *Store) OpenImportRun(ctx context.Context, key ImportRunKey, staleBefore time.Time) (ImportRun, bool, *ImportLock, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return ImportRun{}, false, nil, fmt.Errorf("open import run: %w", err)
	}
	run, resumed, stale, err := openImportRun(ctx, conn, key, staleBefore)
	if err != nil {
		conn.Release()
		return ImportRun{}, false, nil, err
	}
	lock := &ImportLock{conn: conn, run: run.ID}
	if run, err = adoptImportRows(ctx, conn, run, stale); err != nil {
		lock.Release(ctx)
		return ImportRun{}, false, nil, err
	}
	return run, resumed, lock, nil
}

// openImportRun returns the run and, when it replaced a stale one, the
// stale run's id.
func openImportRun(ctx context.Context, conn *pgxpool.Conn, key ImportRunKey, staleBefore time.Time) (ImportRun, bool, []int64, error) {
	var stale []int64
	for range 3 {
		run, err := scanImportRun(conn.QueryRow(ctx, `SELECT `+importRunColumns+` FROM import_runs
			WHERE source = $1 AND file_sha256 = $2 AND mapping_sha256 = $3 AND finished_at IS NULL`,
			key.Source, key.FileSHA256, key.MappingSHA256))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			run, err = scanImportRun(conn.QueryRow(ctx, `
				INSERT INTO import_runs (source, file_name, file_sha256, file_size, format, mapping_sha256)
				VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (source, file_sha256, mapping_sha256) WHERE finished_at IS NULL DO NOTHING
				RETURNING `+importRunColumns,
				key.Source, key.FileName, key.FileSHA256, key.FileSize, key.Format, key.MappingSHA256))
			if errors.Is(err, pgx.ErrNoRows) {
				continue // started concurrently: resume that one (or find it running)
			}
			if err != nil {
				return ImportRun{}, false, nil, fmt.Errorf("open import run: %w", err)
			}
			if err := lockImportRun(ctx, conn, run.ID); err != nil {
				return ImportRun{}, false, nil, err
			}
			return run, false, stale, nil
		case err != nil:
			return ImportRun{}, false, nil, fmt.Errorf("open import run: %w", err)
		}
		if err := lockImportRun(ctx, conn, run.ID); err != nil {
			return ImportRun{}, false, nil, err
		}
		if !run.UpdatedAt.Before(staleBefore) {
			return run, true, stale, nil
		}
		// Too old to trust its checkpoint: close it; the new run adopts
		// whatever of it still waits.
		_, err = conn.Exec(ctx, `UPDATE import_runs SET finished_at = now(), updated_at = now() WHERE id = $1`, run.ID)
		unlockImportRun(ctx, conn, run.ID)
		if err != nil {
			return ImportRun{}, false, nil, fmt.Errorf("close stale import run %d: %w", run.ID, err)
		}
		stale = append(stale, run.ID)
	}
	return ImportRun{}, false, nil, errors.New("open import run: the run keeps changing under us; try again")
}

func lockImportRun(ctx context.Context, conn *pgxpool.Conn, run int64) error {
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, importLockClass, runLockKey(run)).Scan(&ok); err != nil {
		return fmt.Errorf("lock import run %d: %w", run, err)
	}
	if !ok {
		return fmt.Errorf("import run %d: %w", run, ErrImportRunning)
	}
	return nil
}

func unlockImportRun(ctx context.Context, conn *pgxpool.Conn, run int64) {
	_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, importLockClass, runLockKey(run))
}

// adoptImportRows moves the waiting rows of idle unfinished runs of the
// same source and mapping, and of the stale runs run replaced, to run, and
// closes those runs.
func adoptImportRows(ctx context.Context, conn *pgxpool.Conn, run ImportRun, stale []int64) (ImportRun, error) {
	rows, err := conn.Query(ctx, `SELECT id FROM import_runs
		WHERE source = $1 AND mapping_sha256 = $2 AND finished_at IS NULL AND id <> $3 ORDER BY id`,
		run.Source, run.MappingSHA256, run.ID)
	if err != nil {
		return run, fmt.Errorf("adopt import rows: %w", err)
	}
	others, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return run, fmt.Errorf("adopt import rows: %w", err)
	}
	for _, other := range append(stale, others...) {
		if err := lockImportRun(ctx, conn, other); errors.Is(err, ErrImportRunning) {
			continue // running: it processes its own rows
		} else if err != nil {
			return run, err
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `UPDATE inbox SET import_run = $1 WHERE import_run = $2 AND status = 'importing'`, run.ID, other)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE import_runs SET finished_at = now(), updated_at = now(), superseded_by = $1 WHERE id = $2`,
				run.ID, other); err != nil {
				return err
			}
			run, err = scanImportRun(tx.QueryRow(ctx, `UPDATE import_runs SET adopted = adopted + $2, updated_at = now()
				WHERE id = $1 RETURNING `+importRunColumns, run.ID, tag.RowsAffected()))
			return err
		})
		unlockImportRun(ctx, conn, other)
		if err != nil {
			return run, fmt.Errorf("adopt the waiting rows of import run %d: %w", other, err)
		}
	}
	return run, nil
}

// ImportRow is one row of an import file to store.
type ImportRow struct {
	RequestID string
	// Line is where the row starts in the file (1-based).
	Line int64
	// Body is the row as a JSON object (for a rejected row, its raw bytes).
	Body []byte
	// Key is the row's dedup key; a row stored under it before (by any
	// import of the source) is skipped.
	Key string
	// Reason, when set, rejects the row (it could not be parsed): it is
	// stored as rejected with the reason, never processed, and not
	// deduplicated (each run reports its own).
	Reason string
}

// ImportPosition is where the next row of a file starts.
type ImportPosition struct {
	Offset int64
	Line   int64
}

// EnqueueImport stores a batch of rows of run as one statement together
// with the run's checkpoint (next) and counters, so a run interrupted at
// any moment resumes after its last stored batch and counts every row
// once. eof marks the file read to its end. It returns the run as it now
// is.
func (s *Store) EnqueueImport(ctx context.Context, run int64, source string, rows []ImportRow, next ImportPosition, eof bool) (ImportRun, error) {
	n := len(rows)
	ids, bodies, keys, reasons := make([]string, n), make([][]byte, n), make([]string, n), make([]string, n)
	lines := make([]int64, n)
	good := 0
	for i, r := range rows {
		ids[i], bodies[i], keys[i], reasons[i], lines[i] = r.RequestID, r.Body, r.Key, r.Reason, r.Line
		if bodies[i] == nil {
			bodies[i] = []byte{}
		}
		if r.Reason == "" {
			good++
		} else {
			keys[i] = ""
		}
	}
	var run2 ImportRun
	// The batch and its checkpoint commit together, so they are lost
	// together or not at all: the commit need not wait for the WAL flush.
	// A crash may undo the last batches, and the import then reads them
	// again. Whatever processed them committed after them, synchronously,
	// which flushed them too.
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return err
		}
		var err error
		run2, err = scanImportRun(tx.QueryRow(ctx, `
		WITH ins AS (
		    INSERT INTO inbox (request_id, source, provider, method, path, headers, body, received_at,
		                       dedup_key, status, reason, processed_at, import_run)
		    SELECT r.request_id, $2, '`+ImportProvider+`', 'IMPORT', '/import/' || $1::bigint,
		           jsonb_build_object('Content-Type', 'application/json', 'X-Import-Line', r.line::text),
		           r.body, now(), NULLIF(r.dedup_key, ''),
		           CASE WHEN r.reason = '' THEN 'importing' ELSE 'rejected' END,
		           NULLIF(r.reason, ''), CASE WHEN r.reason = '' THEN NULL ELSE now() END, $1
		    FROM unnest($3::uuid[], $4::bigint[], $5::bytea[], $6::text[], $7::text[])
		         AS r(request_id, line, body, dedup_key, reason)
		    ON CONFLICT (source, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
		    RETURNING status
		), stored AS (
		    SELECT count(*) FILTER (WHERE status = 'importing') AS n FROM ins
		)
		UPDATE import_runs SET
		    next_offset = $8, next_line = $9, rows_read = rows_read + $10,
		    enqueued = enqueued + stored.n, skipped = skipped + $11 - stored.n,
		    rejected = rejected + $10 - $11, updated_at = now(),
		    read_at = CASE WHEN $12 THEN now() ELSE read_at END
		FROM stored
		WHERE id = $1
		RETURNING `+importRunColumns,
			run, source, ids, lines, bodies, keys, reasons, next.Offset, next.Line, n, good, eof))
		return err
	})
	if err != nil {
		return ImportRun{}, fmt.Errorf("store %d rows of import run %d: %w", n, run, err)
	}
	return run2, nil
}

// ImportRunByID reads a run.
func (s *Store) ImportRunByID(ctx context.Context, id int64) (ImportRun, error) {
	r, err := scanImportRun(s.pool.QueryRow(ctx, `SELECT `+importRunColumns+` FROM import_runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("read import run %d: %w", id, err)
	}
	return r, nil
}

// FinishImportRun closes the run once its file is read and none of its
// rows waits; finished is false (and nothing changes) otherwise.
func (s *Store) FinishImportRun(ctx context.Context, run int64) (ImportRun, bool, error) {
	r, err := scanImportRun(s.pool.QueryRow(ctx, `
		UPDATE import_runs SET finished_at = now(), updated_at = now()
		WHERE id = $1 AND finished_at IS NULL AND read_at IS NOT NULL
		  AND (SELECT i.id FROM inbox i -- walks inbox_importing, as claims do
		       WHERE i.import_run >= $1 AND i.import_run <= $1 AND i.status = 'importing'
		       ORDER BY i.import_run, i.id LIMIT 1) IS NULL
		RETURNING `+importRunColumns, run))
	if errors.Is(err, pgx.ErrNoRows) {
		r, err = s.ImportRunByID(ctx, run)
		return r, false, err
	}
	if err != nil {
		return r, false, fmt.Errorf("finish import run %d: %w", run, err)
	}
	return r, true, nil
}

// OpenImportRuns lists the unfinished runs of source other than except
// (interrupted imports whose rows wait).
func (s *Store) OpenImportRuns(ctx context.Context, source string, except int64) ([]ImportRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+importRunColumns+` FROM import_runs
		WHERE source = $1 AND finished_at IS NULL AND id <> $2 ORDER BY id`, source, except)
	if err != nil {
		return nil, fmt.Errorf("list open import runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ImportRun, error) { return scanImportRun(row) })
	if err != nil {
		return nil, fmt.Errorf("list open import runs: %w", err)
	}
	return out, nil
}

// ImportProblem is a row of a run that was not applied: rejected (it did
// not parse) or quarantined (it did not map, or its effects could not be
// stored).
type ImportProblem struct {
	InboxID int64
	Line    int64
	Status  string
	Reason  string
	Body    []byte
}

// ImportProblems calls fn with each rejected or quarantined row of run,
// in file order, at most limit of them (0: all).
func (s *Store) ImportProblems(ctx context.Context, run int64, limit int, fn func(ImportProblem) error) error {
	lim := "ALL"
	if limit > 0 {
		lim = strconv.Itoa(limit)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, coalesce(headers->>'X-Import-Line', '0')::bigint AS line, status, coalesce(reason, ''), body
		FROM inbox
		WHERE status IN ('quarantined', 'rejected') AND import_run = $1
		ORDER BY line, id LIMIT `+lim, run)
	if err != nil {
		return fmt.Errorf("list problems of import run %d: %w", run, err)
	}
	defer rows.Close()
	for rows.Next() {
		var p ImportProblem
		if err := rows.Scan(&p.InboxID, &p.Line, &p.Status, &p.Reason, &p.Body); err != nil {
			return fmt.Errorf("list problems of import run %d: %w", run, err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list problems of import run %d: %w", run, err)
	}
	return nil
}

// Import claims: the run's waiting rows, oldest first, like Claim does for
// pending ones (a retry's not_before is honoured). The claim must walk
// inbox_importing (import_run, id), never the primary key: processed rows
// stay in the inbox, and after an ANALYZE taken while most rows were
// waiting the planner took the primary key for "ORDER BY id" and filtered
// its way past every processed row (0.9 s a claim, 500,000 rows in). So
// it orders by the index's own two columns, an order no other index
// gives; import_run is bounded by a range because an equality would let
// the planner drop it from the order, and the primary key would qualify
// again.
const claimImportSQL = `
SELECT ` + inboxColumns + `
FROM inbox
WHERE import_run >= $1 AND import_run <= $1 AND status = 'importing' AND not_before <= now()
ORDER BY import_run, id
LIMIT $2
FOR UPDATE SKIP LOCKED`

const claimImportIDsSQL = `
SELECT ` + inboxColumns + `
FROM inbox
WHERE id = ANY($1) AND status = 'importing'
ORDER BY id
FOR UPDATE SKIP LOCKED`

// ClaimImport begins a transaction and locks up to limit waiting rows of
// run. An empty batch is returned (and must still be rolled back) when
// none is due.
func (s *Store) ClaimImport(ctx context.Context, run int64, limit int) (*Batch, error) {
	return s.claimImport(ctx, claimImportSQL, run, limit)
}

// ClaimImportIDs is ClaimImport restricted to the given rows (the
// pipeline's one-at-a-time retry of a failed batch).
func (s *Store) ClaimImportIDs(ctx context.Context, ids []int64) (*Batch, error) {
	return s.claimImport(ctx, claimImportIDsSQL, ids)
}

func (s *Store) claimImport(ctx context.Context, sql string, args ...any) (*Batch, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim import rows: %w", err)
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("claim import rows: %w", err)
	}
	reqs, err := pgx.CollectRows(rows, scanRawRequest)
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, fmt.Errorf("claim import rows: %w", err)
	}
	return &Batch{tx: tx, requests: reqs, routes: s.currentRoutes()}, nil
}

// ImportCounts is what one processed batch adds to its run's counters.
type ImportCounts struct {
	Processed, Quarantined, CustomersCreated, CustomersUpdated int64
}

// CountImport adds a processed batch's counts to its run, in the batch's
// transaction (so they commit, or not, with its effects), and puts rows
// the pipeline scheduled for a retry back under the run: a retry must not
// make an import row pending, where the daemon, which lacks the import's
// mapping, would claim it.
func (b *Batch) CountImport(ctx context.Context, run int64, c ImportCounts, retried []int64) error {
	if len(retried) > 0 {
		if _, err := b.tx.Exec(ctx, `UPDATE inbox SET status = 'importing' WHERE id = ANY($1) AND status = 'pending'`, retried); err != nil {
			return classify(fmt.Errorf("hold retried import rows: %w", err))
		}
	}
	if c == (ImportCounts{}) {
		return nil
	}
	if _, err := b.tx.Exec(ctx, `
		UPDATE import_runs SET processed = processed + $2, quarantined = quarantined + $3,
		       customers_created = customers_created + $4, customers_updated = customers_updated + $5
		WHERE id = $1`, run, c.Processed, c.Quarantined, c.CustomersCreated, c.CustomersUpdated); err != nil {
		return classify(fmt.Errorf("count import run %d: %w", run, err))
	}
	return nil
}

// runLockKey is an import run's key in its advisory lock class. Run ids
// stay far below 2^31; past it two runs would only share a lock.
func runLockKey(run int64) int32 {
	return int32(run) // #nosec G115 -- see above
}
