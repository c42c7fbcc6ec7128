-- 0001: the core of CycleHub's record: raw inbox, customers, identities,
-- timeline and the transactional outbox.

-- inbox holds every accepted webhook exactly as it arrived, committed before
-- the sender gets its 2xx. It is the durable queue the pipeline claims from
-- (FOR UPDATE SKIP LOCKED) and the archive replays come from. Rows are never
-- updated except for their processing state; raw bodies are dropped after
-- the retention period (a later migration may partition by received_at so
-- retention drops whole partitions).
CREATE TABLE inbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- public id returned to the sender; uuid so it reveals no volume.
    request_id      uuid        NOT NULL UNIQUE,
    source          text        NOT NULL,
    provider        text        NOT NULL,
    method          text        NOT NULL,
    path            text        NOT NULL,
    -- query string with credentials (token=) removed.
    query           text        NOT NULL DEFAULT '',
    -- only the headers that matter (content type, provider signature and
    -- event headers, user agent, referer); never Authorization or cookies.
    headers         jsonb       NOT NULL,
    -- bytea, not text: verification and replay need the exact bytes.
    body            bytea       NOT NULL,
    received_at     timestamptz NOT NULL,
    -- the provider's stable delivery id (or a content hash); NULL when none.
    dedup_key       text,
    -- pending → done | quarantined | rejected (malformed at the edge, kept
    -- for inspection, never processed).
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'done', 'quarantined', 'rejected')),
    attempts        integer     NOT NULL DEFAULT 0,
    -- transient failures are retried with backoff; until then the row is
    -- skipped by claims.
    not_before      timestamptz NOT NULL DEFAULT '-infinity',
    reason          text,
    processed_at    timestamptz
);
-- The backstop of deduplication: one row per provider delivery.
CREATE UNIQUE INDEX inbox_dedup ON inbox (source, dedup_key) WHERE dedup_key IS NOT NULL;
-- Claims scan only pending rows, oldest first; the partial index stays small
-- however large the archive grows.
CREATE INDEX inbox_pending ON inbox (id) WHERE status = 'pending';
CREATE INDEX inbox_quarantined ON inbox (id) WHERE status IN ('quarantined', 'rejected');

-- customers is the unified record. version increments by one with every
-- published change and is the `sequence` of the customer's events.
CREATE TABLE customers (
    id          uuid        PRIMARY KEY,
    version     bigint      NOT NULL,
    -- traits with provenance: {"name": {"value","source","request_id","observed_at"}}.
    -- jsonb keeps the record one row (one lock, one read) and lets new
    -- traits arrive through mapping configuration without a migration.
    traits      jsonb       NOT NULL DEFAULT '{}',
    first_touch jsonb,
    last_touch  jsonb,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- identities resolve identifiers to customers: (type, value) is unique, so a
-- normalized email or phone can belong to one customer only.
CREATE TABLE identities (
    type        text        NOT NULL,
    value       text        NOT NULL,
    customer_id uuid        NOT NULL REFERENCES customers (id),
    source      text        NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    PRIMARY KEY (type, value)
);
CREATE INDEX identities_customer ON identities (customer_id);

-- timeline is every interaction, in the order it happened.
CREATE TABLE timeline (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id uuid        NOT NULL REFERENCES customers (id),
    inbox_id    bigint      NOT NULL,
    source      text        NOT NULL,
    type        text        NOT NULL,
    occurred_at timestamptz NOT NULL,
    properties  jsonb       NOT NULL DEFAULT '{}',
    -- one timeline entry per inbox request: replays cannot double it.
    UNIQUE (inbox_id, customer_id)
);
CREATE INDEX timeline_customer ON timeline (customer_id, occurred_at DESC, id DESC);

-- outbox is written in the same transaction as the change it announces and
-- relayed to Kafka afterwards. id order is commit order per customer (the
-- customer row lock serializes its writers), which is what keeps each
-- customer's events in order on the stream.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    customer_id  uuid        NOT NULL,
    -- hash bucket of the customer id (0..255): relays split work by ranges
    -- of buckets without ever splitting one customer across two relays.
    bucket       smallint    NOT NULL,
    type         text        NOT NULL,
    sequence     bigint      NOT NULL,
    -- the CloudEvent's time attribute (also a Kafka header and timestamp).
    event_time   timestamptz NOT NULL,
    -- the complete CloudEvent, byte for byte as published: bytea, not
    -- jsonb, which would reorder keys and cost a parse per event.
    payload      bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
