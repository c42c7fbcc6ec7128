-- 0004: one customer per person. Merges with their identity graph and
-- refused conflicts, consent as a ledger, tickets and survey responses as
-- rows of their own, erasure and the suppression list.

-- A merged customer stays as a tombstone pointing at its survivor, so an
-- id a consumer already holds still resolves (the admin API redirects)
-- and its stream key gets a last merged.v1 event. consent is the current
-- state per purpose, derived from consent_ledger. erased_at marks a
-- profile erased on request: its row keeps only its id and version.
ALTER TABLE customers ADD COLUMN merged_into uuid REFERENCES customers (id);
ALTER TABLE customers ADD COLUMN merged_at timestamptz;
ALTER TABLE customers ADD COLUMN consent jsonb NOT NULL DEFAULT '{}';
ALTER TABLE customers ADD COLUMN erased_at timestamptz;
CREATE INDEX customers_merged_into ON customers (merged_into) WHERE merged_into IS NOT NULL;

-- The identity graph: every merge, which identifier linked the two, and
-- the request that proved it. Ids only, so erasure leaves it intact.
CREATE TABLE merges (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    survivor_id   uuid        NOT NULL REFERENCES customers (id),
    merged_id     uuid        NOT NULL REFERENCES customers (id),
    identity_type text        NOT NULL,
    inbox_id      bigint,
    source        text        NOT NULL,
    merged_at     timestamptz NOT NULL
);
CREATE INDEX merges_survivor ON merges (survivor_id);
CREATE INDEX merges_merged ON merges (merged_id);

-- A merge refused because it would give one person two tenant user ids.
CREATE TABLE merge_conflicts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_ids uuid[]      NOT NULL,
    reason       text        NOT NULL,
    inbox_id     bigint,
    source       text        NOT NULL,
    detected_at  timestamptz NOT NULL
);

-- Every consent choice as it was made; customers.consent is derived from
-- it (the most recent explicit choice per purpose).
CREATE TABLE consent_ledger (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id uuid        NOT NULL REFERENCES customers (id),
    purpose     text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('granted', 'denied')),
    source      text        NOT NULL,
    method      text        NOT NULL,
    inbox_id    bigint,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX consent_ledger_customer ON consent_ledger (customer_id, purpose, recorded_at);

-- Support tickets, one row per ticket of a source, updated as it changes.
CREATE TABLE tickets (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id uuid        NOT NULL REFERENCES customers (id),
    source      text        NOT NULL,
    ticket_id   text        NOT NULL,
    subject     text,
    status      text,
    priority    text,
    channel     text,
    url         text,
    opened_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (source, ticket_id)
);
CREATE INDEX tickets_customer ON tickets (customer_id, updated_at DESC);

-- Survey answers (NPS, CSAT, others), one row per response of a source; a
-- later event of the same response (a comment added) updates it.
CREATE TABLE survey_responses (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id uuid        NOT NULL REFERENCES customers (id),
    source      text        NOT NULL,
    response_id text        NOT NULL,
    kind        text        NOT NULL,
    score       numeric,
    category    text,
    comment     text,
    answered_at timestamptz NOT NULL,
    UNIQUE (source, response_id)
);
CREATE INDEX survey_responses_customer ON survey_responses (customer_id, answered_at DESC);

-- Hashed identifiers of erased people (sha256 of a pepper and the
-- identity key): webhooks about them are acknowledged, then dropped with
-- their raw payload, so they cannot recreate the person.
CREATE TABLE suppressions (
    hash        bytea       PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Raw payloads of erased people are wiped in place (the row keeps its
-- dedup key, so a late redelivery is still recognized); payloads of
-- suppressed people likewise.
ALTER TABLE inbox DROP CONSTRAINT inbox_status_check;
ALTER TABLE inbox ADD CONSTRAINT inbox_status_check
    CHECK (status IN ('pending', 'done', 'quarantined', 'rejected', 'erased', 'suppressed'));
-- Retention scans by age.
CREATE INDEX inbox_received ON inbox (received_at);
