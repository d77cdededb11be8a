-- Issue 8: every administrative change (users, roles, passwords, API keys, the business profile,
-- agents, stages, templates, prices, budgets), for the organisation's admins to read. The actor's
-- username is copied so the record outlives the user; details never hold a password or a key.
CREATE SEQUENCE audit_log_id_seq;
CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY DEFAULT nextval('audit_log_id_seq'),
    org_id INTEGER NOT NULL,                      -- -> organizations(id)
    actor_id INTEGER,                             -- -> users(id), cleared when the user is deleted
    actor VARCHAR NOT NULL,                       -- username at the time
    action VARCHAR NOT NULL,                      -- area.verb, e.g. user.add, key.revoke
    target VARCHAR,                               -- what it acted on: a username, a key's prefix, ...
    detail JSON,                                  -- what changed
    ts TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
CREATE INDEX idx_audit_log_org_ts ON audit_log (org_id, ts);
