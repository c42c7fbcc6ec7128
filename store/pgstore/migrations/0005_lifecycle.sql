-- 0005: where every person stands in the lifecycle (DOMAIN.md, Stages
-- and Scores): stage and status as columns (the funnel counts by them),
-- scores with the rules that made them, the signals they are computed
-- from, every stint in every stage, and referrals.
ALTER TABLE customers ADD COLUMN stage text;
ALTER TABLE customers ADD COLUMN stage_entered_at timestamptz;
ALTER TABLE customers ADD COLUMN customer_status text;
-- {fit, engagement, health, band, nps_category, contributions, model}
ALTER TABLE customers ADD COLUMN scores jsonb NOT NULL DEFAULT '{}';
-- What scores are computed from (engagement earned, tickets, latest NPS
-- and CSAT, last seen): kept on the record so decay needs no history.
ALTER TABLE customers ADD COLUMN signals jsonb NOT NULL DEFAULT '{}';
ALTER TABLE customers ADD COLUMN referred_by uuid REFERENCES customers (id);
ALTER TABLE customers ADD COLUMN referral_count integer NOT NULL DEFAULT 0;
CREATE INDEX customers_stage ON customers (stage) WHERE merged_into IS NULL AND erased_at IS NULL;

-- Every stint: entered and exited, by which rule, on which event. Time in
-- stage and cumulative time per stage are computed from it (HubSpot's
-- "date entered" and "time in").
CREATE TABLE stage_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id uuid        NOT NULL REFERENCES customers (id),
    stage       text        NOT NULL,
    entered_at  timestamptz NOT NULL,
    exited_at   timestamptz,
    rule_id     text,
    reason      text,
    direction   text        NOT NULL,
    request_id  uuid,
    -- the event type that moved it, or the re-evaluation that did
    -- (lifecycle.sweep, lifecycle.requeued, rules.apply)
    trigger     text,
    model       text
);
CREATE INDEX stage_history_customer ON stage_history (customer_id, entered_at);
CREATE INDEX stage_history_stage ON stage_history (stage, entered_at);

-- A lead's referrer (the referral loop): one referrer per person.
CREATE TABLE referrals (
    referred_id uuid        PRIMARY KEY REFERENCES customers (id),
    referrer_id uuid        NOT NULL REFERENCES customers (id),
    source      text        NOT NULL,
    referred_at timestamptz NOT NULL
);
CREATE INDEX referrals_referrer ON referrals (referrer_id);

-- Customers to re-evaluate soon, outside the batch that found out (a
-- referrer whose count grew): the sweeper takes them first.
CREATE TABLE rescore_queue (
    customer_id uuid        PRIMARY KEY REFERENCES customers (id),
    queued_at   timestamptz NOT NULL DEFAULT now()
);

-- The periodic sweep's progress, one row: a cursor over customer ids
-- while a sweep runs, and when the next starts. Its row lock makes one
-- replica at a time sweep; the cursor survives restarts.
CREATE TABLE lifecycle_sweep (
    id          smallint    PRIMARY KEY CHECK (id = 1),
    after_id    uuid,
    started_at  timestamptz,
    finished_at timestamptz,
    next_at     timestamptz -- NULL: due now
);
INSERT INTO lifecycle_sweep (id) VALUES (1);
