-- The shipped catalogue (org_id NULL), replacing 004's first rows: public list prices in USD per
-- million tokens for the common models, standard (not batch) tier, as read from each provider's
-- pricing page in 2025. Re-check them against the page before relying on a figure; an admin can
-- correct any row for their organisation (the organisation's own rows win for its calls).
--
-- Not modelled: Anthropic's cache writes (1.25x input) and long-context rates (Sonnet over 200k
-- tokens), Gemini's rates for prompts over 200k tokens and for audio input, DeepSeek's old
-- off-peak discount, batch discounts. `cached` is the cache-hit / cache-read rate; NULL where
-- the provider publishes none (cached tokens then cost the input rate).
--
-- Patterns name a model exactly, or its dated snapshots ('gpt-4o-20*' prices gpt-4o-2024-08-06),
-- never a bare prefix: 'gpt-4o*' would price gpt-4o-audio-preview or chatgpt-4o-latest at
-- gpt-4o's rate, 'gemini-2.0-flash*' gemini-2.0-flash-lite. A model no row names stays unpriced
-- (cost NULL, shown as such) until an admin prices it: fine-tunes ('ft:gpt-4o-mini:org:x') too.
DELETE FROM model_prices WHERE org_id IS NULL;

INSERT INTO model_prices (provider, model, match_pattern, input_per_million, output_per_million,
                          cached_input_per_million, embedding_per_million, effective_from,
                          effective_to, source)
SELECT r.provider, r.model, r.pattern, r.input::DOUBLE, r.output::DOUBLE, r.cached::DOUBLE,
       r.embedding::DOUBLE, coalesce(r.from_day::DATE, DATE '2000-01-01'), r.to_day::DATE, s.source
FROM (VALUES
    -- provider, model (display), pattern, input, output, cached, embedding, from, to (exclusive)
    ('openai', 'gpt-5', 'gpt-5', 1.25, 10.00, 0.125, NULL, NULL, NULL),
    ('openai', 'gpt-5', 'gpt-5-20*', 1.25, 10.00, 0.125, NULL, NULL, NULL),
    ('openai', 'gpt-5', 'gpt-5-chat-latest', 1.25, 10.00, 0.125, NULL, NULL, NULL),
    ('openai', 'gpt-5-mini', 'gpt-5-mini', 0.25, 2.00, 0.025, NULL, NULL, NULL),
    ('openai', 'gpt-5-mini', 'gpt-5-mini-20*', 0.25, 2.00, 0.025, NULL, NULL, NULL),
    ('openai', 'gpt-5-nano', 'gpt-5-nano', 0.05, 0.40, 0.005, NULL, NULL, NULL),
    ('openai', 'gpt-5-nano', 'gpt-5-nano-20*', 0.05, 0.40, 0.005, NULL, NULL, NULL),
    ('openai', 'gpt-4.1', 'gpt-4.1', 2.00, 8.00, 0.50, NULL, NULL, NULL),
    ('openai', 'gpt-4.1', 'gpt-4.1-20*', 2.00, 8.00, 0.50, NULL, NULL, NULL),
    ('openai', 'gpt-4.1-mini', 'gpt-4.1-mini', 0.40, 1.60, 0.10, NULL, NULL, NULL),
    ('openai', 'gpt-4.1-mini', 'gpt-4.1-mini-20*', 0.40, 1.60, 0.10, NULL, NULL, NULL),
    ('openai', 'gpt-4.1-nano', 'gpt-4.1-nano', 0.10, 0.40, 0.025, NULL, NULL, NULL),
    ('openai', 'gpt-4.1-nano', 'gpt-4.1-nano-20*', 0.10, 0.40, 0.025, NULL, NULL, NULL),
    ('openai', 'gpt-4o', 'gpt-4o', 2.50, 10.00, 1.25, NULL, NULL, NULL),
    ('openai', 'gpt-4o', 'gpt-4o-20*', 2.50, 10.00, 1.25, NULL, NULL, NULL),
    -- the first gpt-4o snapshot kept its launch price and has no cached rate
    ('openai', 'gpt-4o-2024-05-13', 'gpt-4o-2024-05-13', 5.00, 15.00, NULL, NULL, NULL, NULL),
    ('openai', 'gpt-4o-mini', 'gpt-4o-mini', 0.15, 0.60, 0.075, NULL, NULL, NULL),
    ('openai', 'gpt-4o-mini', 'gpt-4o-mini-20*', 0.15, 0.60, 0.075, NULL, NULL, NULL),
    -- o3's price was cut by 80% on 2025-06-10
    ('openai', 'o3', 'o3', 10.00, 40.00, 2.50, NULL, NULL, '2025-06-10'),
    ('openai', 'o3', 'o3-20*', 10.00, 40.00, 2.50, NULL, NULL, '2025-06-10'),
    ('openai', 'o3', 'o3', 2.00, 8.00, 0.50, NULL, '2025-06-10', NULL),
    ('openai', 'o3', 'o3-20*', 2.00, 8.00, 0.50, NULL, '2025-06-10', NULL),
    ('openai', 'o4-mini', 'o4-mini', 1.10, 4.40, 0.275, NULL, NULL, NULL),
    ('openai', 'o4-mini', 'o4-mini-20*', 1.10, 4.40, 0.275, NULL, NULL, NULL),
    ('openai', 'text-embedding-3-small', 'text-embedding-3-small', 0.02, 0, NULL, 0.02, NULL, NULL),
    ('openai', 'text-embedding-3-large', 'text-embedding-3-large', 0.13, 0, NULL, 0.13, NULL, NULL),

    ('anthropic', 'claude-opus-4', 'claude-opus-4', 15.00, 75.00, 1.50, NULL, NULL, NULL),
    ('anthropic', 'claude-opus-4', 'claude-opus-4-0', 15.00, 75.00, 1.50, NULL, NULL, NULL),
    ('anthropic', 'claude-opus-4', 'claude-opus-4-20*', 15.00, 75.00, 1.50, NULL, NULL, NULL),
    ('anthropic', 'claude-opus-4.1', 'claude-opus-4-1', 15.00, 75.00, 1.50, NULL, NULL, NULL),
    ('anthropic', 'claude-opus-4.1', 'claude-opus-4-1-20*', 15.00, 75.00, 1.50, NULL, NULL, NULL),
    ('anthropic', 'claude-opus-4.5', 'claude-opus-4-5', 5.00, 25.00, 0.50, NULL, NULL, NULL),
    ('anthropic', 'claude-opus-4.5', 'claude-opus-4-5-20*', 5.00, 25.00, 0.50, NULL, NULL, NULL),
    ('anthropic', 'claude-sonnet-4', 'claude-sonnet-4', 3.00, 15.00, 0.30, NULL, NULL, NULL),
    ('anthropic', 'claude-sonnet-4', 'claude-sonnet-4-0', 3.00, 15.00, 0.30, NULL, NULL, NULL),
    ('anthropic', 'claude-sonnet-4', 'claude-sonnet-4-20*', 3.00, 15.00, 0.30, NULL, NULL, NULL),
    ('anthropic', 'claude-sonnet-4.5', 'claude-sonnet-4-5', 3.00, 15.00, 0.30, NULL, NULL, NULL),
    ('anthropic', 'claude-sonnet-4.5', 'claude-sonnet-4-5-20*', 3.00, 15.00, 0.30, NULL, NULL, NULL),
    ('anthropic', 'claude-3.7-sonnet', 'claude-3-7-sonnet-latest', 3.00, 15.00, 0.30, NULL, NULL, NULL),
    ('anthropic', 'claude-3.7-sonnet', 'claude-3-7-sonnet-20*', 3.00, 15.00, 0.30, NULL, NULL, NULL),
    ('anthropic', 'claude-3.5-sonnet', 'claude-3-5-sonnet-latest', 3.00, 15.00, 0.30, NULL, NULL, NULL),
    ('anthropic', 'claude-3.5-sonnet', 'claude-3-5-sonnet-20*', 3.00, 15.00, 0.30, NULL, NULL, NULL),
    ('anthropic', 'claude-haiku-4.5', 'claude-haiku-4-5', 1.00, 5.00, 0.10, NULL, NULL, NULL),
    ('anthropic', 'claude-haiku-4.5', 'claude-haiku-4-5-20*', 1.00, 5.00, 0.10, NULL, NULL, NULL),
    ('anthropic', 'claude-3.5-haiku', 'claude-3-5-haiku-latest', 0.80, 4.00, 0.08, NULL, NULL, NULL),
    ('anthropic', 'claude-3.5-haiku', 'claude-3-5-haiku-20*', 0.80, 4.00, 0.08, NULL, NULL, NULL),
    ('anthropic', 'claude-3.5-haiku', 'claude-haiku-3.5', 0.80, 4.00, 0.08, NULL, NULL, NULL),
    ('anthropic', 'claude-3-haiku', 'claude-3-haiku', 0.25, 1.25, 0.03, NULL, NULL, NULL),
    ('anthropic', 'claude-3-haiku', 'claude-3-haiku-20*', 0.25, 1.25, 0.03, NULL, NULL, NULL),

    ('google', 'gemini-2.5-pro', 'gemini-2.5-pro', 1.25, 10.00, 0.125, NULL, NULL, NULL),
    ('google', 'gemini-2.5-flash', 'gemini-2.5-flash', 0.30, 2.50, 0.03, NULL, NULL, NULL),
    ('google', 'gemini-2.5-flash-lite', 'gemini-2.5-flash-lite', 0.10, 0.40, 0.01, NULL, NULL, NULL),
    ('google', 'gemini-2.0-flash', 'gemini-2.0-flash', 0.10, 0.40, 0.025, NULL, NULL, NULL),
    ('google', 'gemini-2.0-flash', 'gemini-2.0-flash-0*', 0.10, 0.40, 0.025, NULL, NULL, NULL),
    ('google', 'gemini-embedding-001', 'gemini-embedding-001', 0.15, 0, NULL, 0.15, NULL, NULL),

    -- DeepSeek changed its prices on 2025-09-05 (V3.1, one price for both models) and again on
    -- 2025-09-29 (V3.2)
    ('deepseek', 'deepseek-chat', 'deepseek-chat', 0.27, 1.10, 0.07, NULL, NULL, '2025-09-05'),
    ('deepseek', 'deepseek-reasoner', 'deepseek-reasoner', 0.55, 2.19, 0.14, NULL, NULL, '2025-09-05'),
    ('deepseek', 'deepseek-chat', 'deepseek-chat', 0.56, 1.68, 0.07, NULL, '2025-09-05', '2025-09-29'),
    ('deepseek', 'deepseek-reasoner', 'deepseek-reasoner', 0.56, 1.68, 0.07, NULL, '2025-09-05',
     '2025-09-29'),
    ('deepseek', 'deepseek-chat', 'deepseek-chat', 0.28, 0.42, 0.028, NULL, '2025-09-29', NULL),
    ('deepseek', 'deepseek-reasoner', 'deepseek-reasoner', 0.28, 0.42, 0.028, NULL, '2025-09-29', NULL),

    ('mistral', 'mistral-large-latest', 'mistral-large-latest', 2.00, 6.00, NULL, NULL, NULL, NULL),
    ('mistral', 'mistral-medium-latest', 'mistral-medium-latest', 0.40, 2.00, NULL, NULL, NULL, NULL),
    ('mistral', 'mistral-small-latest', 'mistral-small-latest', 0.10, 0.30, NULL, NULL, NULL, NULL),
    ('mistral', 'codestral-latest', 'codestral-latest', 0.30, 0.90, NULL, NULL, NULL, NULL),
    ('mistral', 'mistral-embed', 'mistral-embed', 0.10, 0, NULL, 0.10, NULL, NULL),

    ('ollama', 'any local model', '*', 0, 0, 0, 0, NULL, NULL),
    ('local', 'any local model', '*', 0, 0, 0, 0, NULL, NULL),
    ('extractive', 'extractive-v1', '*', 0, 0, 0, 0, NULL, NULL)
) AS r(provider, model, pattern, input, output, cached, embedding, from_day, to_day)
JOIN (VALUES
    ('openai', 'openai.com/api/pricing, standard tier, list price read 2025'),
    ('anthropic', 'claude.com/pricing, list price read 2025; cached = cache read'),
    ('google', 'ai.google.dev/gemini-api/docs/pricing, paid tier, prompts up to 200k tokens, list price read 2025'),
    ('deepseek', 'api-docs.deepseek.com/quick_start/pricing, list price read 2025; cached = cache hit'),
    ('mistral', 'mistral.ai/pricing, list price read 2025; no cached rate published'),
    ('ollama', 'runs on your own hardware'),
    ('local', 'runs in the workbench process'),
    ('extractive', 'no model: sentences selected from the sources')
) AS s(provider, source) ON s.provider = r.provider;
