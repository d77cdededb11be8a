"""Cascading deletes: children first, one transaction, nothing left pointing at a missing row."""

import duckdb
import pytest

from workbench.accounts import auth, organisations, users
from workbench.accounts import cascade as relations
from workbench.chat import conversations
from workbench.documents import records as documents
from workbench.errors import NotFound


@pytest.fixture
def filled(store):
    """One organisation with a user who has a project, calls, a conversation with an agent log,
    a document with chunks, and metered LLM calls; plus a colleague who keeps their data."""
    with store.transaction() as con:
        org = organisations.create_organization(con, "Acme")
        pw = auth.hash_password("password1")
        boss = users.insert_user(con, org, "boss", "boss@acme.test", pw, "admin")
        for name in ("ana", "bob"):
            uid = users.insert_user(con, org, name, f"{name}@acme.test", pw, "analyst")
            project = con.execute("INSERT INTO projects (org_id, owner_id, name) VALUES (?, ?, 'P')"
                                  " RETURNING id", [org, uid]).fetchone()[0]
            call = con.execute("INSERT INTO calls (project_id, external_id) VALUES (?, 'C1')"
                               " RETURNING id", [project]).fetchone()[0]
            con.execute("INSERT INTO utterances (call_id, project_id, role, content)"
                        " VALUES (?, ?, 'customer', 'hi')", [call, project])
            con.execute("INSERT INTO qa_pairs (project_id, call_id, question, answer, created_by)"
                        " VALUES (?, ?, 'q?', 'a', ?)", [project, call, boss])
            conv = con.execute("INSERT INTO conversations (org_id, user_id) VALUES (?, ?)"
                               " RETURNING id", [org, uid]).fetchone()[0]
            msg = con.execute("INSERT INTO messages (conversation_id, user_id, role, content)"
                              " VALUES (?, ?, 'user', 'hello') RETURNING id",
                              [conv, uid]).fetchone()[0]
            log = con.execute("INSERT INTO agent_logs (message_id, agent_name) VALUES"
                              " (?, 'ResearchAgent') RETURNING id", [msg]).fetchone()[0]
            doc = con.execute("INSERT INTO documents (org_id, uploaded_by_id, filename, file_path,"
                              " conversation_id) VALUES (?, ?, 'a.txt', '/x', ?) RETURNING id",
                              [org, uid, conv]).fetchone()[0]
            con.execute("INSERT INTO document_chunks (document_id, content) VALUES (?, 'text')",
                        [doc])
            con.execute("INSERT INTO llm_calls (org_id, user_id, conversation_id, message_id,"
                        " agent_log_id, provider, model, operation_type)"
                        " VALUES (?, ?, ?, ?, ?, 'openai', 'gpt-4o-mini', 'chat')",
                        [org, boss, conv, msg, log])
    return store


def count(con, table, where="true", params=()):
    return con.execute(f"SELECT count(*) FROM {table} WHERE {where}", list(params)).fetchone()[0]


def test_delete_user_removes_their_rows_and_keeps_others(filled):
    with filled.transaction() as con:
        boss = auth.context_for(con, "boss")
        deleted = documents.delete_user(boss, con, "ana")
    with filled.connect() as con:
        assert deleted["users"] == 1 and deleted["conversations"] == 1
        assert deleted["messages"] == 1 and deleted["agent_logs"] == 1
        assert deleted["documents"] == 1 and deleted["document_chunks"] == 1
        assert deleted["calls"] == 1 and deleted["utterances"] == 1
        assert count(con, "users", "username = 'ana'") == 0
        assert count(con, "conversations") == 1 and count(con, "documents") == 1
        # metering rows of the boss survive; their links to ana's chat are cleared
        assert count(con, "llm_calls") == 2
        assert count(con, "llm_calls", "conversation_id IS NULL AND message_id IS NULL") == 1
        assert relations.orphans(con) == {}


def test_delete_conversation_takes_messages_logs_and_chat_uploads(filled):
    with filled.connect() as con:
        ana = auth.context_for(con, "ana")
        [mine] = conversations.list_conversations(ana, con)
        deleted = conversations.delete_conversation(ana, con, mine["uuid"])
        assert deleted == {"documents": 1, "document_chunks": 1, "messages": 1, "agent_logs": 1,
                           "conversations": 1} | {k: v for k, v in deleted.items() if v == 0}
        assert relations.orphans(con) == {}
        assert count(con, "messages") == 1


def test_cannot_delete_another_users_conversation(filled):
    with filled.connect() as con:
        bob = auth.context_for(con, "bob")
        [anas] = conversations.list_conversations(auth.context_for(con, "ana"), con)
        with pytest.raises(NotFound):
            conversations.delete_conversation(bob, con, anas["uuid"])
        assert count(con, "conversations") == 2


def test_delete_document_takes_its_chunks(filled):
    with filled.connect() as con:
        ana = auth.context_for(con, "ana")
        [doc] = documents.list_documents(ana, con, include_chat=True)
        documents.delete_document(ana, con, doc["uuid"])
        assert count(con, "documents") == 1 and count(con, "document_chunks") == 1
        assert relations.orphans(con) == {}


def test_a_failing_cascade_changes_nothing(filled, monkeypatch):
    original = relations._delete

    def fail_at_messages(con, table, where, params, counts):
        if table == "messages":
            raise duckdb.InvalidInputException("disk full")
        return original(con, table, where, params, counts)

    monkeypatch.setattr(relations, "_delete", fail_at_messages)
    with filled.connect() as con:
        before = {t: count(con, t) for t in ("users", "agent_logs", "documents", "calls")}
        with pytest.raises(duckdb.InvalidInputException):
            documents.delete_user(auth.context_for(con, "boss"), con, "ana")
        assert {t: count(con, t) for t in before} == before


def test_orphan_check_finds_dangling_links(store):
    with store.connect() as con:
        con.execute("INSERT INTO messages (conversation_id, role, content) VALUES (999, 'user', 'x')")
        assert relations.orphans(con) == {"messages.conversation_id": 1}
