-- Issue 19: each project's intents as clustering named them, so an analyst reads what a label
-- stands for: its phrases (class TF-IDF n-grams, best first, as said in the calls) and the customer
-- utterance nearest the cluster's centre. Rewritten for the project at each re-clustering; an
-- analyst's rename renames the row too.
CREATE SEQUENCE intents_id_seq;
CREATE TABLE intents (
    id INTEGER PRIMARY KEY DEFAULT nextval('intents_id_seq'),
    project_id INTEGER NOT NULL,                  -- -> projects(id)
    label VARCHAR NOT NULL,
    phrases JSON NOT NULL,                        -- ["signal drops", "drops at home", ...]
    representative VARCHAR NOT NULL,
    calls INTEGER NOT NULL,                       -- in the cluster when it was named
    named_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
