-- Rows brought in by `workbench import-legacy`: which legacy row each workbench row came from.
-- An organisation holds one legacy database per schema: importing it again (or a later copy of
-- it) finds its rows here, so renamed or edited rows are not imported twice.
CREATE TABLE legacy_ids (
    org_id INTEGER NOT NULL,                      -- -> organizations(id)
    source VARCHAR NOT NULL,                      -- the legacy schema: seed000 / seed004
    legacy_table VARCHAR NOT NULL,                -- e.g. token_usage
    legacy_id VARCHAR NOT NULL,                   -- its key as text (seed 000's call ids are text)
    new_id BIGINT NOT NULL,                       -- id of the workbench row it became
    PRIMARY KEY (org_id, source, legacy_table, legacy_id)
);
