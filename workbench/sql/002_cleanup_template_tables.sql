-- Seed 003's 01_cleanup_template_tables: move the deprecated prompt_templates into templates.
-- prompt_templates has no business column, so every organisation receives its own copy.
INSERT INTO templates (org_id, name, template_type, content, variables, description,
                       legacy_template_id)
SELECT o.id,
       coalesce(p.template_name, p.template_id),
       coalesce(p.template_type, 'stage_selection'),
       p.template_text,
       p.variables,
       p.description,
       p.template_id
FROM prompt_templates p CROSS JOIN organizations o
WHERE NOT EXISTS (
    SELECT 1 FROM templates t
    WHERE t.org_id = o.id AND t.name = coalesce(p.template_name, p.template_id)
);

DELETE FROM prompt_templates;
