-- 0006: outbound deliveries (DESIGN.md §2: deliveries survive everything
-- but the destination). Each delivery is a row, written in the same
-- transaction as its event: PostgreSQL is the truth, Redis only holds the
-- schedule and is rebuilt from here.
CREATE TABLE deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destination     text        NOT NULL,
    event_id        uuid        NOT NULL,
    customer_id     uuid        NOT NULL,
    event_type      text        NOT NULL,
    -- the CloudEvent, byte for byte as on the stream
    payload         bytea       NOT NULL,
    -- the person's identifiers and profile, only for destinations that
    -- need them (a CRM); erasure removes it from undelivered rows
    contact         jsonb,
    -- pending → delivering (claimed, lease_until) → delivered | dead
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    -- times an operator replayed it (a replay of a delivered one is sent
    -- again, with the same idempotency key)
    replays         integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    -- the person was erased while this attempt was in flight: the row is
    -- deleted when the attempt ends, whatever its outcome
    cancelled       boolean     NOT NULL DEFAULT false,
    last_error      text,
    last_status     integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    -- one delivery per event and destination: a replayed pipeline batch
    -- cannot queue an event twice
    UNIQUE (destination, event_id)
);
CREATE INDEX deliveries_due ON deliveries (destination, next_attempt_at) WHERE status = 'pending';
-- a customer's deliveries to one destination go out in order
CREATE INDEX deliveries_open ON deliveries (destination, customer_id, id) WHERE status IN ('pending', 'delivering');
CREATE INDEX deliveries_list ON deliveries (status, destination, id);
CREATE INDEX deliveries_customer ON deliveries (customer_id);

-- A destination the engine disabled (it answered 410 Gone), and why. A
-- replay of its deliveries re-enables it.
CREATE TABLE destination_state (
    destination text PRIMARY KEY,
    disabled_at timestamptz NOT NULL,
    reason      text        NOT NULL
);
