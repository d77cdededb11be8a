-- Intents, call embeddings and QA pair provenance (issue 5).
-- calls.intent is the call's topic: from the imported metadata ('import'), from clustering the
-- calls' embeddings ('auto'), or set by an analyst ('analyst'); clustering never overwrites an
-- analyst's label. calls.embedded_at is NULL until the call's utterances are in LanceDB.
ALTER TABLE calls ADD COLUMN intent VARCHAR;
ALTER TABLE calls ADD COLUMN intent_source VARCHAR;
ALTER TABLE calls ADD COLUMN embedded_at TIMESTAMP;
-- qa_pairs.source: manual / import / extracted / legacy; occurrences counts the near-duplicates
-- merged into the pair (how often the question was asked).
-- (added, then made NOT NULL: DuckDB 1.5 cannot add a column with a constraint in one step)
ALTER TABLE qa_pairs ADD COLUMN source VARCHAR DEFAULT 'manual';
ALTER TABLE qa_pairs ALTER COLUMN source SET NOT NULL;
ALTER TABLE qa_pairs ADD COLUMN occurrences INTEGER DEFAULT 1;
ALTER TABLE qa_pairs ALTER COLUMN occurrences SET NOT NULL;
