-- A first price catalogue (the usage issue grows it: import, admin edits, recompute). Cost of a
-- call = (uncached prompt x input + cached x cached_input + completion x output + embedding x
-- embedding rate) / 1e6, with the row in effect when the call was made (seed 004's formula).
-- A model matched by no row is unpriced: cost_usd NULL, never $0.
CREATE SEQUENCE model_prices_id_seq;
CREATE TABLE model_prices (
    id INTEGER PRIMARY KEY DEFAULT nextval('model_prices_id_seq'),
    provider VARCHAR NOT NULL,                    -- as metered: openai, deepseek, local, ...
    model VARCHAR NOT NULL,                       -- display name
    match_pattern VARCHAR NOT NULL,               -- glob on the called model, longest match wins
    input_per_million DOUBLE NOT NULL,
    output_per_million DOUBLE NOT NULL DEFAULT 0,
    cached_input_per_million DOUBLE,              -- NULL: cached tokens cost the input rate
    embedding_per_million DOUBLE,                 -- NULL: embedding tokens cost the input rate
    currency VARCHAR NOT NULL DEFAULT 'USD',
    effective_from DATE NOT NULL DEFAULT DATE '2000-01-01',
    effective_to DATE,                            -- exclusive; NULL while in effect
    source VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
CREATE INDEX idx_model_prices_provider ON model_prices (provider);

INSERT INTO model_prices (provider, model, match_pattern, input_per_million, output_per_million,
                          cached_input_per_million, embedding_per_million, source) VALUES
    ('openai', 'gpt-4o-mini', 'gpt-4o-mini*', 0.15, 0.60, 0.075, NULL, 'openai.com/api/pricing, 2026-11'),
    ('openai', 'gpt-4o', 'gpt-4o*', 2.50, 10.00, 1.25, NULL, 'openai.com/api/pricing, 2026-11'),
    ('openai', 'gpt-4.1', 'gpt-4.1*', 2.00, 8.00, 0.50, NULL, 'openai.com/api/pricing, 2026-11'),
    ('openai', 'gpt-4.1-mini', 'gpt-4.1-mini*', 0.40, 1.60, 0.10, NULL, 'openai.com/api/pricing, 2026-11'),
    ('openai', 'gpt-4.1-nano', 'gpt-4.1-nano*', 0.10, 0.40, 0.025, NULL, 'openai.com/api/pricing, 2026-11'),
    ('openai', 'text-embedding-3-small', 'text-embedding-3-small*', 0.02, 0, NULL, 0.02,
     'openai.com/api/pricing, 2026-11'),
    ('anthropic', 'claude-sonnet-4', 'claude-sonnet-4*', 3.00, 15.00, 0.30, NULL,
     'anthropic.com/pricing, 2026-11'),
    ('anthropic', 'claude-haiku-3.5', 'claude-haiku-3.5*', 0.80, 4.00, 0.08, NULL,
     'anthropic.com/pricing, 2026-11'),
    ('deepseek', 'deepseek-chat', 'deepseek-chat*', 0.27, 1.10, 0.07, NULL,
     'api-docs.deepseek.com/quick_start/pricing, 2026-11'),
    ('google', 'gemini-2.0-flash', 'gemini-2.0-flash*', 0.10, 0.40, 0.025, NULL, 'ai.google.dev/pricing, 2026-11'),
    ('ollama', 'any local model', '*', 0, 0, 0, 0, 'runs on your own hardware'),
    ('local', 'any local model', '*', 0, 0, 0, 0, 'runs in the workbench process'),
    ('extractive', 'extractive-v1', '*', 0, 0, 0, 0, 'no model: sentences selected from the sources');
