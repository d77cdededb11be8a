"""The HTTP API against a real server on loopback (`workbench api` in its own process): keys and
their roles, the OpenAI-compatible chat with the official `openai` client, OpenTelemetry spans from
the real SDK's OTLP exporter in a separate process, documents and search, errors, two organisations."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import openai
import pytest
import requests

from tests.conftest import copy_home, ctx_of
from workbench import home
from workbench.accounts import api_keys, users
from workbench.errors import NotAllowed
from workbench.settings import Settings

WORKBENCH = str(Path(sys.executable).parent / "workbench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, url: str, settings: Settings, keys: dict[str, str], env: dict[str, str]) -> None:
        self.url, self.settings, self.keys, self.env = url, settings, keys, env
        self.store = home.open_store(settings)

    def call(self, method: str, path: str, key: str | None = "alice-admin", **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if key:
            headers["Authorization"] = f"Bearer {self.keys.get(key, key)}"
        return requests.request(method, self.url + path, headers=headers, timeout=60, **kwargs)

    def client(self, key: str = "alice-admin") -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=self.keys[key], max_retries=0)


@pytest.fixture(scope="module")
def api(tmp_path_factory, demo_home):
    home_dir = tmp_path_factory.mktemp("api") / "home"
    copy_home(demo_home, home_dir)
    settings = Settings(home=home_dir, lock_wait_s=10.0, embedding_backend="hash")
    store = home.open_store(settings)
    made = {}
    with store.connect() as con:
        users.add_user(ctx_of(store, "alice"), con, "ops", "ops@northwind.test", "ops-password", "admin")
        for name, user, role in (
            ("alice-admin", "alice", "admin"),
            ("alice-analyst", "alice", "analyst"),
            ("alice-viewer", "alice", "viewer"),
            ("alice-reporter", "alice", "reporter"),
            ("ops-admin", "ops", "admin"),
            ("hannah-admin", "hannah", "admin"),
        ):
            made[name] = api_keys.create_api_key(ctx_of(store, user), con, name, role)["key"]
    port = free_port()
    env = {
        **os.environ,
        "WORKBENCH_HOME": str(home_dir),
        "WORKBENCH_LOCK_WAIT_S": "10",
        "WORKBENCH_EMBEDDING_BACKEND": "hash",
        "WORKBENCH_UPLOAD_MAX_MB": "1",
        "WORKBENCH_API_PORT": str(port),
    }
    log = (tmp_path_factory.mktemp("api-log") / "api.log").open("w")
    proc = subprocess.Popen([WORKBENCH, "api"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            requests.get(url + "/openapi.json", timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the API did not start: " + Path(log.name).read_text()[-2000:])
    yield Server(url, settings, made, env)
    proc.terminate()
    proc.wait(timeout=20)
    log.close()
    printed = Path(log.name).read_text()
    assert "Traceback" not in printed and "Warning" not in printed, printed[-3000:]


def test_the_openai_client_lists_the_agents_and_gets_an_answer_with_its_sources(api):
    client = api.client()
    assert [m.id for m in client.models.list()] == [
        "workbench-documents",
        "workbench-code",
        "workbench-analytics",
    ]
    reply = client.chat.completions.create(
        model="workbench-documents",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Is a phone that arrives broken replaced for free?"},
        ],
    )
    text = reply.choices[0].message.content
    extension = reply.model_extra["workbench"]
    assert "replaced" in text and reply.choices[0].finish_reason == "stop"
    assert extension["sources"] and 0 <= extension["confidence"] <= 1 and extension["grounding"]["score"] > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens > 0
    with api.store.connect() as con:  # stored and metered as the chat page does
        row = con.execute(
            "SELECT c.org_id, u.username, count(m.id) FROM conversations c JOIN users u"
            " ON u.id = c.user_id JOIN messages m ON m.conversation_id = c.id"
            " WHERE c.uuid::VARCHAR = ? GROUP BY ALL",
            [extension["conversation_id"]],
        ).fetchone()
        metered = con.execute(
            "SELECT count(*) FROM llm_calls c JOIN messages m ON m.id = c.message_id"
            " WHERE m.uuid::VARCHAR = ?",
            [extension["message_id"]],
        ).fetchone()[0]
    assert row[1:] == ("alice", 2) and metered >= 1


def test_a_streamed_answer_arrives_in_pieces_and_ends_with_the_sources(api):
    stream = api.client("alice-analyst").chat.completions.create(
        model="workbench-documents",
        stream=True,
        messages=[{"role": "user", "content": "How long do I have to return a phone?"}],
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    last = chunks[-1]
    assert len(chunks) > 3 and text.strip()
    assert last.choices[0].finish_reason == "stop" and last.model_extra["workbench"]["sources"]
    conversation = last.model_extra["workbench"]["conversation_id"]
    again = api.client("alice-analyst").chat.completions.create(
        model="workbench-documents",
        messages=[{"role": "user", "content": "And opened ones?"}],
        extra_body={"workbench": {"conversation_id": conversation}},
    )
    assert again.model_extra["workbench"]["conversation_id"] == conversation


def test_the_analytics_agent_answers_from_the_data(api):
    reply = api.client().chat.completions.create(
        model="workbench-analytics", messages=[{"role": "user", "content": "How many calls per intent?"}]
    )
    assert reply.model_extra["workbench"]["table"]["rows"]


def test_keys_are_refused_without_the_right_role_or_a_live_creator(api):
    assert api.call("GET", "/v1/models", key=None).status_code == 401
    bad = api.call("GET", "/v1/models", key="wbk_not-a-key")
    assert bad.status_code == 401 and bad.json()["error"]["message"] == api_keys.INVALID_KEY
    assert bad.headers["WWW-Authenticate"] == "Bearer"
    assert api.call("GET", "/v1/models", key="alice-reporter").status_code == 403  # may only report calls
    refused = api.call(
        "POST", "/v1/documents", key="alice-viewer", files={"files": ("a.txt", b"hello there")}
    )
    assert refused.status_code == 403 and "documents:create" in refused.json()["error"]["message"]
    assert api.call("GET", "/v1/usage/report", key="alice-analyst").status_code == 403  # not an analyst's
    # a key never holds more than its creator, now: ops made an admin key, then became an analyst
    assert api.call("GET", "/v1/usage/report", key="ops-admin").status_code == 200
    alice = ctx_of(api.store, "alice")
    with api.store.connect() as con:
        users.set_role(alice, con, "ops", "analyst")
        anna = ctx_of(api.store, "anna")  # an analyst allowed to manage keys makes no manager's key
        keyholder = dataclasses.replace(anna, permissions=anna.permissions | {"keys:manage"})
        with pytest.raises(NotAllowed, match="usage:read"):
            api_keys.create_api_key(keyholder, con, "beyond", "manager")
    assert api.call("GET", "/v1/usage/report", key="ops-admin").status_code == 403
    with api.store.connect() as con:
        users.set_active(alice, con, "ops", False)
    assert api.call("GET", "/v1/models", key="ops-admin").status_code == 401  # at once
    with api.store.connect() as con:
        users.set_active(alice, con, "ops", True)
        users.set_role(alice, con, "ops", "admin")
    assert api.call("GET", "/v1/usage/report", key="ops-admin").status_code == 200


def test_a_revoked_key_is_refused_at_once_and_use_is_recorded(api):
    with api.store.connect() as con:
        created = api_keys.create_api_key(ctx_of(api.store, "alice"), con, "short-lived", "viewer")
    assert api.call("GET", "/v1/models", key=created["key"]).status_code == 200
    with api.store.connect() as con:
        listed = {k["name"]: k for k in api_keys.list_api_keys(ctx_of(api.store, "alice"), con)}
        assert listed["short-lived"]["last_used_at"] is not None
        api_keys.revoke_api_key(ctx_of(api.store, "alice"), con, created["uuid"])
    assert api.call("GET", "/v1/models", key=created["key"]).status_code == 401


def test_documents_upload_list_get_search_and_delete_stay_in_the_organisation(api):
    up = api.call(
        "POST",
        "/v1/documents",
        key="alice-analyst",
        files={"files": ("api-note.md", b"# Lantern policy\n\nLanterns are lit at dusk on the pier.")},
    )
    assert up.status_code == 200, up.text
    outcome = up.json()["documents"][0]
    assert outcome["status"] == "completed", outcome
    uuid = outcome["document_uuid"]
    listed = api.call("GET", "/v1/documents", key="alice-analyst").json()["documents"]
    assert uuid in {d["uuid"] for d in listed}
    assert api.call("GET", f"/v1/documents/{uuid}", key="alice-analyst").json()["chunks"]
    hits = api.call(
        "POST",
        "/v1/search",
        key="alice-analyst",
        json={"query": "When are lanterns lit?", "k": 3, "mode": "text"},
    ).json()["hits"]
    assert hits[0]["document_uuid"] == uuid
    # another organisation's admin: not found, never listed, never found by search
    assert api.call("GET", f"/v1/documents/{uuid}", key="hannah-admin").status_code == 404
    assert api.call("DELETE", f"/v1/documents/{uuid}", key="hannah-admin").status_code == 404
    assert uuid not in {
        d["uuid"] for d in api.call("GET", "/v1/documents", key="hannah-admin").json()["documents"]
    }
    theirs = api.call("POST", "/v1/search", key="hannah-admin", json={"query": "lanterns lit at dusk pier"})
    assert uuid not in {h["document_uuid"] for h in theirs.json()["hits"]}
    assert api.call("DELETE", f"/v1/documents/{uuid}", key="alice-analyst").status_code == 200
    assert api.call("GET", f"/v1/documents/{uuid}", key="alice-analyst").status_code == 404
    with api.store.connect() as con:  # every write is audited as the key's
        writes = con.execute(
            "SELECT actor, target FROM audit_log WHERE action = 'api.write'"
            " AND target LIKE '%/v1/documents%' ORDER BY ts"
        ).fetchall()
    prefix = api.keys["alice-analyst"][:10]
    assert writes == [
        (f"alice (key {prefix})", "POST /v1/documents"),
        (f"alice (key {prefix})", f"DELETE /v1/documents/{uuid}"),
    ]
    too_big = api.call(
        "POST", "/v1/documents", key="alice-analyst", files={"files": ("big.txt", b"word " * 300_000)}
    )
    assert too_big.status_code == 413 and "limit is 1 MB" in too_big.json()["error"]["message"]


def test_otlp_spans_from_the_real_sdk_become_priced_calls_on_the_usage_report(api, tmp_path):
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(f"""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        provider = TracerProvider(resource=Resource.create({{"service.name": "support-bot"}}))
        exporter = OTLPSpanExporter(endpoint="{api.url}/v1/traces",
                                    headers={{"Authorization": "Bearer {api.keys["alice-reporter"]}"}})
        provider.add_span_processor(BatchSpanProcessor(exporter))
        tracer = provider.get_tracer("support-bot")
        for i in range(3):
            with tracer.start_as_current_span("chat gpt-4o-mini") as span:
                span.set_attribute("gen_ai.operation.name", "chat")
                span.set_attribute("gen_ai.provider.name", "openai")
                span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
                span.set_attribute("gen_ai.usage.input_tokens", 1000)
                span.set_attribute("gen_ai.usage.output_tokens", 100)
        with tracer.start_as_current_span("database lookup"):
            pass
        provider.shutdown()
        print("sent")
    """)
    )
    before = api.call("GET", "/v1/usage/report?days=1&by=model").json()
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "sent" in done.stdout, done.stderr
    after = api.call("GET", "/v1/usage/report?days=1&by=model").json()

    def mini(report):
        return next(
            (r for r in report["rows"] if r["model"] == "gpt-4o-mini"),
            {"calls": 0, "total_tokens": 0, "cost_usd": 0},
        )

    assert mini(after)["calls"] - mini(before)["calls"] == 3
    assert mini(after)["total_tokens"] - mini(before)["total_tokens"] == 3300
    assert mini(after)["cost_usd"] > (mini(before)["cost_usd"] or 0)  # priced from the catalogue
    # the other organisation sees none of it
    theirs = api.call("GET", "/v1/usage/report?days=1&by=model", key="hannah-admin").json()
    assert theirs["organization"] == "Helio Cloud" and theirs["totals"] != after["totals"]


def test_json_batches_are_validated_all_or_nothing_and_idempotent(api):
    call = {
        "timestamp": "2026-11-20T10:00:00Z",
        "model": "gpt-4o-mini",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "id": "api-batch-1",
    }
    first = api.call("POST", "/v1/usage/calls", key="alice-reporter", json={"calls": [call]})
    assert first.status_code == 200 and first.json()["rows"] == 1, first.text
    again = api.call("POST", "/v1/usage/calls", key="alice-reporter", json={"calls": [call]})
    assert (again.json()["rows"], again.json()["skipped_existing"]) == (0, 1)
    bad = api.call(
        "POST",
        "/v1/usage/calls",
        key="alice-reporter",
        json={"calls": [{**call, "id": "api-batch-2"}, {**call, "id": "api-batch-3", "prompt_tokens": -4}]},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["problems"][0]["row"] == 2
    with api.store.connect() as con:
        assert (
            con.execute(
                "SELECT count(*) FROM llm_calls WHERE external_id IN ('api-batch-2', 'api-batch-3')"
            ).fetchone()[0]
            == 0
        )
    assert api.call("POST", "/v1/usage/calls", key="alice-viewer", json={"calls": [call]}).status_code == 403


def test_malformed_requests_get_a_json_error_and_never_a_trace(api):
    cases = [
        api.call(
            "POST", "/v1/chat/completions", data=b"{not json", headers={"Content-Type": "application/json"}
        ),
        api.call("POST", "/v1/chat/completions", json={"model": "workbench-documents", "messages": []}),
        api.call(
            "POST",
            "/v1/chat/completions",
            json={"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]},
        ),
        api.call(
            "POST",
            "/v1/traces",
            data=b"\x00\xffnot protobuf",
            headers={"Content-Type": "application/x-protobuf"},
        ),
        api.call("POST", "/v1/traces", data=b"{}", headers={"Content-Type": "text/plain"}),
        api.call("GET", "/v1/nowhere"),
        api.call("GET", "/v1/usage/report?days=0"),
    ]
    assert [r.status_code for r in cases] == [422, 422, 400, 400, 400, 404, 400]
    for response in cases:
        error = response.json()["error"]
        assert error["message"] and "Traceback" not in response.text and 'File "' not in response.text


def test_the_docs_are_served_without_a_network(api):
    docs = requests.get(api.url + "/docs", timeout=10)
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    schema = requests.get(api.url + "/openapi.json", timeout=10).json()
    assert {
        "/v1/chat/completions",
        "/v1/models",
        "/v1/traces",
        "/v1/usage/calls",
        "/v1/documents",
        "/v1/search",
    } <= set(schema["paths"])
    bundle = next(line for line in docs.text.splitlines() if "swagger-ui-bundle.js" in line)
    path = bundle.split('src="')[1].split('"')[0]
    assert requests.get(api.url + path, timeout=10).status_code == 200


def test_projects_are_created_renamed_archived_and_deleted_only_with_a_confirmation(api, tmp_path):
    made = api.call(
        "POST", "/v1/projects", key="alice-analyst", json={"name": "API desk", "description": "x"}
    )
    assert made.status_code == 201 and made.json()["calls"] == 0, made.text
    uuid = made.json()["uuid"]
    assert api.call("POST", "/v1/projects", key="alice-viewer", json={"name": "Nope"}).status_code == 403
    clash = api.call("POST", "/v1/projects", key="alice-analyst", json={"name": "API desk"})
    assert clash.status_code == 409 and "already" in clash.json()["error"]["message"]
    renamed = api.call("PATCH", f"/v1/projects/{uuid}", key="alice-analyst", json={"name": "API line"})
    assert renamed.json()["name"] == "API line"
    assert api.call("PATCH", f"/v1/projects/{uuid}", key="alice-analyst", json={"archived": True}).json()[
        "archived"
    ]
    assert uuid not in {
        p["uuid"]
        for p in api.call("GET", "/v1/projects?include_archived=false", key="alice-analyst").json()[
            "projects"
        ]
    }
    api.call("PATCH", f"/v1/projects/{uuid}", key="alice-analyst", json={"archived": False})
    # another organisation's admin neither sees, changes nor deletes it
    assert uuid not in {
        p["uuid"] for p in api.call("GET", "/v1/projects", key="hannah-admin").json()["projects"]
    }
    for method, body in (("GET", None), ("PATCH", {"name": "Taken"}), ("DELETE", None)):
        assert (
            api.call(
                method, f"/v1/projects/{uuid}?confirm=API line", key="hannah-admin", json=body
            ).status_code
            == 404
        )
    unconfirmed = api.call("DELETE", f"/v1/projects/{uuid}", key="alice-analyst")
    assert unconfirmed.status_code == 400 and "confirm=API line" in unconfirmed.json()["error"]["message"]
    gone = api.call("DELETE", f"/v1/projects/{uuid}?confirm=API line", key="alice-analyst")
    assert gone.status_code == 200 and api.call("GET", f"/v1/projects/{uuid}").status_code == 404


def test_bodies_past_the_limit_are_refused_however_they_are_sent(api):
    protobuf = {"Content-Type": "application/x-protobuf"}
    chunked = api.call("POST", "/v1/traces", key="alice-reporter", headers=protobuf,
                       data=(b"x" * 65536 for _ in range(40)))  # 2.5 MB, no Content-Length
    assert chunked.status_code == 413 and "limit is 1 MB" in chunked.json()["error"]["message"]
    bomb = gzip.compress(b"\0" * 5 * 2**20)  # a few KB that inflate to 5 MB
    inflated = api.call("POST", "/v1/traces", key="alice-reporter", data=bomb,
                        headers={**protobuf, "Content-Encoding": "gzip"})
    assert inflated.status_code == 413 and "uncompressed" in inflated.json()["error"]["message"]
    unsent = api.call("POST", "/v1/usage/calls", key=None, data=(b"[" * 65536 for _ in range(40)),
                      headers={"Content-Type": "application/json"})
    assert unsent.status_code == 413  # refused before the key is even read


def test_a_streamed_question_is_refused_before_it_streams(api):
    theirs = api.client("hannah-admin").chat.completions.create(
        model="workbench-documents", messages=[{"role": "user", "content": "Hello?"}]
    ).model_extra["workbench"]["conversation_id"]
    with pytest.raises(openai.NotFoundError):  # another organisation's conversation: 404, no stream
        api.client().chat.completions.create(
            model="workbench-documents", stream=True, messages=[{"role": "user", "content": "And now?"}],
            extra_body={"workbench": {"conversation_id": theirs}},
        )


def test_repeated_bad_keys_from_one_address_are_slowed_down(api):  # last: it blocks this address a minute
    codes = [api.call("GET", "/v1/models", key=f"wbk_guess{i}").status_code for i in range(12)]
    assert 429 in codes  # within the allowance of failures (earlier tests spent some), then refused
    first = codes.index(429)
    assert set(codes[:first]) <= {401} and set(codes[first:]) == {429}
    blocked = api.call("GET", "/v1/models")  # even a good key, for the rest of the window
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert json.loads(blocked.text)["error"]["type"] == "TooManyFailures"
