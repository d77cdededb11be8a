-- Two smaller copies of usage_daily, what the Usage pages read unless a filter or a grouping needs
-- the finer key (usage.queries picks the smallest that holds the columns a query needs): at ten
-- million calls usage_daily has 1.7 million rows, usage_model_daily 3.6 thousand and
-- usage_project_user_daily 200 thousand. Append-only like the other rollups; filled here from
-- usage_daily, which holds the same sums at a finer key.
--   usage_model_daily: without project and user (the charts, an organisation's budget);
--   usage_project_user_daily: without provider, model and operation (the KPI cards with their
--   active users, top users, plans, budgets of a project or a user).
CREATE TABLE usage_model_daily (
    day DATE NOT NULL,
    org_id INTEGER NOT NULL,
    provider VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    operation_type VARCHAR NOT NULL,
    calls BIGINT NOT NULL,
    error_calls BIGINT NOT NULL,
    estimated_calls BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    embedding_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    cost_usd DOUBLE NOT NULL,
    unpriced_calls BIGINT NOT NULL,
    unpriced_tokens BIGINT NOT NULL,
    latency_ms_sum BIGINT NOT NULL,
    latency_calls BIGINT NOT NULL
);
CREATE TABLE usage_project_user_daily (
    day DATE NOT NULL,
    org_id INTEGER NOT NULL,
    project_id INTEGER,
    user_id INTEGER NOT NULL,
    calls BIGINT NOT NULL,
    error_calls BIGINT NOT NULL,
    estimated_calls BIGINT NOT NULL,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cached_tokens BIGINT NOT NULL,
    embedding_tokens BIGINT NOT NULL,
    total_tokens BIGINT NOT NULL,
    cost_usd DOUBLE NOT NULL,
    unpriced_calls BIGINT NOT NULL,
    unpriced_tokens BIGINT NOT NULL,
    latency_ms_sum BIGINT NOT NULL,
    latency_calls BIGINT NOT NULL
);
INSERT INTO usage_model_daily (day, org_id, provider, model, operation_type, calls, error_calls,
    estimated_calls, prompt_tokens, completion_tokens, cached_tokens, embedding_tokens, total_tokens,
    cost_usd, unpriced_calls, unpriced_tokens, latency_ms_sum, latency_calls)
SELECT day, org_id, provider, model, operation_type, sum(calls), sum(error_calls), sum(estimated_calls),
    sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(embedding_tokens),
    sum(total_tokens), sum(cost_usd), sum(unpriced_calls), sum(unpriced_tokens), sum(latency_ms_sum),
    sum(latency_calls)
FROM usage_daily GROUP BY day, org_id, provider, model, operation_type;
INSERT INTO usage_project_user_daily (day, org_id, project_id, user_id, calls, error_calls,
    estimated_calls, prompt_tokens, completion_tokens, cached_tokens, embedding_tokens, total_tokens,
    cost_usd, unpriced_calls, unpriced_tokens, latency_ms_sum, latency_calls)
SELECT day, org_id, project_id, user_id, sum(calls), sum(error_calls), sum(estimated_calls),
    sum(prompt_tokens), sum(completion_tokens), sum(cached_tokens), sum(embedding_tokens),
    sum(total_tokens), sum(cost_usd), sum(unpriced_calls), sum(unpriced_tokens), sum(latency_ms_sum),
    sum(latency_calls)
FROM usage_daily GROUP BY day, org_id, project_id, user_id;
INSERT INTO usage_rollup_state (table_name, compacted_rows) VALUES ('usage_model_daily', 0),
    ('usage_project_user_daily', 0);
