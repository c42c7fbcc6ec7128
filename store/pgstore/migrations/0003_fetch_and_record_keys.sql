-- 0003: providers that send only ids (Meta Lead Ads, HubSpot, LinkedIn,
-- SurveyMonkey, Qualtrics, Zendesk events) are completed by API calls
-- before they are mapped, and batched providers are deduplicated per record.

-- needs_fetch is set at ingest for those providers; fetched holds what the
-- API calls returned ({"<record>": {"<name>": <document>}}), kept with the
-- raw request so that a replay after a mapping fix maps the same data
-- without calling the provider again (a replay may clear it to re-fetch).
-- jsonb rather than bytea: the documents are inspected by operators, and
-- numbers stay exact (numeric).
ALTER TABLE inbox ADD COLUMN needs_fetch boolean NOT NULL DEFAULT false;
ALTER TABLE inbox ADD COLUMN fetched jsonb;
-- The fetcher's queue: pending requests still waiting for their documents.
CREATE INDEX inbox_awaiting_fetch ON inbox (id) WHERE status = 'pending' AND needs_fetch AND fetched IS NULL;

-- record_keys remembers every batched record applied (HubSpot eventId,
-- Meta leadgen_id): a provider that re-batches an event into another
-- delivery (another body, another request dedup key) has it applied once.
-- The insert happens in the pipeline's transaction before the record's
-- effects, so two workers racing on one key serialize on the primary key.
CREATE TABLE record_keys (
    source     text        NOT NULL,
    key        text        NOT NULL,
    inbox_id   bigint      NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, key)
);
