-- Default roles and permissions: seed 004's list plus what the workbench needs.
INSERT INTO permissions (name, description, resource, action)
SELECT name, description, split_part(name, ':', 1), split_part(name, ':', 2)
FROM (VALUES
    ('chat:use', 'Use the chat'),
    ('documents:create', 'Upload documents'),
    ('documents:read', 'View documents'),
    ('documents:update', 'Modify documents'),
    ('documents:delete', 'Delete documents'),
    ('agents:execute', 'Execute agents'),
    ('agents:read', 'View agent logs'),
    ('explain:view', 'View explainability data'),
    ('metering:read', 'View token usage of single calls'),
    ('admin:full', 'Full administrative access within the organisation'),
    ('users:manage', 'Manage user accounts'),
    ('roles:manage', 'Manage roles and permissions'),
    ('system:config', 'Modify system configuration'),
    ('projects:read', 'View projects'),
    ('projects:write', 'Create and edit projects'),
    ('calls:read', 'Browse and search calls and transcripts'),
    ('calls:import', 'Import calls'),
    ('qa:read', 'View QA pairs'),
    ('qa:write', 'Create, edit, delete and export QA pairs'),
    ('datasets:read', 'View datasets'),
    ('datasets:write', 'Register datasets'),
    ('usage:read', 'View token, cost and latency dashboards'),
    ('models:read', 'View models and runs'),
    ('models:train', 'Train models'),
    ('models:promote', 'Promote and roll back models'),
    ('sql:query', 'Run read-only SQL on the organisation''s data'),
    ('prompts:manage', 'Edit agents, templates and stages'),
    ('prices:manage', 'Edit the price catalogue and budgets'),
    ('keys:manage', 'Create and revoke organisation API keys'),
    ('org:manage', 'Edit the organisation''s business profile')
) AS p(name, description);

INSERT INTO roles (name, description) VALUES
    ('admin', 'Runs the organisation: users, roles, keys, prompts, prices'),
    ('data_scientist', 'Trains, compares and promotes models'),
    ('analyst', 'Explores calls, transcripts, QA pairs and documents'),
    ('manager', 'Reads token, cost and latency dashboards'),
    ('viewer', 'Read-only access');

INSERT INTO role_permissions (role_id, permission_id)
SELECT r.id, p.id
FROM (VALUES
    ('data_scientist', 'chat:use'), ('data_scientist', 'documents:read'),
    ('data_scientist', 'agents:execute'), ('data_scientist', 'agents:read'),
    ('data_scientist', 'explain:view'), ('data_scientist', 'metering:read'),
    ('data_scientist', 'usage:read'), ('data_scientist', 'projects:read'),
    ('data_scientist', 'calls:read'), ('data_scientist', 'qa:read'),
    ('data_scientist', 'datasets:read'), ('data_scientist', 'datasets:write'),
    ('data_scientist', 'models:read'), ('data_scientist', 'models:train'),
    ('data_scientist', 'models:promote'), ('data_scientist', 'sql:query'),
    ('analyst', 'chat:use'), ('analyst', 'documents:create'), ('analyst', 'documents:read'),
    ('analyst', 'documents:update'), ('analyst', 'documents:delete'),
    ('analyst', 'agents:execute'), ('analyst', 'agents:read'), ('analyst', 'explain:view'),
    ('analyst', 'projects:read'), ('analyst', 'projects:write'),
    ('analyst', 'calls:read'), ('analyst', 'calls:import'),
    ('analyst', 'qa:read'), ('analyst', 'qa:write'),
    ('analyst', 'datasets:read'), ('analyst', 'datasets:write'), ('analyst', 'sql:query'),
    ('manager', 'chat:use'), ('manager', 'documents:read'), ('manager', 'explain:view'),
    ('manager', 'metering:read'), ('manager', 'usage:read'), ('manager', 'projects:read'),
    ('manager', 'calls:read'), ('manager', 'qa:read'), ('manager', 'models:read'),
    ('viewer', 'chat:use'), ('viewer', 'documents:read'), ('viewer', 'projects:read'),
    ('viewer', 'calls:read'), ('viewer', 'qa:read')
) AS g(role, permission)
JOIN roles r ON r.name = g.role
JOIN permissions p ON p.name = g.permission
UNION ALL
SELECT r.id, p.id FROM roles r CROSS JOIN permissions p WHERE r.name = 'admin';
