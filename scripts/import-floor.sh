#!/usr/bin/env bash
# What PostgreSQL alone needs to store what an import writes per contact:
# the floor under `cyclehub import`'s throughput on this machine.
#
# It imports FLOOR_ROWS generated contacts (new people, as BenchmarkImport
# does) into a scratch database with the real `cyclehub import`, then copies
# exactly the rows that import wrote (customers, identities, timeline,
# outbox, stage history, consent, inbox) into empty tables with the same
# columns, indexes and foreign keys, one INSERT … SELECT per table in one
# session: no network, no per-batch statements, no Go, each row written
# once, JSON parsed as it must be from the text a client sends. That is a
# lower bound on PostgreSQL's work per contact; the import's own rate
# (rows/s) is printed beside it.
#
# Usage (the dev stack running: make up): scripts/import-floor.sh
#   FLOOR_ROWS=20000
# It creates and drops the database cyclehub_floor; nothing else is touched.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rows="${FLOOR_ROWS:-20000}"
base="${CYCLEHUB_POSTGRES_URL:?load the dev stack environment: eval \"\$(scripts/devstack.sh env)\"}"
db=cyclehub_floor
url="${base%%/cyclehub*}/$db${base#*/cyclehub}"
work="$(mktemp -d)"
trap 'rm -rf "$work"; psql -q "$base" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true' EXIT

psql -q "$base" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
go test ./internal/importer -count=1 -run '^TestWriteContactsFile$' -contacts "$rows" -contacts-out "$work/contacts.csv" >/dev/null
go build -o "$work/cyclehub" ./cmd/cyclehub
echo "import of $rows contacts:"
CYCLEHUB_POSTGRES_URL="$url" "$work/cyclehub" import "$work/contacts.csv" --mapping configs/mappings/import-contacts.yaml \
	--config configs/cyclehub.yaml --quiet | grep -E 'customers created|duration|rows/s'

psql -q -X "$url" -v ON_ERROR_STOP=1 -v rows="$rows" >"$work/floor.txt" <<'SQL'
CREATE SCHEMA floor;
-- The rows as a client sends them: JSON as text, everything else typed.
CREATE TEMP TABLE s_customers AS
  SELECT id, version, traits::text traits, first_touch::text ft, last_touch::text lt, consent::text consent,
         created_at, updated_at, stage, stage_entered_at, customer_status, scores::text scores, signals::text signals
  FROM customers;
CREATE TEMP TABLE s_identities AS SELECT * FROM identities;
CREATE TEMP TABLE s_timeline AS
  SELECT customer_id, inbox_id, record_index, source, type, occurred_at, properties::text properties FROM timeline;
CREATE TEMP TABLE s_outbox AS SELECT event_id, customer_id, bucket, type, sequence, event_time, payload FROM outbox;
CREATE TEMP TABLE s_stage_history AS
  SELECT customer_id, stage, entered_at, exited_at, rule_id, reason, direction, request_id, trigger, model FROM stage_history;
CREATE TEMP TABLE s_consent AS SELECT customer_id, purpose, status, source, method, inbox_id, recorded_at FROM consent_ledger;
CREATE TEMP TABLE s_inbox AS SELECT * FROM inbox;
CREATE TABLE floor.customers (LIKE public.customers INCLUDING ALL);
CREATE TABLE floor.identities (LIKE public.identities INCLUDING ALL, FOREIGN KEY (customer_id) REFERENCES floor.customers (id));
CREATE TABLE floor.timeline (LIKE public.timeline INCLUDING ALL, FOREIGN KEY (customer_id) REFERENCES floor.customers (id));
CREATE TABLE floor.outbox (LIKE public.outbox INCLUDING ALL);
CREATE TABLE floor.stage_history (LIKE public.stage_history INCLUDING ALL, FOREIGN KEY (customer_id) REFERENCES floor.customers (id));
CREATE TABLE floor.consent_ledger (LIKE public.consent_ledger INCLUDING ALL, FOREIGN KEY (customer_id) REFERENCES floor.customers (id));
CREATE TABLE floor.inbox (LIKE public.inbox INCLUDING ALL);
CHECKPOINT;

CREATE FUNCTION pg_temp.timed(label text, stmt text) RETURNS TABLE (tbl text, n bigint, ms numeric) AS $$
DECLARE t0 timestamptz := clock_timestamp(); k bigint;
BEGIN
  EXECUTE stmt;
  GET DIAGNOSTICS k = ROW_COUNT;
  RETURN QUERY SELECT label, k, round(extract(epoch FROM clock_timestamp() - t0)::numeric * 1000, 1);
END $$ LANGUAGE plpgsql;

CREATE TEMP TABLE result AS
SELECT * FROM pg_temp.timed('customers', $q$INSERT INTO floor.customers (id, version, traits, first_touch, last_touch, consent,
    created_at, updated_at, stage, stage_entered_at, customer_status, scores, signals)
  SELECT id, version, traits::jsonb, ft::jsonb, lt::jsonb, consent::jsonb, created_at, updated_at, stage, stage_entered_at,
         customer_status, scores::jsonb, signals::jsonb FROM s_customers$q$);
INSERT INTO result SELECT * FROM pg_temp.timed('identities', 'INSERT INTO floor.identities SELECT * FROM s_identities');
INSERT INTO result SELECT * FROM pg_temp.timed('timeline', $q$INSERT INTO floor.timeline (customer_id, inbox_id, record_index,
    source, type, occurred_at, properties) SELECT customer_id, inbox_id, record_index, source, type, occurred_at,
    properties::jsonb FROM s_timeline$q$);
INSERT INTO result SELECT * FROM pg_temp.timed('outbox', $q$INSERT INTO floor.outbox (event_id, customer_id, bucket, type,
    sequence, event_time, payload) SELECT * FROM s_outbox$q$);
INSERT INTO result SELECT * FROM pg_temp.timed('stage_history', $q$INSERT INTO floor.stage_history (customer_id, stage,
    entered_at, exited_at, rule_id, reason, direction, request_id, trigger, model) SELECT * FROM s_stage_history$q$);
INSERT INTO result SELECT * FROM pg_temp.timed('consent_ledger', $q$INSERT INTO floor.consent_ledger (customer_id, purpose,
    status, source, method, inbox_id, recorded_at) SELECT * FROM s_consent$q$);
INSERT INTO result SELECT * FROM pg_temp.timed('inbox', 'INSERT INTO floor.inbox OVERRIDING SYSTEM VALUE SELECT * FROM s_inbox');

\pset footer off
SELECT tbl AS "table", n AS "rows", ms, round(ms * 1000 / :rows, 1) AS "µs per contact" FROM result
UNION ALL
SELECT 'total', sum(n), sum(ms), round(sum(ms) * 1000 / :rows, 1) FROM result;
SQL
echo
echo "the same rows, written once each by PostgreSQL alone (µs per contact = seconds of one core per million):"
cat "$work/floor.txt"
