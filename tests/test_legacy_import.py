"""Importing legacy databases: seed 000's and seed 004's schemas, built here from the seeds'
column lists, land in the admin's organisation with working passwords; a second run changes
nothing; a file in neither schema, a broken row or a foreign username writes nothing."""

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import ctx_of
from tests.test_cli import run
from workbench import home
from workbench.accounts import auth, users
from workbench.calls import datasets
from workbench.documents import ingest
from workbench.documents import records as documents
from workbench.errors import InvalidInput, NotAllowed
from workbench.ops.legacy import importer as legacy

# Seed 000's seven tables as its description lists them.
SEED_000 = """
CREATE TABLE users (
    user_id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT UNIQUE NOT NULL,
    password_hash TEXT NOT NULL,
    email TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE projects (
    project_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (user_id),
    project_name TEXT NOT NULL,
    description TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (user_id, project_name)
);
CREATE TABLE documents (
    document_id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (project_id),
    file_name TEXT NOT NULL,
    file_path TEXT NOT NULL,
    file_type TEXT,
    uploaded_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE calls (
    call_id TEXT PRIMARY KEY,
    project_id INTEGER NOT NULL REFERENCES projects (project_id),
    transcript TEXT,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE utterances (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id TEXT REFERENCES calls (call_id),
    project_id INTEGER NOT NULL REFERENCES projects (project_id),
    role TEXT,
    content TEXT,
    utterance_index INTEGER
);
CREATE TABLE qa_pairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (project_id),
    call_id TEXT REFERENCES calls (call_id),
    question TEXT,
    answer TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE datasets (
    dataset_id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (project_id),
    dataset_name TEXT NOT NULL,
    file_path TEXT NOT NULL,
    source_type TEXT,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
"""

# Seed 004's eleven tables with every column its models list.
SEED_004 = """
CREATE TABLE users (
    id INTEGER PRIMARY KEY, username VARCHAR UNIQUE NOT NULL, email VARCHAR UNIQUE NOT NULL,
    hashed_password VARCHAR NOT NULL, full_name VARCHAR, is_active BOOLEAN DEFAULT 1,
    created_at DATETIME, updated_at DATETIME, preferred_llm VARCHAR DEFAULT 'ollama',
    explainability_level VARCHAR DEFAULT 'detailed'
);
CREATE TABLE roles (
    id INTEGER PRIMARY KEY, name VARCHAR UNIQUE NOT NULL, description VARCHAR, created_at DATETIME
);
CREATE TABLE permissions (
    id INTEGER PRIMARY KEY, name VARCHAR UNIQUE NOT NULL, description VARCHAR, resource VARCHAR,
    action VARCHAR
);
CREATE TABLE user_roles (
    user_id INTEGER REFERENCES users (id), role_id INTEGER REFERENCES roles (id),
    PRIMARY KEY (user_id, role_id)
);
CREATE TABLE role_permissions (
    role_id INTEGER REFERENCES roles (id), permission_id INTEGER REFERENCES permissions (id),
    PRIMARY KEY (role_id, permission_id)
);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY, uuid VARCHAR UNIQUE, filename VARCHAR NOT NULL,
    file_path VARCHAR NOT NULL, file_type VARCHAR, file_size INTEGER, title VARCHAR,
    description TEXT, category VARCHAR, tags JSON, scope VARCHAR DEFAULT 'user',
    auto_summary TEXT, auto_keywords JSON, auto_topics JSON, content_type VARCHAR,
    summarization_model VARCHAR, summarization_tokens INTEGER, summarized_at DATETIME,
    is_processed BOOLEAN DEFAULT 0, processing_status VARCHAR DEFAULT 'pending',
    error_message TEXT, num_chunks INTEGER DEFAULT 0, num_tokens INTEGER DEFAULT 0,
    uploaded_at DATETIME, processed_at DATETIME, uploaded_by_id INTEGER REFERENCES users (id)
);
CREATE TABLE document_chunks (
    id INTEGER PRIMARY KEY, uuid VARCHAR UNIQUE, document_id INTEGER REFERENCES documents (id),
    content TEXT NOT NULL, chunk_index INTEGER, num_tokens INTEGER, page_number INTEGER,
    section VARCHAR, embedding_id VARCHAR
);
CREATE TABLE conversations (
    id INTEGER PRIMARY KEY, uuid VARCHAR UNIQUE, title VARCHAR,
    user_id INTEGER REFERENCES users (id), llm_provider VARCHAR, llm_model VARCHAR,
    selected_document_ids JSON, created_at DATETIME, updated_at DATETIME
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY, uuid VARCHAR UNIQUE,
    conversation_id INTEGER REFERENCES conversations (id), role VARCHAR NOT NULL,
    content TEXT NOT NULL, retrieved_documents JSON, confidence_score FLOAT,
    low_confidence_warning BOOLEAN DEFAULT 0, reasoning_chain JSON, sources JSON,
    grounding_evidence JSON, agents_involved JSON, created_at DATETIME
);
CREATE TABLE agent_logs (
    id INTEGER PRIMARY KEY, uuid VARCHAR UNIQUE, message_id INTEGER REFERENCES messages (id),
    agent_name VARCHAR NOT NULL, agent_type VARCHAR, action VARCHAR, input_data JSON,
    output_data JSON, execution_time FLOAT, tokens_used INTEGER, status VARCHAR,
    error_message TEXT, reasoning TEXT, confidence FLOAT, created_at DATETIME
);
CREATE TABLE token_usage (
    id INTEGER PRIMARY KEY, uuid VARCHAR UNIQUE, user_id INTEGER NOT NULL REFERENCES users (id),
    conversation_id INTEGER REFERENCES conversations (id),
    message_id INTEGER REFERENCES messages (id), agent_log_id INTEGER REFERENCES agent_logs (id),
    provider VARCHAR NOT NULL, model VARCHAR NOT NULL, operation_type VARCHAR NOT NULL,
    prompt_tokens INTEGER DEFAULT 0, completion_tokens INTEGER DEFAULT 0,
    total_tokens INTEGER DEFAULT 0, embedding_tokens INTEGER DEFAULT 0,
    estimated_cost FLOAT DEFAULT 0.0, currency VARCHAR DEFAULT 'USD', created_at DATETIME
);
"""

QA_CSV = "question,answer\nWhy does my router drop?,Reset the line.\n"
DOC_UUID = "5b7f1c8e-2a44-4d0e-9a39-0c1d2e3f4a5b"
CONVERSATION_UUID = "0e6a9b1c-7d2f-4c3a-8b5e-1f2a3b4c5d6e"
IMPORTED_TABLES = [
    "users",
    "user_roles",
    "projects",
    "calls",
    "utterances",
    "qa_pairs",
    "datasets",
    "documents",
    "conversations",
    "messages",
    "agent_logs",
    "llm_calls",
    "legacy_ids",
]


def pbkdf2_sha256(password: str, salt: bytes = b"seed-000-salt!!", rounds: int = 29000) -> str:
    """The passlib format seed 000's auth.py stored: $pbkdf2-sha256$rounds$salt$checksum."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)

    def ab64(raw: bytes) -> str:
        return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")

    return f"$pbkdf2-sha256${rounds}${ab64(salt)}${ab64(digest)}"


def build(path, schema: str, rows: dict[str, list[dict]]):
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript(schema)
    for table, records in rows.items():
        for record in records:
            con.execute(
                f"INSERT INTO {table} ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
                list(record.values()),
            )
    con.commit()
    con.close()
    return path


def seed_000_rows(username: str = "olga") -> dict[str, list[dict]]:
    return {
        "users": [
            {
                "user_id": 1,
                "username": username,
                "password_hash": pbkdf2_sha256("olga-legacy-pw"),
                "email": f"{username}@old.example",
                "created_at": "2023-05-01 09:00:00",
            },
            {
                "user_id": 2,
                "username": "Pete",
                "password_hash": pbkdf2_sha256("pete-legacy-pw"),
                "email": None,
            },
        ],
        "projects": [
            {"project_id": 1, "user_id": 1, "project_name": "Helpline", "description": "Inbound"},
            {"project_id": 2, "user_id": 2, "project_name": "Helpline"},
        ],
        "calls": [
            {
                "call_id": "CALL-1",
                "project_id": 1,
                "transcript": "Agent: Thanks for calling...",
                "timestamp": "2024-03-01 10:00:00",
            },
            {"call_id": "CALL-2", "project_id": 2, "transcript": None},
        ],
        "utterances": [
            {
                "call_id": "CALL-1",
                "project_id": 1,
                "role": "agent",
                "utterance_index": 0,
                "content": "Thanks for calling, how can I help?",
            },
            {
                "call_id": "CALL-1",
                "project_id": 1,
                "role": "Customer",
                "utterance_index": 1,
                "content": "My router keeps dropping and I am really annoyed.",
            },
            {
                "call_id": "CALL-1",
                "project_id": 1,
                "role": "agent",
                "utterance_index": 2,
                "content": "I reset your line now.",
            },
            {
                "call_id": "CALL-1",
                "project_id": 1,
                "role": "customer",
                "utterance_index": 3,
                "content": "Great, thanks, that fixed it!",
            },
            {"call_id": "CALL-2", "project_id": 2, "role": "rep", "content": "Hello."},
            {"call_id": "CALL-2", "project_id": 2, "role": "caller", "content": "Bye."},
        ],
        "qa_pairs": [
            {
                "project_id": 1,
                "call_id": "CALL-1",
                "question": "Why does my router drop?",
                "answer": "Reset the line.",
            },
            {"project_id": 2, "question": "Opening hours?", "answer": "9 to 5."},
            {"project_id": 2, "question": None, "answer": "an answer to nothing"},
        ],
        "datasets": [
            {
                "project_id": 1,
                "dataset_name": "helpline-qa",
                "file_path": "exports/qa.csv",
                "source_type": "qa_export",
            },
        ],
        "documents": [
            {"project_id": 1, "file_name": "faq.md", "file_path": "uploads/faq.md", "file_type": "md"},
            {"project_id": 2, "file_name": "gone.pdf", "file_path": "uploads/gone.pdf"},
            {"project_id": 2, "file_name": "secret.txt", "file_path": "../secret.txt"},
        ],
    }


def seed_004_rows() -> dict[str, list[dict]]:
    sources = [{"id": DOC_UUID, "filename": "handbook.pdf", "relevance_score": 0.9}]
    return {
        "users": [
            {
                "id": 1,
                "username": "rita",
                "email": "rita@old.example",
                "full_name": "Rita Old",
                "hashed_password": auth.hash_password("rita-legacy-pw"),
                "created_at": "2024-01-02T08:00:00",
                "explainability_level": "debug",
            },
            {
                "id": 2,
                "username": "sam",
                "email": "sam@old.example",
                "is_active": 1,
                "hashed_password": auth.hash_password("sam-legacy-pw"),
            },
            {
                "id": 3,
                "username": "tess",
                "email": "tess@old.example",
                "is_active": 0,
                "hashed_password": auth.hash_password("tess-legacy-pw"),
            },
        ],
        "roles": [
            {"id": 1, "name": "admin"},
            {"id": 2, "name": "analyst"},
            {"id": 3, "name": "viewer"},
            {"id": 4, "name": "editor"},
        ],
        "permissions": [{"id": 1, "name": "documents:read"}, {"id": 2, "name": "admin:full"}],
        "user_roles": [
            {"user_id": 1, "role_id": 1},
            {"user_id": 2, "role_id": 2},
            {"user_id": 2, "role_id": 4},
            {"user_id": 3, "role_id": 4},
        ],
        "role_permissions": [
            {"role_id": 1, "permission_id": 2},
            {"role_id": 2, "permission_id": 1},
            {"role_id": 3, "permission_id": 1},
        ],
        "documents": [
            {
                "id": 1,
                "uuid": DOC_UUID,
                "filename": "handbook.pdf",
                "file_path": "/srv/old-app/uploads/handbook.pdf",
                "title": "Employee handbook",
                "scope": "global",
                "tags": '["hr"]',
                "auto_keywords": '["leave", "holidays"]',
                "processing_status": "completed",
                "uploaded_by_id": 1,
                "uploaded_at": "2024-02-01 12:00:00",
            },
            {
                "id": 2,
                "uuid": "not-a-uuid",
                "filename": "empty.pdf",
                "file_path": "uploads/x.pdf",
                "processing_status": "failed",
                "uploaded_by_id": 2,
            },
        ],
        "document_chunks": [
            {"id": 1, "document_id": 1, "chunk_index": 1, "content": "Leave is 25 days a year."},
            {
                "id": 2,
                "document_id": 1,
                "chunk_index": 0,
                "content": "Employee handbook. Holidays and leave are set out below.",
            },
        ],
        "conversations": [
            {
                "id": 1,
                "uuid": CONVERSATION_UUID,
                "title": "Leave question",
                "user_id": 2,
                "llm_provider": "custom",
                "llm_model": "deepseek-chat",
                "selected_document_ids": json.dumps([DOC_UUID]),
                "created_at": "2024-02-03 10:00:00",
            },
        ],
        "messages": [
            {
                "id": 1,
                "uuid": "6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
                "conversation_id": 1,
                "role": "user",
                "content": "How many days of leave?",
                "created_at": "2024-02-03 10:00:00",
            },
            {
                "id": 2,
                "uuid": "7a2e3d4c-5b6f-4a71-9b8c-0d1e2f3a4b5c",
                "conversation_id": 1,
                "role": "assistant",
                "content": "25 days a year.",
                "confidence_score": 0.82,
                "low_confidence_warning": 0,
                "sources": json.dumps(sources),
                "reasoning_chain": json.dumps([{"step": 1, "agent": "ResearchAgent"}]),
                "created_at": "2024-02-03 10:00:05",
            },
        ],
        "agent_logs": [
            {
                "id": 1,
                "uuid": "8b3f4e5d-6c7a-4b82-8c9d-1e2f3a4b5c6d",
                "message_id": 2,
                "agent_name": "ResearchAgent",
                "agent_type": "research",
                "action": "retrieve",
                "input_data": '{"query": "leave"}',
                "execution_time": 1.2,
                "tokens_used": 150,
                "status": "success",
                "confidence": 0.9,
                "created_at": "2024-02-03 10:00:04",
            },
        ],
        "token_usage": [
            {
                "id": 1,
                "uuid": "9c4a5f6e-7d8b-4c93-9daf-2f3a4b5c6d7e",
                "user_id": 2,
                "conversation_id": 1,
                "message_id": 2,
                "agent_log_id": 1,
                "provider": "custom",
                "model": "deepseek-chat",
                "operation_type": "chat",
                "prompt_tokens": 120,
                "completion_tokens": 30,
                "total_tokens": 150,
                "estimated_cost": 0.0000252,
                "created_at": "2024-02-03 10:00:05",
            },
            {
                "id": 2,
                "uuid": "ad5b6a7f-8e9c-4da4-8eb0-3a4b5c6d7e8f",
                "user_id": 1,
                "provider": "ollama",
                "model": "nomic-embed-text",
                "operation_type": "embedding",
                "embedding_tokens": 40,
                "total_tokens": 40,
                "created_at": "2024-02-01 12:00:01",
            },
        ],
    }


@pytest.fixture
def settings(demo_copy):
    return demo_copy


@pytest.fixture
def wb(settings):
    return home.Workbench(settings)


@pytest.fixture
def store(wb):
    return wb.store


@pytest.fixture
def seed_000(tmp_path):
    """Seed 000's database beside its uploads folder, and a file outside that folder."""
    folder = tmp_path / "legacy000"
    (folder / "uploads").mkdir(parents=True)
    (folder / "uploads" / "faq.md").write_text("# Helpline FAQ\n\nReset the line when the router drops.\n")
    (folder / "exports").mkdir()
    (folder / "exports" / "qa.csv").write_text(QA_CSV)
    (tmp_path / "secret.txt").write_text("not for the workbench")
    return build(folder / "app.sqlite", SEED_000, seed_000_rows())


@pytest.fixture
def seed_004(tmp_path):
    return build(tmp_path / "legacy004" / "rag.db", SEED_004, seed_004_rows())


def import_as(wb, username, path):
    return legacy.import_legacy(ctx_of(wb.store, username), wb, path)


def table_counts(store) -> dict[str, int]:
    with store.connect() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in IMPORTED_TABLES}


def counts_of(result) -> dict[str, tuple[int, int, int]]:
    return {t: (n["read"], n["created"], n["skipped"]) for t, n in result["tables"].items()}


def test_seed_000_lands_in_the_admins_organisation(wb, store, settings, seed_000):
    result = import_as(wb, "alice", seed_000)
    assert result["schema"] == "seed 000" and result["organization"] == "Northwind Mobile"
    assert counts_of(result) == {
        "users": (2, 2, 0),
        "projects": (2, 2, 0),
        "calls": (2, 2, 0),
        "utterances": (6, 6, 0),
        "qa_pairs": (3, 2, 1),
        "datasets": (1, 1, 0),
        "documents": (3, 1, 2),
    }
    notes = " ".join(result["notes"])
    assert "became analysts" in notes and "pete@legacy.invalid" not in notes
    assert "gone.pdf (uploads/gone.pdf not found)" in notes
    assert "secret.txt (../secret.txt is outside the legacy database's folder)" in notes
    with store.connect() as con:
        owners = con.execute(
            "SELECT u.username, p.name FROM projects p JOIN users u"
            " ON u.id = p.owner_id WHERE p.name = 'Helpline' ORDER BY 1"
        ).fetchall()
        assert owners == [("olga", "Helpline"), ("pete", "Helpline")]
        roles = con.execute(
            "SELECT u.role, u.utterance_index FROM utterances u JOIN calls c"
            " ON c.id = u.call_id WHERE c.external_id = 'CALL-2'"
            " ORDER BY u.utterance_index"
        ).fetchall()
        assert roles == [("agent", 0), ("customer", 1)]
        call = con.execute(
            "SELECT started_at, turns, resolved, sentiment FROM calls WHERE external_id = 'CALL-1'"
        ).fetchone()
        assert call[0].isoformat() == "2024-03-01T10:00:00" and call[1] == 4 and call[2] is True
        assert con.execute("SELECT email FROM users WHERE username = 'pete'").fetchone()[0] == (
            "pete@legacy.invalid"
        )
        qa = con.execute(
            "SELECT q.question, c.external_id FROM qa_pairs q LEFT JOIN calls c"
            " ON c.id = q.call_id JOIN projects p ON p.id = q.project_id"
            " JOIN users u ON u.id = p.owner_id WHERE u.username = 'olga'"
        ).fetchall()
        assert qa == [("Why does my router drop?", "CALL-1")]
        doc = con.execute(
            "SELECT filename, file_path, processing_status, scope FROM documents WHERE filename = 'faq.md'"
        ).fetchone()
    assert doc[2:] == ("pending", "project") and (settings.home / doc[1]).read_text().startswith("# Helpline")


def test_legacy_passwords_log_in_and_pbkdf2_is_rehashed(wb, store, seed_000, seed_004):
    import_as(wb, "alice", seed_000)
    import_as(wb, "alice", seed_004)
    with store.connect() as con:
        before = con.execute("SELECT password_hash FROM users WHERE username = 'olga'").fetchone()[0]
        assert before.startswith("$pbkdf2-sha256$29000$")  # kept as it was
        olga = auth.login(con, "olga", "olga-legacy-pw")
        after = con.execute("SELECT password_hash FROM users WHERE username = 'olga'").fetchone()[0]
        pete = auth.login(con, "pete", "pete-legacy-pw")
        rita = auth.login(con, "rita", "rita-legacy-pw")
        with pytest.raises(auth.AuthFailed):
            auth.login(con, "sam", "olga-legacy-pw")
        with pytest.raises(auth.AuthFailed, match="disabled"):
            auth.login(con, "tess", "tess-legacy-pw")
    assert after.startswith("$argon2id$") and auth.verify_password("olga-legacy-pw", after)
    assert olga.org_name == pete.org_name == rita.org_name == "Northwind Mobile"
    assert olga.roles == {"analyst"} and rita.roles == {"admin"}


def test_seed_004_maps_roles_chat_history_and_metering(wb, store, settings, seed_004):
    result = import_as(wb, "alice", seed_004)
    assert result["schema"] == "seed 004"
    assert counts_of(result) == {
        "roles": (4, 0, 4),
        "permissions": (2, 0, 2),
        "role_permissions": (3, 0, 3),
        "users": (3, 3, 0),
        "user_roles": (4, 4, 0),
        "documents": (2, 1, 1),
        "document_chunks": (2, 0, 2),
        "conversations": (1, 1, 0),
        "messages": (2, 2, 0),
        "agent_logs": (1, 1, 0),
        "token_usage": (2, 2, 0),
    }
    assert any("became viewer: editor" in note for note in result["notes"])
    alice = ctx_of(store, "alice")
    with store.connect() as con:
        roles = {u["username"]: u["roles"] for u in users.list_users(alice, con)}
        assert (roles["rita"], roles["sam"], roles["tess"]) == (["admin"], ["analyst", "viewer"], ["viewer"])
        doc = con.execute(
            "SELECT uuid::VARCHAR, filename, title, scope, processing_status,"
            " auto_keywords, file_path FROM documents WHERE title = 'Employee handbook'"
        ).fetchone()
        assert doc[:5] == (DOC_UUID, "handbook.txt", "Employee handbook", "global", "pending")
        assert json.loads(doc[5]) == ["leave", "holidays"]
        # the file gone, the legacy chunks' text in order is what the pipeline will index
        assert (settings.home / doc[6]).read_text().startswith("Employee handbook. Holidays")
        chat = con.execute(
            "SELECT c.uuid::VARCHAR, u.username, c.selected_document_ids,"
            " count(m.id) FROM conversations c JOIN users u ON u.id = c.user_id"
            " JOIN messages m ON m.conversation_id = c.id GROUP BY ALL"
            " HAVING c.uuid::VARCHAR = ?",
            [CONVERSATION_UUID],
        ).fetchone()
        assert chat[:2] == (CONVERSATION_UUID, "sam") and json.loads(chat[2]) == [DOC_UUID] and chat[3] == 2
        metered = con.execute(
            "SELECT l.provider, l.operation_type, l.total_tokens, l.cost_usd, u.username,"
            " m.role, a.agent_name FROM llm_calls l JOIN users u ON u.id = l.user_id"
            " LEFT JOIN messages m ON m.id = l.message_id LEFT JOIN agent_logs a"
            " ON a.id = l.agent_log_id WHERE l.org_id = ? AND u.username IN ('rita', 'sam')"
            " ORDER BY l.created_at",
            [alice.org_id],
        ).fetchall()
    assert metered == [
        ("ollama", "embedding", 40, 0.0, "rita", None, None),
        ("custom", "chat", 150, pytest.approx(0.0000252), "sam", "assistant", "ResearchAgent"),
    ]


def test_an_imported_document_is_indexed_by_the_ingest_pipeline(wb, store, settings, seed_004):
    import_as(wb, "alice", seed_004)
    outcome = ingest.process(settings, store, wb.vectors, wb.embedder, DOC_UUID)
    assert outcome.status == "completed" and outcome.num_chunks >= 1
    with store.connect() as con:
        detail = documents.get_document(ctx_of(store, "alice"), con, DOC_UUID)
    assert "25 days" in " ".join(c["content"] for c in detail["chunks"])


@pytest.mark.parametrize("seed", ["seed_000", "seed_004"])
def test_running_twice_changes_nothing(wb, store, seed, request):
    path = request.getfixturevalue(seed)
    first = import_as(wb, "alice", path)
    after_first = table_counts(store)
    second = import_as(wb, "alice", path)
    assert table_counts(store) == after_first
    assert {t: n["read"] for t, n in second["tables"].items()} == {
        t: n["read"] for t, n in first["tables"].items()
    }
    assert all(n["created"] == 0 and n["skipped"] == n["read"] for n in second["tables"].values())


def test_a_renamed_project_is_not_imported_again(wb, store, seed_000):
    import_as(wb, "alice", seed_000)
    with store.connect() as con:
        con.execute(
            "UPDATE projects SET name = 'Helpline 2023' WHERE name = 'Helpline'"
            " AND owner_id = (SELECT id FROM users WHERE username = 'olga')"
        )
    again = import_as(wb, "alice", seed_000)
    assert again["tables"]["projects"]["created"] == again["tables"]["calls"]["created"] == 0


def test_imported_rows_stay_in_the_admins_organisation(wb, store, seed_000, seed_004):
    import_as(wb, "alice", seed_000)
    import_as(wb, "alice", seed_004)
    alice, hannah = ctx_of(store, "alice"), ctx_of(store, "hannah")
    with store.connect() as con:
        orgs = con.execute(
            "SELECT DISTINCT org_id FROM users WHERE username IN ('olga', 'pete', 'rita', 'sam', 'tess')"
            " UNION SELECT DISTINCT p.org_id FROM calls c JOIN projects p ON p.id = c.project_id"
            " WHERE c.external_id LIKE 'CALL-%'"
            " UNION SELECT DISTINCT org_id FROM documents WHERE filename IN ('faq.md', 'handbook.txt')"
            " UNION SELECT DISTINCT org_id FROM conversations WHERE uuid::VARCHAR = ?"
            " UNION SELECT DISTINCT org_id FROM llm_calls WHERE model = 'nomic-embed-text'"
            " UNION SELECT DISTINCT org_id FROM legacy_ids",
            [CONVERSATION_UUID],
        ).fetchall()
        assert orgs == [(alice.org_id,)]
        seen_by_hannah = {u["username"] for u in users.list_users(hannah, con)}
        titles = {d["title"] for d in documents.list_documents(hannah, con)}
    assert not seen_by_hannah & {"olga", "pete", "rita", "sam", "tess"}
    assert "Employee handbook" not in titles


def written_files(settings) -> set:
    """The files an import may write: documents' uploads and datasets' copies."""
    return {p for p in [*settings.uploads_dir.rglob("*"), *settings.exports_dir.rglob("*")] if p.is_file()}


def test_a_username_of_another_organisation_writes_nothing(wb, store, settings, seed_000):
    path = build(seed_000.parent / "amir.sqlite", SEED_000, seed_000_rows(username="amir"))  # helio's
    before, files = table_counts(store), written_files(settings)
    with pytest.raises(InvalidInput, match="amir have the usernames of users of another organisation"):
        import_as(wb, "alice", path)
    assert table_counts(store) == before and written_files(settings) == files


def test_a_different_database_of_the_same_schema_is_refused(wb, seed_000, tmp_path):
    import_as(wb, "alice", seed_000)
    other = seed_000_rows(username="zed")  # its user 1 is someone else
    path = build(tmp_path / "other.sqlite", SEED_000, other)
    with pytest.raises(InvalidInput, match="user 1 was 'olga', here it is 'zed'"):
        import_as(wb, "alice", path)


def sqlite_with(path, script: str):
    con = sqlite3.connect(path)
    con.executescript(script)
    con.close()
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda p: sqlite_with(p, "CREATE TABLE customers (id INTEGER, name TEXT);"),
            "neither legacy schema the importer knows: seed 000 (users, projects",
        ),
        (
            lambda p: sqlite_with(p, SEED_000.replace("    transcript TEXT,\n", "")),
            "qa_pairs, datasets) lacks calls.transcript; seed 004 (users, roles",
        ),
        (lambda p: p.write_bytes(b""), "has no tables"),
        (lambda p: p.write_text("call_id,transcript\nA-1,hello\n"), "is not a readable SQLite database"),
    ],
    ids=["other tables", "a column missing", "empty file", "not sqlite"],
)
def test_a_file_in_neither_schema_says_what_is_missing_and_writes_nothing(wb, store, tmp_path, make, message):
    path = tmp_path / "legacy.sqlite"
    make(path)
    before = table_counts(store)
    with pytest.raises(InvalidInput, match="Nothing was imported") as refused:
        import_as(wb, "alice", path)
    assert message in str(refused.value)
    assert table_counts(store) == before


def test_broken_rows_are_reported_by_table_and_row_and_nothing_is_written(wb, store, tmp_path):
    rows = seed_000_rows()
    rows["calls"].append({"call_id": "CALL-9", "project_id": 99})
    rows["qa_pairs"][0]["created_at"] = "last tuesday"
    path = build(tmp_path / "broken.sqlite", SEED_000, rows)
    before = table_counts(store)
    with pytest.raises(legacy.LegacyImportError, match="nothing imported") as refused:
        import_as(wb, "alice", path)
    assert refused.value.problems == [
        "qa_pairs 1: created_at 'last tuesday' is not a date and time",
        "calls 'CALL-9': project_id 99 is not in projects",
    ]
    assert table_counts(store) == before


@pytest.mark.parametrize("username", ["anna", "mike", "vera"])
def test_only_an_admin_may_import(wb, seed_000, username):
    with pytest.raises(NotAllowed, match="admin:full"):
        import_as(wb, username, seed_000)


def test_cli_prints_counts_and_refuses_bad_files_with_exit_1(cli_env, seed_004, tmp_path):
    result = run(cli_env, "import-legacy", str(seed_004), "--as", "alice", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tables"]["token_usage"] == {"read": 2, "created": 2, "skipped": 0}
    again = run(cli_env, "import-legacy", str(seed_004), "--as", "alice")
    assert again.returncode == 0, again.stderr
    assert "token_usage" in again.stdout and "      2        0        2" in again.stdout
    other = sqlite_with(tmp_path / "other.sqlite", "CREATE TABLE customers (id INTEGER);")
    refused = run(cli_env, "import-legacy", str(other), "--as", "alice")
    assert refused.returncode == 1 and "neither legacy schema" in refused.stderr
    not_admin = run(cli_env, "import-legacy", str(seed_004), "--as", "anna")
    assert not_admin.returncode == 1 and "admin:full" in not_admin.stderr


def test_a_failure_after_the_files_were_written_leaves_nothing_behind(
    wb, store, settings, seed_000, monkeypatch
):
    def crash(con, call_ids):
        raise RuntimeError("disk full")

    monkeypatch.setattr(legacy.legacy_seed000.call_metrics, "refresh", crash)  # the last step
    before, files = table_counts(store), written_files(settings)
    with pytest.raises(RuntimeError, match="disk full"):
        import_as(wb, "alice", seed_000)
    assert table_counts(store) == before and written_files(settings) == files


def test_a_dataset_file_is_copied_into_the_data_home_and_no_file_outside_the_folder_is_read(
    wb, store, settings, seed_000, tmp_path
):
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    hannah = ctx_of(store, "hannah")
    with store.connect() as con:  # another organisation's private upload, inside the data home
        (theirs,) = con.execute(
            "SELECT file_path FROM documents WHERE org_id = ? ORDER BY id LIMIT 1", [hannah.org_id]
        ).fetchone()
    rows = seed_000_rows()
    rows["datasets"] += [
        {"project_id": 1, "dataset_name": "passwords", "file_path": str(tmp_path / "passwd")},
        {"project_id": 1, "dataset_name": "up-and-out", "file_path": "../passwd"},
        {"project_id": 2, "dataset_name": "helio-upload", "file_path": str(settings.home / theirs)},
        {"project_id": 2, "dataset_name": "lost", "file_path": "exports/lost.csv"},
    ]
    path = build(seed_000.parent / "with-datasets.sqlite", SEED_000, rows)
    result = import_as(wb, "alice", path)
    assert result["tables"]["datasets"] == {"read": 5, "created": 1, "skipped": 4}
    assert (
        "Datasets without a usable file were skipped: "
        f"passwords ({tmp_path / 'passwd'} is outside the legacy database's folder), "
        "up-and-out (../passwd is outside the legacy database's folder), "
        f"helio-upload ({settings.home / theirs} is outside the legacy database's folder), "
        "lost (exports/lost.csv not found)"
    ) in " ".join(result["notes"])
    (seed_000.parent / "exports" / "qa.csv").unlink()  # the workbench keeps its own copy
    alice = ctx_of(store, "alice")
    with store.connect() as con:
        listed = {d["name"]: d for d in datasets.list_datasets(alice, con)}
        filename, data = datasets.read_dataset(alice, con, listed["helpline-qa"]["uuid"])
    assert not {"passwords", "up-and-out", "helio-upload", "lost"} & set(listed)
    assert data.decode() == QA_CSV and filename.endswith(".csv")
    assert listed["helpline-qa"]["file_format"] == "csv"
    copy = Path(listed["helpline-qa"]["file_path"])
    assert copy.is_relative_to(settings.exports_dir / f"org-{alice.org_id}")
