-- 0007: indexes for the funnel (GET /v1/funnel, docs/funnel.md), which
-- reads a period of each table: records created in it, stints begun and
-- ended in it, survey answers given in it. Without them every funnel
-- scans whole tables (a million customers, several million stints).
-- Plain CREATE INDEX (migrations run in a transaction): each blocks
-- writes to its table while it builds, about a second per million rows;
-- none of them is on the inbox, so webhooks are still acknowledged.

-- New records in a period: lead volume by first-touch source, referral
-- rate. Live records only, as the funnel counts them.
CREATE INDEX customers_created ON customers (created_at) WHERE merged_into IS NULL AND erased_at IS NULL;

-- Stints begun in a period (entries per stage, cohorts) and ended in it
-- (time in stage, deals won and lost). stage_history_stage serves one
-- stage at a time; these serve every stage of a period at once.
CREATE INDEX stage_history_entered ON stage_history (entered_at);
CREATE INDEX stage_history_exited ON stage_history (exited_at) WHERE exited_at IS NOT NULL;

-- Survey answers of a kind in a period (NPS).
CREATE INDEX survey_responses_answered ON survey_responses (kind, answered_at);
