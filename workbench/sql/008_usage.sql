-- Usage at scale (issue 6): daily rollups of llm_calls, budgets, plans, and where a call's cost
-- came from.
--
-- llm_calls.cost_source: 'catalogue' (tokens x the price in effect at the call; recomputed when
-- the catalogue is corrected) or 'reported' (a cost carried over from a legacy system, kept as is).
-- llm_calls.external_id: the id a usage log gave the call; unique per organisation, so a log
-- imported twice adds nothing.
ALTER TABLE llm_calls ADD COLUMN cost_source VARCHAR DEFAULT 'catalogue';
ALTER TABLE llm_calls ADD COLUMN external_id VARCHAR;
UPDATE llm_calls SET cost_source = 'catalogue' WHERE cost_source IS NULL;
-- model_prices.org_id: NULL for the shipped catalogue every organisation shares; set for the rows
-- an organisation's admins add, edit or import, which win over the shared rows for its calls only.
ALTER TABLE model_prices ADD COLUMN org_id INTEGER;
ALTER TABLE model_prices ADD COLUMN updated_at TIMESTAMP;

-- The rollups are append-only: every write adds the aggregate of the rows it wrote, in the same
-- transaction, so concurrent writers never update the same row. Readers always SUM over their
-- groups, so a key may appear several times until `rollup.compact` merges the duplicates.
-- project_id / conversation_id are cleared like llm_calls' own when a project is deleted.
CREATE TABLE usage_daily (
    day DATE NOT NULL,
    org_id INTEGER NOT NULL,
    project_id INTEGER,
    user_id INTEGER NOT NULL,
    provider VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    operation_type VARCHAR NOT NULL,
    calls BIGINT NOT NULL,
    error_calls BIGINT NOT NULL,
    estimated_calls BIGINT NOT NULL,              -- tokens counted by a tokenizer, not reported
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    embedding_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    cost_usd DOUBLE NOT NULL,                     -- over the priced calls only
    unpriced_calls BIGINT NOT NULL,               -- calls with no price: never counted as $0
    unpriced_tokens BIGINT NOT NULL,
    latency_ms_sum BIGINT NOT NULL,
    latency_calls BIGINT NOT NULL                 -- calls with a latency
);

-- Latency as a log histogram: bucket b holds latencies round(ln(ms) / ln(1.05)) = b, so a
-- percentile read from it is within 2.5% of the exact one.
CREATE TABLE usage_latency_daily (
    day DATE NOT NULL,
    org_id INTEGER NOT NULL,
    project_id INTEGER,
    user_id INTEGER NOT NULL,
    provider VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    operation_type VARCHAR NOT NULL,
    bucket SMALLINT NOT NULL,
    calls BIGINT NOT NULL
);

-- The same histogram without project and user: what the page reads unless filtered by them.
CREATE TABLE usage_latency_model_daily (
    day DATE NOT NULL,
    org_id INTEGER NOT NULL,
    provider VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    operation_type VARCHAR NOT NULL,
    bucket SMALLINT NOT NULL,
    calls BIGINT NOT NULL
);

-- Cost per conversation and per day, for cost per conversation and the top conversations.
CREATE TABLE usage_conversation_daily (
    day DATE NOT NULL,
    org_id INTEGER NOT NULL,
    project_id INTEGER,
    user_id INTEGER NOT NULL,
    conversation_id INTEGER,
    provider VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    operation_type VARCHAR NOT NULL,
    calls BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    cost_usd DOUBLE NOT NULL,
    unpriced_calls BIGINT NOT NULL
);

-- Monthly budgets in USD for a whole organisation, one project or one user.
CREATE SEQUENCE budgets_id_seq;
CREATE TABLE budgets (
    id INTEGER PRIMARY KEY DEFAULT nextval('budgets_id_seq'),
    org_id INTEGER NOT NULL,                      -- -> organizations(id)
    scope VARCHAR NOT NULL,                       -- organization / project / user
    project_id INTEGER,                           -- -> projects(id), for scope 'project'
    user_id INTEGER,                              -- -> users(id), for scope 'user'
    monthly_usd DOUBLE NOT NULL,
    created_by INTEGER,                           -- -> users(id)
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    updated_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
CREATE INDEX idx_budgets_org_id ON budgets (org_id);

-- Seed 002's plans. The seed names free and pro without limits; these are the workbench's.
-- NULL: no limit.
CREATE TABLE plans (
    name VARCHAR PRIMARY KEY,
    daily_token_limit BIGINT,
    monthly_token_limit BIGINT,
    max_documents INTEGER,
    max_sessions INTEGER,
    description VARCHAR
);
INSERT INTO plans VALUES
    ('free', 50000, 1000000, 25, 100, 'Seed 002''s default tier'),
    ('pro', 2000000, 40000000, 1000, NULL, 'Seed 002''s paid tier'),
    ('enterprise', NULL, NULL, NULL, NULL, 'No limits: billed by contract');

-- When each rollup was last compacted, and how many rows it had then.
CREATE TABLE usage_rollup_state (
    table_name VARCHAR PRIMARY KEY,
    compacted_rows BIGINT NOT NULL,
    compacted_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
INSERT INTO usage_rollup_state (table_name, compacted_rows) VALUES
    ('usage_daily', 0), ('usage_latency_daily', 0), ('usage_latency_model_daily', 0),
    ('usage_conversation_daily', 0);

-- Seed 002's per-user stats now read the rollup: at ten million calls the raw subqueries took
-- seconds per user.
CREATE OR REPLACE VIEW usage_stats AS
SELECT
    u.id AS user_id,
    u.org_id,
    u.plan,
    coalesce((SELECT sum(d.total_tokens) FROM usage_daily d
              WHERE d.user_id = u.id AND d.day = current_date), 0) AS daily_token_count,
    coalesce((SELECT sum(d.total_tokens) FROM usage_daily d WHERE d.user_id = u.id), 0)
        AS total_tokens_used,
    (SELECT count(*) FROM documents x WHERE x.uploaded_by_id = u.id) AS doc_count,
    (SELECT count(*) FROM conversations s WHERE s.user_id = u.id) AS session_count,
    greatest(u.updated_at,
             (SELECT max(d.day)::TIMESTAMP FROM usage_daily d WHERE d.user_id = u.id)) AS updated_at
FROM users u;
