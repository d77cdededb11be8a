-- Issue 8: the SQL console's saved queries, one list per user.
CREATE SEQUENCE saved_queries_id_seq;
CREATE TABLE saved_queries (
    id INTEGER PRIMARY KEY DEFAULT nextval('saved_queries_id_seq'),
    org_id INTEGER NOT NULL,                      -- -> organizations(id)
    user_id INTEGER NOT NULL,                     -- -> users(id)
    name VARCHAR NOT NULL,
    sql VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    updated_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp(),
    UNIQUE (user_id, name)
);
