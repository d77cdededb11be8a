-- The unified schema of DESIGN.md: the union of seeds 000-004.
-- Integer keys stay inside the package; every entity has a public UUID (seed 004's rule).
-- Timestamps are UTC without a time zone.
--
-- Foreign keys: DuckDB cannot delete a parent and its children in one transaction when a
-- FOREIGN KEY joins them, nor update an indexed column of a referenced row. Cascades must be
-- atomic here, so only rows that are never deleted (roles, permissions) are referenced by
-- declared FOREIGN KEYs. Every other link is written "-- -> table(id)" below and declared once in
-- workbench/relations.py, which drives the cascading deletes and the orphan check.

CREATE SEQUENCE organizations_id_seq;
CREATE TABLE organizations (                      -- 001 organizations + 003 businesses
    id INTEGER PRIMARY KEY DEFAULT nextval('organizations_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    name VARCHAR NOT NULL UNIQUE,                 -- 001 name, 003 business_name
    slug VARCHAR NOT NULL UNIQUE,
    business_description VARCHAR,                 -- 003
    address VARCHAR,                              -- 003
    phone_number VARCHAR,                         -- 003
    website VARCHAR,                              -- 003
    owner_user_id INTEGER,                        -- 003 owner_id -> users(id)
    is_active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

CREATE SEQUENCE users_id_seq;
CREATE TABLE users (                              -- 000, 001, 002, 003, 004
    id INTEGER PRIMARY KEY DEFAULT nextval('users_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- 001 org -> organizations(id)
    username VARCHAR NOT NULL UNIQUE,             -- 000, 002, 004
    email VARCHAR NOT NULL UNIQUE,                -- 001, 002, 003, 004
    password_hash VARCHAR NOT NULL,               -- argon2id; legacy pbkdf2_sha256 rehashed at login
    full_name VARCHAR,                            -- 004 full_name, 001 name
    first_name VARCHAR,                           -- 003
    last_name VARCHAR,                            -- 003
    plan VARCHAR NOT NULL DEFAULT 'free',         -- 002
    preferred_llm VARCHAR NOT NULL DEFAULT 'extractive',          -- 004
    explainability_level VARCHAR NOT NULL DEFAULT 'detailed',     -- 004 basic/detailed/debug
    is_active BOOLEAN NOT NULL DEFAULT true,      -- 001, 004
    is_staff BOOLEAN NOT NULL DEFAULT false,      -- 001
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMP,
    last_login TIMESTAMP,                         -- 001
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    updated_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
CREATE INDEX idx_users_org_id ON users (org_id);

CREATE SEQUENCE roles_id_seq;
CREATE TABLE roles (                              -- 004 (001's role choices map onto these)
    id INTEGER PRIMARY KEY DEFAULT nextval('roles_id_seq'),
    name VARCHAR NOT NULL UNIQUE,
    description VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

CREATE SEQUENCE permissions_id_seq;
CREATE TABLE permissions (                        -- 004
    id INTEGER PRIMARY KEY DEFAULT nextval('permissions_id_seq'),
    name VARCHAR NOT NULL UNIQUE,                 -- resource:action
    description VARCHAR,
    resource VARCHAR NOT NULL,
    action VARCHAR NOT NULL
);

CREATE TABLE user_roles (                         -- 004
    user_id INTEGER NOT NULL,                     -- -> users(id)
    role_id INTEGER NOT NULL REFERENCES roles (id),
    PRIMARY KEY (user_id, role_id)
);

CREATE TABLE role_permissions (                   -- 004
    role_id INTEGER NOT NULL REFERENCES roles (id),
    permission_id INTEGER NOT NULL REFERENCES permissions (id),
    PRIMARY KEY (role_id, permission_id)
);

CREATE SEQUENCE api_keys_id_seq;
CREATE TABLE api_keys (                           -- 003 businesses.api_key, stored hashed
    id INTEGER PRIMARY KEY DEFAULT nextval('api_keys_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- -> organizations(id)
    name VARCHAR NOT NULL,
    key_prefix VARCHAR NOT NULL,                  -- first characters, shown in lists
    key_hash VARCHAR NOT NULL UNIQUE,             -- sha256 of the whole key
    created_by INTEGER,                           -- -> users(id)
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX idx_api_keys_org_id ON api_keys (org_id);

CREATE SEQUENCE projects_id_seq;
CREATE TABLE projects (                           -- 000
    id INTEGER PRIMARY KEY DEFAULT nextval('projects_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- -> organizations(id)
    owner_id INTEGER NOT NULL,                    -- 000 user_id -> users(id)
    name VARCHAR NOT NULL,                        -- 000 project_name
    description VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    UNIQUE (owner_id, name)
);
CREATE INDEX idx_projects_org_id ON projects (org_id);

CREATE SEQUENCE calls_id_seq;
CREATE TABLE calls (                              -- 000
    id INTEGER PRIMARY KEY DEFAULT nextval('calls_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    project_id INTEGER NOT NULL,                  -- -> projects(id)
    external_id VARCHAR NOT NULL,                 -- 000 call_id: the telephony system's id
    transcript VARCHAR,
    started_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),   -- 000 timestamp
    metadata JSON,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    UNIQUE (project_id, external_id)              -- unique per project, so tenants never collide
);

CREATE SEQUENCE utterances_id_seq;
CREATE TABLE utterances (                         -- 000
    id INTEGER PRIMARY KEY DEFAULT nextval('utterances_id_seq'),
    call_id INTEGER NOT NULL,                     -- -> calls(id)
    project_id INTEGER NOT NULL,                  -- -> projects(id)
    role VARCHAR,                                 -- agent, customer, system, unknown
    content VARCHAR,
    utterance_index INTEGER,
    start_seconds DOUBLE,
    end_seconds DOUBLE
);
CREATE INDEX idx_utterances_call_id ON utterances (call_id);

CREATE SEQUENCE qa_pairs_id_seq;
CREATE TABLE qa_pairs (                           -- 000
    id INTEGER PRIMARY KEY DEFAULT nextval('qa_pairs_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    project_id INTEGER NOT NULL,                  -- -> projects(id)
    call_id INTEGER,                              -- -> calls(id), optional
    question VARCHAR NOT NULL,
    answer VARCHAR NOT NULL,
    created_by INTEGER,                           -- -> users(id)
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    updated_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

CREATE SEQUENCE datasets_id_seq;
CREATE TABLE datasets (                           -- 000
    id INTEGER PRIMARY KEY DEFAULT nextval('datasets_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- -> organizations(id)
    project_id INTEGER,                           -- -> projects(id); NULL for org-wide datasets
    name VARCHAR NOT NULL,                        -- 000 dataset_name
    file_path VARCHAR NOT NULL,
    source_type VARCHAR,                          -- e.g. qa_export, upload, call_transcripts
    file_format VARCHAR,
    num_rows BIGINT,
    created_by INTEGER,                           -- -> users(id)
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    UNIQUE (org_id, name)
);

CREATE SEQUENCE agents_id_seq;
CREATE TABLE agents (                             -- 003
    id INTEGER PRIMARY KEY DEFAULT nextval('agents_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- 003 business_id -> organizations(id)
    name VARCHAR NOT NULL,                        -- 003 agent_name
    description VARCHAR,
    agent_type VARCHAR NOT NULL DEFAULT 'rag',    -- 001 rag / code / analytics
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    UNIQUE (org_id, name)
);

CREATE SEQUENCE templates_id_seq;
CREATE TABLE templates (                          -- 003
    id INTEGER PRIMARY KEY DEFAULT nextval('templates_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- 003 business_id -> organizations(id)
    name VARCHAR NOT NULL,                        -- 003 template_name
    template_type VARCHAR NOT NULL,               -- stage_selection, data_extraction, response_generation, system
    content VARCHAR NOT NULL,
    system_prompt VARCHAR,
    variables VARCHAR[] NOT NULL DEFAULT [],      -- from prompt_templates
    description VARCHAR,                          -- from prompt_templates
    legacy_template_id VARCHAR,                   -- prompt_templates.template_id it came from
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    updated_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    UNIQUE (org_id, name)
);
CREATE INDEX idx_templates_org_id ON templates (org_id);
CREATE INDEX idx_templates_template_type ON templates (template_type);

CREATE SEQUENCE stages_id_seq;
CREATE TABLE stages (                             -- 003
    id INTEGER PRIMARY KEY DEFAULT nextval('stages_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- 003 business_id -> organizations(id)
    agent_id INTEGER,                             -- -> agents(id)
    name VARCHAR NOT NULL,                        -- 003 stage_name
    description VARCHAR NOT NULL,
    stage_type VARCHAR NOT NULL,                  -- conversation, response, form
    position INTEGER NOT NULL DEFAULT 0,
    stage_selection_template_id INTEGER NOT NULL,        -- -> templates(id)
    data_extraction_template_id INTEGER NOT NULL,        -- -> templates(id)
    response_generation_template_id INTEGER NOT NULL,    -- -> templates(id)
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    UNIQUE (org_id, name)
);

CREATE TABLE prompt_templates (                   -- 003, deprecated: emptied by migration 002
    template_id VARCHAR PRIMARY KEY,
    template_text VARCHAR NOT NULL,
    description VARCHAR,
    variables VARCHAR[] NOT NULL DEFAULT [],
    template_name VARCHAR,
    template_type VARCHAR DEFAULT 'stage_selection'
);

CREATE SEQUENCE conversations_id_seq;
CREATE TABLE conversations (                      -- 001 chat_sessions, 002, 003, 004
    id INTEGER PRIMARY KEY DEFAULT nextval('conversations_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- 003 business_id -> organizations(id)
    user_id INTEGER NOT NULL,                     -- -> users(id)
    project_id INTEGER,                           -- -> projects(id)
    title VARCHAR,                                -- 002, 004
    description VARCHAR,                          -- 002
    agent_type VARCHAR NOT NULL DEFAULT 'rag',    -- 001 code / rag / analytics
    llm_provider VARCHAR,                         -- 004
    llm_model VARCHAR,                            -- 004
    selected_document_ids JSON,                   -- 004: document UUIDs scoping the search
    status VARCHAR NOT NULL DEFAULT 'active',     -- 003 active / paused / completed / error
    session_id VARCHAR,                           -- 003
    agent_id INTEGER,                             -- 003 -> agents(id)
    stage_id INTEGER,                             -- 003 -> stages(id)
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),  -- 001 started_at, 003 start_time
    updated_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),  -- 003 last_updated
    ended_at TIMESTAMP                            -- 001
);
CREATE INDEX idx_conversations_org_id ON conversations (org_id);
CREATE INDEX idx_conversations_user_id ON conversations (user_id);
CREATE INDEX idx_conversations_status ON conversations (status);

CREATE SEQUENCE messages_id_seq;
CREATE TABLE messages (                           -- 001 chat_messages, 002, 003, 004
    id INTEGER PRIMARY KEY DEFAULT nextval('messages_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    conversation_id INTEGER NOT NULL,             -- -> conversations(id)
    user_id INTEGER,                              -- 002 author -> users(id)
    role VARCHAR NOT NULL,                        -- user / assistant / system (003 sender_type)
    content VARCHAR NOT NULL,
    token_count INTEGER NOT NULL DEFAULT 0,       -- 002
    retrieved_documents JSON,                     -- 004
    confidence_score DOUBLE,
    low_confidence_warning BOOLEAN NOT NULL DEFAULT false,
    reasoning_chain JSON,
    sources JSON,
    grounding_evidence JSON,
    agents_involved JSON,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    updated_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
CREATE INDEX idx_messages_conversation_id ON messages (conversation_id);

CREATE SEQUENCE agent_logs_id_seq;
CREATE TABLE agent_logs (                         -- 004
    id INTEGER PRIMARY KEY DEFAULT nextval('agent_logs_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    message_id INTEGER NOT NULL,                  -- -> messages(id)
    agent_name VARCHAR NOT NULL,
    agent_type VARCHAR,                           -- research / analyzer / grounding / explainability
    action VARCHAR,
    input_data JSON,
    output_data JSON,
    execution_time DOUBLE,                        -- seconds
    tokens_used INTEGER,
    status VARCHAR,                               -- success / failed / timeout
    error_message VARCHAR,
    reasoning VARCHAR,
    confidence DOUBLE,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
CREATE INDEX idx_agent_logs_message_id ON agent_logs (message_id);

CREATE SEQUENCE documents_id_seq;
CREATE TABLE documents (                          -- 000, 001, 002, 004
    id INTEGER PRIMARY KEY DEFAULT nextval('documents_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- 001 org -> organizations(id)
    project_id INTEGER,                           -- 000 -> projects(id)
    conversation_id INTEGER,                      -- 002 session_id -> conversations(id)
    uploaded_by_id INTEGER,                       -- 004, 001 uploaded_by, 002 user_id -> users(id)
    filename VARCHAR NOT NULL,                    -- original name (000 file_name)
    file_path VARCHAR NOT NULL,                   -- generated safe path under the data home
    file_type VARCHAR,
    file_size BIGINT,
    sha256 VARCHAR,                               -- content hash for dedup
    title VARCHAR,
    description VARCHAR,
    category VARCHAR,
    tags JSON,
    scope VARCHAR NOT NULL DEFAULT 'user',        -- user / project / global
    doc_type VARCHAR,                             -- 001 policy / product / tech_manual
    version INTEGER NOT NULL DEFAULT 1,           -- 001
    content VARCHAR,                              -- 002 extracted raw text
    auto_summary VARCHAR,
    auto_keywords JSON,
    auto_topics JSON,
    content_type VARCHAR,
    summarization_model VARCHAR,
    summarization_tokens INTEGER,
    summarized_at TIMESTAMP,
    is_processed BOOLEAN NOT NULL DEFAULT false,
    processing_status VARCHAR NOT NULL DEFAULT 'pending',   -- pending / processing / completed / failed
    error_message VARCHAR,
    num_chunks INTEGER NOT NULL DEFAULT 0,
    num_tokens INTEGER NOT NULL DEFAULT 0,
    vector_table VARCHAR,                         -- 001 pinecone_ns, 002 vector_id: LanceDB table
    uploaded_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    processed_at TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);
CREATE INDEX idx_documents_org_id ON documents (org_id);
CREATE INDEX idx_documents_uploaded_by_id ON documents (uploaded_by_id);
CREATE INDEX idx_documents_sha256 ON documents (sha256);

CREATE SEQUENCE git_repositories_id_seq;
CREATE TABLE git_repositories (                   -- 001
    id INTEGER PRIMARY KEY DEFAULT nextval('git_repositories_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- -> organizations(id)
    repo_url VARCHAR NOT NULL,
    default_branch VARCHAR NOT NULL DEFAULT 'main',
    local_path VARCHAR,
    created_by INTEGER,                           -- -> users(id)
    fetched_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    UNIQUE (org_id, repo_url)
);

CREATE SEQUENCE code_files_id_seq;
CREATE TABLE code_files (                         -- 001
    id INTEGER PRIMARY KEY DEFAULT nextval('code_files_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    repo_id INTEGER NOT NULL,                     -- -> git_repositories(id)
    file_path VARCHAR NOT NULL,
    language VARCHAR,
    latest_commit VARCHAR,
    loc INTEGER,
    sha256 VARCHAR,
    UNIQUE (repo_id, file_path)
);

CREATE SEQUENCE document_chunks_id_seq;
CREATE TABLE document_chunks (                    -- 004 document_chunks + 001 embed_chunks
    id INTEGER PRIMARY KEY DEFAULT nextval('document_chunks_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    document_id INTEGER,                          -- -> documents(id)
    code_file_id INTEGER,                         -- 001 file -> code_files(id)
    content VARCHAR NOT NULL,
    chunk_index INTEGER,
    num_tokens INTEGER,
    page_number INTEGER,
    section VARCHAR,
    start_line INTEGER,                           -- code chunks
    end_line INTEGER,
    content_hash VARCHAR,                         -- 001 hash: sha256 of the text, the embedding cache key
    embedding_id VARCHAR,                         -- row id in LanceDB
    CHECK ((document_id IS NULL) <> (code_file_id IS NULL))
);
CREATE INDEX idx_document_chunks_document_id ON document_chunks (document_id);
CREATE INDEX idx_document_chunks_code_file_id ON document_chunks (code_file_id);

CREATE SEQUENCE llm_calls_id_seq;
CREATE TABLE llm_calls (                          -- 001 llm_calls + 004 token_usage: the metering fact
    id BIGINT PRIMARY KEY DEFAULT nextval('llm_calls_id_seq'),
    uuid UUID NOT NULL DEFAULT uuid(),            -- public id; no index: random v4, never joined on
    org_id INTEGER NOT NULL,                      -- -> organizations(id)
    user_id INTEGER NOT NULL,                     -- -> users(id)
    project_id INTEGER,                           -- -> projects(id)
    conversation_id INTEGER,                      -- 001 session -> conversations(id)
    message_id INTEGER,                           -- -> messages(id)
    agent_log_id INTEGER,                         -- -> agent_logs(id)
    provider VARCHAR NOT NULL,
    model VARCHAR NOT NULL,
    operation_type VARCHAR NOT NULL,              -- chat / embedding / analysis / grounding / explanation
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens INTEGER NOT NULL DEFAULT 0,
    embedding_tokens INTEGER NOT NULL DEFAULT 0,
    total_tokens INTEGER NOT NULL DEFAULT 0,
    tokens_estimated BOOLEAN NOT NULL DEFAULT false,  -- counted by a tokenizer, not reported
    cost_usd DOUBLE,                              -- NULL = unpriced, never shown as $0
    currency VARCHAR NOT NULL DEFAULT 'USD',
    latency_ms INTEGER,
    status VARCHAR NOT NULL DEFAULT 'ok',         -- ok / error
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()   -- 001 called_at
);
-- The indexes seed 004 lists for token usage.
CREATE INDEX idx_llm_calls_user_id ON llm_calls (user_id);
CREATE INDEX idx_llm_calls_conversation_id ON llm_calls (conversation_id);
CREATE INDEX idx_llm_calls_message_id ON llm_calls (message_id);
CREATE INDEX idx_llm_calls_provider ON llm_calls (provider);
CREATE INDEX idx_llm_calls_operation_type ON llm_calls (operation_type);
CREATE INDEX idx_llm_calls_created_at ON llm_calls (created_at);

CREATE SEQUENCE analytics_results_id_seq;
CREATE TABLE analytics_results (                  -- 001
    id INTEGER PRIMARY KEY DEFAULT nextval('analytics_results_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- -> organizations(id)
    user_id INTEGER NOT NULL,                     -- -> users(id)
    result_type VARCHAR NOT NULL CHECK (result_type IN ('churn_pred', 'viz_image', 'timeseries_forecast')),
    artifact_path VARCHAR,                        -- 001 s3_key
    meta JSON,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

CREATE SEQUENCE model_artifacts_id_seq;
CREATE TABLE model_artifacts (                    -- 001: mirror of the MLflow registry
    id INTEGER PRIMARY KEY DEFAULT nextval('model_artifacts_id_seq'),
    uuid UUID NOT NULL UNIQUE DEFAULT uuid(),
    org_id INTEGER NOT NULL,                      -- -> organizations(id)
    name VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    artifact_uri VARCHAR,                         -- 001 s3_key
    mlflow_run_id VARCHAR,
    stage VARCHAR NOT NULL DEFAULT 'staging' CHECK (stage IN ('staging', 'production', 'archived')),
    metrics JSON,
    created_by INTEGER,                           -- -> users(id)
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    UNIQUE (org_id, name, version)
);

CREATE SEQUENCE model_stage_transitions_id_seq;
CREATE TABLE model_stage_transitions (            -- audit of every stage change
    id INTEGER PRIMARY KEY DEFAULT nextval('model_stage_transitions_id_seq'),
    model_artifact_id INTEGER NOT NULL,           -- -> model_artifacts(id)
    from_stage VARCHAR,
    to_stage VARCHAR NOT NULL,
    changed_by INTEGER,                           -- -> users(id)
    reason VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp()
);

-- Seed 002's per-user stats, derived from the facts so they cannot drift.
CREATE VIEW usage_stats AS
SELECT
    u.id AS user_id,
    u.org_id,
    u.plan,
    coalesce((SELECT sum(c.total_tokens) FROM llm_calls c
              WHERE c.user_id = u.id AND c.created_at >= current_date), 0) AS daily_token_count,
    coalesce((SELECT sum(c.total_tokens) FROM llm_calls c WHERE c.user_id = u.id), 0)
        AS total_tokens_used,
    (SELECT count(*) FROM documents d WHERE d.uploaded_by_id = u.id) AS doc_count,
    (SELECT count(*) FROM conversations s WHERE s.user_id = u.id) AS session_count,
    greatest(u.updated_at,
             (SELECT max(c.created_at) FROM llm_calls c WHERE c.user_id = u.id)) AS updated_at
FROM users u;
