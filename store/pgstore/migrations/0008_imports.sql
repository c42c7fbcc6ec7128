-- 0008: bulk imports (`cyclehub import`, docs/import.md).
--
-- An import writes each row of a CSV or JSONL file into the inbox as a
-- request of the import's source, and pipeline workers run by the import
-- process map them with the import's mapping file. The daemon's workers
-- do not have that mapping, so they must never claim those rows: they are
-- stored as 'importing' (not 'pending') until processed, outside the
-- pending index every claim scans, and claimed only by their import run.
ALTER TABLE inbox ADD COLUMN import_run bigint;
-- Every stored row meets the narrower check this one replaces, so it is
-- not validated again (no scan of the inbox under its table lock).
ALTER TABLE inbox DROP CONSTRAINT inbox_status_check;
ALTER TABLE inbox ADD CONSTRAINT inbox_status_check
    CHECK (status IN ('pending', 'done', 'quarantined', 'rejected', 'erased', 'suppressed', 'importing')) NOT VALID;
-- An import's claims, oldest first, and its count of rows still waiting.
CREATE INDEX inbox_importing ON inbox (import_run, id) WHERE status = 'importing';

-- import_runs is one import of one file (by content) with one mapping (by
-- its compiled content) under one source. Its checkpoint (the byte offset
-- and line of the next row to read) and its counters move in the same
-- statement that stores a batch of rows, so an interrupted import resumes
-- exactly where its last stored batch ended; the pipeline adds to the
-- processing counters in each batch's transaction.
CREATE TABLE import_runs (
    id                bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source            text        NOT NULL,
    file_name         text        NOT NULL,
    file_sha256       text        NOT NULL,
    file_size         bigint      NOT NULL,
    format            text        NOT NULL,
    mapping_sha256    text        NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    -- the whole file is stored (every row enqueued, skipped or rejected).
    read_at           timestamptz,
    -- every stored row is processed; NULL while the run can be resumed.
    finished_at       timestamptz,
    -- another run with the same source and mapping took its waiting rows.
    superseded_by     bigint,
    next_offset       bigint      NOT NULL DEFAULT 0,
    next_line         bigint      NOT NULL DEFAULT 1,
    rows_read         bigint      NOT NULL DEFAULT 0,
    enqueued          bigint      NOT NULL DEFAULT 0,
    skipped           bigint      NOT NULL DEFAULT 0,
    rejected          bigint      NOT NULL DEFAULT 0,
    adopted           bigint      NOT NULL DEFAULT 0,
    processed         bigint      NOT NULL DEFAULT 0,
    quarantined       bigint      NOT NULL DEFAULT 0,
    customers_created bigint      NOT NULL DEFAULT 0,
    customers_updated bigint      NOT NULL DEFAULT 0
);
-- One open run per file, mapping and source: running the same import
-- again resumes it.
CREATE UNIQUE INDEX import_runs_open ON import_runs (source, file_sha256, mapping_sha256) WHERE finished_at IS NULL;
