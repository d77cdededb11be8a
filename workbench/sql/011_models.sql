-- Issue 7: the MLflow registry mirror and its audit carry what a data scientist compares.
-- model_artifacts: which kind of model (churn, forecast), the MLflow registered model it mirrors
-- (named per organisation so two tenants never share one), the run's parameters and where the
-- training data came from. Stage stays staging / production / archived (seed 001).
ALTER TABLE model_artifacts ADD COLUMN kind VARCHAR;
ALTER TABLE model_artifacts ADD COLUMN registered_name VARCHAR;
ALTER TABLE model_artifacts ADD COLUMN params JSON;
ALTER TABLE model_artifacts ADD COLUMN source VARCHAR;
ALTER TABLE model_artifacts ADD COLUMN updated_at TIMESTAMP;

-- Every transition keeps the metrics it was decided on (the gate's comparison, or the version's
-- own metrics when forced, archived or rolled back) and how it happened.
ALTER TABLE model_stage_transitions ADD COLUMN metrics JSON;
ALTER TABLE model_stage_transitions ADD COLUMN action VARCHAR;  -- register, promote, force, archive, rollback

-- A scoring run's results point at the model version that made them.
ALTER TABLE analytics_results ADD COLUMN model_artifact_id INTEGER;  -- -> model_artifacts(id)
ALTER TABLE analytics_results ADD COLUMN batch_id UUID;               -- one scoring run
CREATE INDEX idx_analytics_results_org_type ON analytics_results (org_id, result_type);
