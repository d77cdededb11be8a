-- Upgrades a database that had llm_calls before issue 6 (a fresh one has none: every statement
-- below then changes nothing). Frozen copies of the SQL in prices.reprice and rollup.add as they
-- were when this migration was written:
-- 1. reprice every catalogue-priced call with the catalogue of 009 (and any organisation rows);
-- 2. fill the rollups of 008 from the calls, so the Usage page, Home and budgets see the history.

-- 1.
    WITH keys AS (SELECT DISTINCT org_id, provider, model, created_at::DATE AS day FROM llm_calls
                  WHERE (true) AND cost_source = 'catalogue')
    UPDATE llm_calls SET cost_usd = ((prompt_tokens - cached_tokens) * in_rate + cached_tokens * cached_rate + completion_tokens * out_rate + embedding_tokens * emb_rate) / 1e6,
                         currency = coalesce(r.p_currency, 'USD')
    FROM (
SELECT k.org_id AS k_org, k.provider AS k_provider, k.model AS k_model, k.day AS k_day, p.id AS price_id,
       p.input_per_million AS in_rate, p.output_per_million AS out_rate,
       coalesce(p.cached_input_per_million, p.input_per_million) AS cached_rate,
       coalesce(p.embedding_per_million, p.input_per_million) AS emb_rate, p.currency AS p_currency
FROM keys k
LEFT JOIN (
    SELECT k.org_id, k.provider, k.model, k.day,
           arg_max(p.id, length(p.match_pattern) * 10000000000
                         + (p.org_id IS NOT NULL)::INTEGER * 1000000 + epoch(p.effective_from) // 86400) AS id
    FROM keys k JOIN model_prices p
      ON p.provider = k.provider AND lower(k.model) GLOB lower(p.match_pattern)
     AND (p.org_id IS NULL OR p.org_id = k.org_id)
     AND p.effective_from <= k.day AND (p.effective_to IS NULL OR p.effective_to > k.day)
    GROUP BY ALL
) best ON best.org_id = k.org_id AND best.provider = k.provider AND best.model = k.model
      AND best.day = k.day
LEFT JOIN model_prices p ON p.id = best.id
) r
    WHERE llm_calls.org_id = r.k_org AND llm_calls.provider = r.k_provider AND llm_calls.model = r.k_model
      AND llm_calls.created_at::DATE = r.k_day AND cost_source = 'catalogue' AND (true);

-- 2.
DELETE FROM usage_daily;
INSERT INTO usage_daily (day, org_id, project_id, user_id, provider, model, operation_type, calls, error_calls, estimated_calls, prompt_tokens, completion_tokens, cached_tokens, embedding_tokens, total_tokens, cost_usd, unpriced_calls, unpriced_tokens, latency_ms_sum, latency_calls)
SELECT created_at::DATE AS day, org_id AS org_id, project_id AS project_id, user_id AS user_id, provider AS provider, model AS model, operation_type AS operation_type, count(*) AS calls, count(*) FILTER (WHERE status <> 'ok') AS error_calls, count(*) FILTER (WHERE tokens_estimated) AS estimated_calls, sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens, sum(cached_tokens) AS cached_tokens, sum(embedding_tokens) AS embedding_tokens, sum(total_tokens) AS total_tokens, coalesce(sum(cost_usd), 0) AS cost_usd, count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_calls, coalesce(sum(total_tokens) FILTER (WHERE cost_usd IS NULL), 0) AS unpriced_tokens, coalesce(sum(latency_ms), 0) AS latency_ms_sum, count(latency_ms) AS latency_calls FROM llm_calls WHERE (true) GROUP BY ALL;
DELETE FROM usage_latency_daily;
INSERT INTO usage_latency_daily (day, org_id, project_id, user_id, provider, model, operation_type, bucket, calls)
SELECT created_at::DATE AS day, org_id AS org_id, project_id AS project_id, user_id AS user_id, provider AS provider, model AS model, operation_type AS operation_type, round(ln(greatest(latency_ms, 1)) / ln(1.05))::SMALLINT AS bucket, count(*) AS calls FROM llm_calls WHERE (true) AND latency_ms IS NOT NULL GROUP BY ALL;
DELETE FROM usage_latency_model_daily;
INSERT INTO usage_latency_model_daily (day, org_id, provider, model, operation_type, bucket, calls)
SELECT created_at::DATE AS day, org_id AS org_id, provider AS provider, model AS model, operation_type AS operation_type, round(ln(greatest(latency_ms, 1)) / ln(1.05))::SMALLINT AS bucket, count(*) AS calls FROM llm_calls WHERE (true) AND latency_ms IS NOT NULL GROUP BY ALL;
DELETE FROM usage_conversation_daily;
INSERT INTO usage_conversation_daily (day, org_id, project_id, user_id, provider, model, operation_type, conversation_id, calls, total_tokens, cost_usd, unpriced_calls)
SELECT created_at::DATE AS day, org_id AS org_id, project_id AS project_id, user_id AS user_id, provider AS provider, model AS model, operation_type AS operation_type, conversation_id AS conversation_id, count(*) AS calls, sum(total_tokens) AS total_tokens, coalesce(sum(cost_usd), 0) AS cost_usd, count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_calls FROM llm_calls WHERE (true) AND conversation_id IS NOT NULL GROUP BY ALL;
