-- 0002: one request can carry several records (HubSpot and Meta batch their
-- deliveries), so a timeline entry is unique per (request, record), not per
-- (request, customer): two records about one person are two interactions.
ALTER TABLE timeline ADD COLUMN record_index integer NOT NULL DEFAULT 0;
ALTER TABLE timeline DROP CONSTRAINT timeline_inbox_id_customer_id_key;
ALTER TABLE timeline ADD CONSTRAINT timeline_inbox_record_key UNIQUE (inbox_id, record_index);
