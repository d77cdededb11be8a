-- Issue 20: the HTTP API. An API key acts with a role chosen when it is created (never more than
-- its creator's: the request's rights are the role's and the creator's, both read at each request);
-- a project can be archived (kept, read-only for imports, hidden from pickers) before it is deleted.
ALTER TABLE api_keys ADD COLUMN role VARCHAR DEFAULT 'viewer';  -- keys made before this read only
ALTER TABLE projects ADD COLUMN archived_at TIMESTAMP;

-- An LLM application reports its calls (OpenTelemetry spans, JSON batches) with a key of this role,
-- which may do nothing else.
INSERT INTO permissions (name, description, resource, action)
VALUES ('usage:ingest', 'Report LLM calls over the API (OpenTelemetry spans, JSON batches)', 'usage', 'ingest');
INSERT INTO roles (name, description)
VALUES ('reporter', 'An LLM application that reports its calls over the API');
INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id FROM roles r, permissions p
WHERE p.name = 'usage:ingest' AND r.name IN ('admin', 'reporter');
