"""The HTTP API's calls, QA pairs, model registry and SQL endpoints against a real server on loopback
(the `api` fixture of test_api: its own server for this module): what each role may do, bad input
that changes nothing, and another organisation's admin walking every endpoint with Northwind's ids
and finding nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from tests import test_api
from tests.conftest import DEMO_TODAY, ctx_of
from workbench import home
from workbench.accounts import api_keys
from workbench.calls import datasets
from workbench.models.churn import service as churn_service
from workbench.models.forecast import service as forecast_service

CARE, RETENTION = "Customer care line", "Retention desk"  # Northwind's projects
HELIO_PROJECT = "Support desk"
GOOD_CALLS = b'call_id,transcript\nAPI-1,"Agent: Hello, how can I help?\nCustomer: My lantern app crashes."\n'
BAD_CALLS = b"call_id,role,content,index\n,agent,Hi,0\nX,pilot,Hello,1\n"  # no call id; an unknown role
FORECAST = "forecast-calls"
api = test_api.api  # the server fixture: a fresh server for this module


def count(api, sql: str, params: list | None = None):
    with api.store.connect() as con:
        return con.execute(sql, params or []).fetchone()[0]


@pytest.fixture(scope="module")
def northwind(api):
    """Northwind's ids and texts, an exported QA dataset, a data scientist's key (alice's, limited to
    that role), a churn model on the workbench's users and two forecast versions, all in staging."""
    alice, dan = ctx_of(api.store, "alice"), ctx_of(api.store, "dan")
    with api.store.connect() as con:
        api.keys["alice-ds"] = api_keys.create_api_key(alice, con, "alice-ds", "data_scientist")["key"]
        calls = con.execute("SELECT c.uuid::VARCHAR, c.external_id FROM calls c JOIN projects p ON"
                            " p.id = c.project_id WHERE p.org_id = ?", [alice.org_id]).fetchall()
        pairs = con.execute(  # questions Helio Cloud does not also ask
            "SELECT q.uuid::VARCHAR, q.question FROM qa_pairs q JOIN projects p ON p.id = q.project_id"
            " WHERE p.org_id = ? AND q.question NOT IN (SELECT question FROM qa_pairs h JOIN projects o"
            " ON o.id = h.project_id WHERE o.org_id <> ?)", [alice.org_id, alice.org_id]).fetchall()
        documents = con.execute("SELECT uuid::VARCHAR, title FROM documents WHERE org_id = ?",
                                [alice.org_id]).fetchall()
        dataset = datasets.export_qa(alice, con, api.settings, RETENTION, "csv", "Retention FAQ")
    wb = home.Workbench(api.settings)
    churn = churn_service.train(dan, wb, cutoff=DEMO_TODAY - timedelta(days=45),
                                algorithms=("logistic_regression",))
    end = DEMO_TODAY.date()
    first = forecast_service.train(dan, wb, metric="calls", method="seasonal_naive", horizon=7, end=end)
    second = forecast_service.train(dan, wb, metric="calls", method="seasonal_naive", horizon=7, end=end)
    assert first["name"] == second["name"] == FORECAST
    return {"calls": dict(calls), "pairs": dict(pairs), "documents": dict(documents),
            "dataset": dataset["uuid"], "runs": [churn["run_id"], first["run_id"], second["run_id"]]}


# --- calls ------------------------------------------------------------------------------------
def test_a_calls_file_imports_whole_or_not_at_all_and_again_updates(api):
    before = count(api, "SELECT count(*) FROM calls")
    bad = api.call("POST", "/v1/calls", key="alice-analyst", files={"file": ("bad.csv", BAD_CALLS)},
                   data={"project": CARE})
    assert bad.status_code == 422 and [p["row"] for p in bad.json()["error"]["problems"]] == [1, 2]
    assert bad.json()["error"]["message"].startswith("bad.csv: nothing imported")
    no_project = api.call("POST", "/v1/calls", key="alice-analyst", files={"file": ("c.csv", GOOD_CALLS)})
    assert no_project.status_code == 422 and "project" in no_project.json()["error"]["message"]
    refused = api.call("POST", "/v1/calls", key="alice-viewer", files={"file": ("c.csv", GOOD_CALLS)},
                       data={"project": CARE})
    assert refused.status_code == 403 and "calls:import" in refused.json()["error"]["message"]
    assert count(api, "SELECT count(*) FROM calls") == before

    done = api.call("POST", "/v1/calls", key="alice-analyst", files={"file": ("c.csv", GOOD_CALLS)},
                    data={"project": CARE})
    assert done.status_code == 200, done.text
    counts = done.json()
    assert (counts["created"], counts["utterances"], counts["embedded_utterances"]) == (1, 2, 2)
    again = api.call("POST", "/v1/calls", key="alice-analyst", files={"file": ("c.csv", GOOD_CALLS)},
                     data={"project": CARE})
    assert (again.json()["created"], again.json()["updated"]) == (0, 1)
    assert count(api, "SELECT count(*) FROM calls") == before + 1
    found = api.call("GET", "/v1/calls", key="alice-viewer", params={"text": "lantern"}).json()
    assert [c["external_id"] for c in found["calls"]] == ["API-1"] and found["calls"][0]["searchable"]


def test_calls_are_listed_read_and_searched_by_those_who_may(api, northwind):
    listed = api.call("GET", "/v1/calls", key="alice-viewer", params={"project": RETENTION, "limit": 5})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert len(body["calls"]) == 5 and body["total"] == 80
    assert {c["project"] for c in body["calls"]} == {RETENTION}
    first = body["calls"][0]
    call = api.call("GET", f"/v1/calls/{first['uuid']}", key="alice-viewer").json()
    assert call["external_id"] == first["external_id"] and isinstance(call["metadata"], dict)
    indexes = [u["utterance_index"] for u in call["utterances"]]
    assert indexes == sorted(indexes) and len(indexes) == call["turns"] > 1
    hits = api.call("POST", "/v1/calls/search", key="alice-viewer",
                    json={"query": "refund", "k": 5}).json()["hits"]
    assert hits and all("refund" in h["content"].lower() for h in hits)
    assert {h["call_uuid"] for h in hits} <= set(northwind["calls"])
    meaning = api.call("POST", "/v1/calls/search", key="alice-viewer",
                       json={"query": "I want my money back", "mode": "semantic", "project": CARE, "k": 3})
    assert meaning.status_code == 200 and len(meaning.json()["hits"]) == 3
    assert {h["project"] for h in meaning.json()["hits"]} == {CARE}
    for method, path, extra in (("GET", "/v1/calls", {}), ("GET", f"/v1/calls/{first['uuid']}", {}),
                                ("POST", "/v1/calls/search", {"json": {"query": "refund"}})):
        refused = api.call(method, path, key="alice-reporter", **extra)  # a reporter only reports calls
        assert refused.status_code == 403 and "calls:read" in refused.json()["error"]["message"]


def test_bad_call_queries_are_refused_with_a_reason(api):
    cases = [
        (api.call("GET", "/v1/calls", params={"sentiment": "angry"}), 422),
        (api.call("GET", "/v1/calls", params={"limit": 0}), 422),
        (api.call("GET", "/v1/calls", params={"since": "2026-11-20", "until": "2026-11-01"}), 400),
        (api.call("GET", "/v1/calls/not-a-uuid"), 422),
        (api.call("GET", "/v1/calls/00000000-0000-0000-0000-000000000000"), 404),
        (api.call("POST", "/v1/calls/search", json={"query": "refund", "mode": "fuzzy"}), 422),
        (api.call("POST", "/v1/calls/search", json={"query": "refund", "k": 0}), 422),
        (api.call("POST", "/v1/calls/search", json={"query": "is it the my"}), 400),
    ]
    assert [r.status_code for r, _ in cases] == [code for _, code in cases]
    assert all(r.json()["error"]["message"] for r, _ in cases)


# --- QA pairs and their export ----------------------------------------------------------------
def test_qa_pairs_are_written_edited_and_deleted_by_those_who_may(api):
    pairs = "SELECT count(*) FROM qa_pairs"
    before = count(api, pairs)
    new = {"project": CARE, "question": "Are lanterns lit on the pier?", "answer": "Yes, at dusk."}
    assert api.call("POST", "/v1/qa", key="alice-viewer", json=new).status_code == 403
    assert api.call("POST", "/v1/qa", key="alice-analyst", json={**new, "answer": " "}).status_code == 400
    assert count(api, pairs) == before
    made = api.call("POST", "/v1/qa", key="alice-analyst", json=new)
    assert made.status_code == 200, made.text
    uuid = made.json()["uuid"]
    listed = api.call("GET", "/v1/qa", key="alice-viewer",
                      params={"project": CARE, "text": "lanterns"}).json()
    assert [(p["uuid"], p["source"]) for p in listed["pairs"]] == [(uuid, "manual")]
    assert api.call("GET", "/v1/qa", key="alice-reporter").status_code == 403
    assert api.call("GET", "/v1/qa", params={"limit": 0}).status_code == 422

    edit = {"question": "When are lanterns lit?", "answer": "At dusk, every day."}
    assert api.call("PUT", f"/v1/qa/{uuid}", key="alice-viewer", json=edit).status_code == 403
    blank = api.call("PUT", f"/v1/qa/{uuid}", key="alice-analyst", json={**edit, "question": ""})
    assert blank.status_code == 400 and "question and an answer" in blank.json()["error"]["message"]
    assert count(api, "SELECT question FROM qa_pairs WHERE uuid::VARCHAR = ?", [uuid]) == new["question"]
    edited = api.call("PUT", f"/v1/qa/{uuid}", key="alice-analyst", json=edit)
    assert edited.status_code == 200 and edited.json()["question"] == edit["question"]
    found = api.call("POST", "/v1/search", key="alice-analyst",
                     json={"query": "When are lanterns lit", "k": 3, "mode": "text"}).json()["hits"]
    assert found[0]["document_uuid"] == uuid  # searchable at once, with its new words

    assert api.call("DELETE", f"/v1/qa/{uuid}", key="alice-viewer").status_code == 403
    assert api.call("DELETE", "/v1/qa/not-a-uuid", key="alice-analyst").status_code == 422
    gone = api.call("DELETE", f"/v1/qa/{uuid}", key="alice-analyst")
    assert gone.status_code == 200 and gone.json()["question"] == edit["question"]
    assert api.call("DELETE", f"/v1/qa/{uuid}", key="alice-analyst").status_code == 404
    assert count(api, pairs) == before


def test_qa_pairs_import_extract_and_merge(api):
    pairs = "SELECT count(*) FROM qa_pairs"
    before = count(api, pairs)
    bad = api.call("POST", "/v1/qa/import", key="alice-analyst",
                   files={"file": ("qa.csv", b"question\nWhy?\n")}, data={"project": CARE})
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["row"] == 1
    csv = b"question,answer\nDo lanterns need oil?,No: they are electric.\nWhy?,\n"
    half = api.call("POST", "/v1/qa/import", key="alice-analyst", files={"file": ("qa.csv", csv)},
                    data={"project": CARE})
    assert half.status_code == 422 and [p["row"] for p in half.json()["error"]["problems"]] == [3]
    refused = api.call("POST", "/v1/qa/import", key="alice-viewer", files={"file": ("qa.csv", csv[:-6])},
                       data={"project": CARE})
    assert refused.status_code == 403 and count(api, pairs) == before
    done = api.call("POST", "/v1/qa/import", key="alice-analyst", files={"file": ("qa.csv", csv[:-6])},
                    data={"project": CARE})
    assert done.status_code == 200 and done.json()["created"] == 1, done.text

    for path in ("/v1/qa/extract", "/v1/qa/merge"):
        assert api.call("POST", path, key="alice-viewer", json={"project": RETENTION}).status_code == 403
        assert api.call("POST", path, key="alice-analyst", json={"project": ""}).status_code == 400
        assert api.call("POST", path, key="alice-analyst", json={}).status_code == 422
    assert count(api, pairs) == before + 1
    extracted = api.call("POST", "/v1/qa/extract", key="alice-analyst", json={"project": RETENTION}).json()
    assert extracted["found"] > 0 and extracted["created"] + extracted["merged"] == extracted["found"]
    merged = api.call("POST", "/v1/qa/merge", key="alice-analyst", json={"project": RETENTION})
    assert merged.status_code == 200 and merged.json()["kept"] > 0


def test_qa_pairs_export_as_a_registered_dataset_to_download(api, northwind):  # its data scientist key
    registered = "SELECT count(*) FROM datasets"
    before = count(api, registered)
    assert api.call("POST", "/v1/qa/export", key="alice-analyst",
                    json={"project": CARE, "format": "xml"}).status_code == 422
    no_qa_write = api.call("POST", "/v1/qa/export", key="alice-ds", json={"project": CARE})
    assert no_qa_write.status_code == 403 and "qa:write" in no_qa_write.json()["error"]["message"]
    assert count(api, registered) == before
    made = api.call("POST", "/v1/qa/export", key="alice-analyst",
                    json={"project": CARE, "format": "jsonl", "name": "Care FAQ"})
    assert made.status_code == 200, made.text
    info = made.json()
    assert (info["name"], info["format"]) == ("Care FAQ", "jsonl") and "file_path" not in info
    again = api.call("POST", "/v1/qa/export", key="alice-analyst", json={"project": CARE, "name": "Care FAQ"})
    assert again.status_code == 400 and "already exists" in again.json()["error"]["message"]
    assert count(api, registered) == before + 1
    file = api.call("GET", info["download"], key="alice-ds")
    assert file.status_code == 200 and file.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in file.text.splitlines()]
    assert len(lines) == info["num_rows"] > 0 and set(lines[0]) == {"question", "answer"}
    assert info["filename"] in file.headers["content-disposition"]
    assert api.call("GET", info["download"], key="alice-viewer").status_code == 403  # datasets:read
    assert api.call("GET", "/v1/datasets/not-a-uuid/file").status_code == 422


# --- models -----------------------------------------------------------------------------------
def stages(api, name: str = FORECAST) -> dict[int, str]:
    versions = api.call("GET", f"/v1/models/{name}/versions", key="alice-ds").json()["versions"]
    return {v["version"]: v["stage"] for v in versions}


def test_the_registry_lists_models_and_promotes_through_the_gate(api, northwind):
    listed = api.call("GET", "/v1/registered-models", key="alice-ds")
    assert listed.status_code == 200, listed.text
    assert {(m["name"], m["kind"], m["versions"], m["production"]) for m in listed.json()["models"]} == {
        ("churn", "churn", 1, None), (FORECAST, "forecast", 2, None)}
    one = api.call("GET", f"/v1/models/{FORECAST}/versions", key="alice-ds").json()
    assert [v["version"] for v in one["versions"]] == [2, 1] and one["production"] is None
    assert all(v["stage"] == "staging" and "mase" in v["metrics"] for v in one["versions"])
    assert [h["action"] for h in one["history"]] == ["register", "register"]
    for method, path in (("GET", "/v1/registered-models"), ("GET", f"/v1/models/{FORECAST}/versions"),
                         ("POST", f"/v1/models/{FORECAST}/versions/1/promote"),
                         ("POST", f"/v1/models/{FORECAST}/score")):
        refused = api.call(method, path, key="alice-analyst")  # an analyst does not see models
        assert refused.status_code == 403, (path, refused.text)

    promote = f"/v1/models/{FORECAST}/versions/1/promote"
    bad = [
        api.call("GET", "/v1/models/Not%20A%20Name/versions", key="alice-ds"),
        api.call("GET", "/v1/models/no-such-model/versions", key="alice-ds"),
        api.call("POST", promote, key="alice-ds", json={"metric": "nonsense"}),
        api.call("POST", promote, key="alice-ds", json={"threshold": "high"}),
        api.call("POST", f"/v1/models/{FORECAST}/versions/9/promote", key="alice-ds"),
        api.call("POST", promote, key="alice-admin", json={"force": True}),  # without a reason
    ]
    assert [r.status_code for r in bad] == [400, 404, 400, 422, 404, 400]
    assert "gate metric 'nonsense'" in bad[2].json()["error"]["message"]
    assert stages(api) == {1: "staging", 2: "staging"}

    first = api.call("POST", f"/v1/models/{FORECAST}/versions/1/promote", key="alice-ds")
    assert first.status_code == 200, first.text
    assert first.json()["stage"] == "production" and first.json()["gate"]["metric"] == "mase"
    refused = api.call("POST", f"/v1/models/{FORECAST}/versions/2/promote", key="alice-ds",
                       json={"threshold": 0.001})  # a MASE no forecast of the demo reaches
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["type"] == "GateFailed" and "did not pass the gate on mase" in error["message"]
    assert "Nothing was changed" in error["message"]
    assert stages(api) == {1: "production", 2: "staging"}
    versions = api.call("GET", f"/v1/models/{FORECAST}/versions", key="alice-ds").json()
    assert versions["production"] == 1 and versions["history"][0]["action"] == "promote"


def test_scoring_uses_the_production_version(api, northwind):
    missing = api.call("POST", "/v1/models/churn/score", key="alice-ds", json={"cutoff": "2026-10-06"})
    assert missing.status_code == 400 and "no production version" in missing.json()["error"]["message"]
    assert api.call("POST", "/v1/models/churn/versions/1/promote", key="alice-ds").status_code == 200
    cutoff = (DEMO_TODAY - timedelta(days=45)).date().isoformat()
    churn = api.call("POST", "/v1/models/churn/score", key="alice-ds", json={"cutoff": cutoff})
    assert churn.status_code == 200, churn.text
    result = churn.json()
    assert result["version"] == 1 and result["scored"] > 100 and 0 <= result["at_risk"] <= result["scored"]
    assert result["excluded"]["staff"] > 0 and result["horizon_days"] == 30
    assert count(api, "SELECT count(*) FROM analytics_results WHERE batch_id = ?"
                      " AND result_type = 'churn_pred'", [result["batch_id"]]) == result["scored"]
    if stages(api)[1] != "production":  # this test alone: forecast v1 is promoted by the registry's
        api.call("POST", f"/v1/models/{FORECAST}/versions/1/promote", key="alice-ds")
    forecast = api.call("POST", f"/v1/models/{FORECAST}/score", key="alice-ds",
                        json={"end": DEMO_TODAY.date().isoformat()})
    assert forecast.status_code == 200, forecast.text
    rows = forecast.json()["forecast"]
    assert forecast.json()["rows"] == len(rows) == 7
    assert date.fromisoformat(rows[0]["time"]) == DEMO_TODAY.date() + timedelta(days=1)
    assert all(r["lo80"] <= r["value"] <= r["hi80"] for r in rows)
    results = "SELECT count(*) FROM analytics_results"
    before = count(api, results)
    bad = [api.call("POST", f"/v1/models/{FORECAST}/score", key="alice-ds", json={"cutoff": "2026-10-01"}),
           api.call("POST", "/v1/models/churn/score", key="alice-ds", json={"cutoff": "the first of May"}),
           api.call("POST", "/v1/models/churn/score", key="alice-ds", json={"cutoff": "1990-01-01"})]
    assert [r.status_code for r in bad] == [400, 422, 400]
    assert count(api, results) == before
    assert api.call("POST", "/v1/models/churn/score", key="alice-viewer").status_code == 403


# --- SQL --------------------------------------------------------------------------------------
def test_sql_runs_one_reading_query_by_the_consoles_rules(api):
    northwind_calls = count(api, "SELECT count(*) FROM calls c JOIN projects p ON p.id = c.project_id"
                                 " WHERE p.org_id = (SELECT org_id FROM users WHERE username = 'alice')")
    ran = api.call("POST", "/v1/sql", key="alice-analyst", json={"query": "SELECT count(*) AS n FROM calls"})
    assert ran.status_code == 200, ran.text
    assert ran.json()["rows"] == [{"n": northwind_calls}] and ran.json()["tables"] == ["calls"]
    typed = api.call("POST", "/v1/sql", key="alice-analyst", json={
        "query": "SELECT 1.25::DECIMAL(5,2) AS d, 'nan'::DOUBLE AS x, '\\xff'::BLOB AS b,"
                 " DATE '2026-11-20' AS day, INTERVAL 90 SECOND AS i, [1, 2] AS l"}).json()
    assert typed["rows"] == [{"d": 1.25, "x": None, "b": "/w==", "day": "2026-11-20", "i": 90.0, "l": [1, 2]}]
    few = api.call("POST", "/v1/sql", key="alice-analyst",
                   json={"query": "SELECT external_id FROM calls ORDER BY 1", "limit": 3}).json()
    assert len(few["rows"]) == 3 and few["truncated"] is True
    tables = api.call("GET", "/v1/sql/tables", key="alice-analyst").json()["tables"]
    assert "calls" in tables and "llm_calls" not in tables  # an analyst does not read usage

    before = northwind_calls
    bad = [api.call("POST", "/v1/sql", key="alice-analyst", json=body) for body in (
        {"query": "DELETE FROM calls"},
        {"query": "SELECT 1; DROP TABLE calls"},
        {"query": "SELECT * FROM read_csv('/etc/passwd')"},
        {"query": "SELECT count(*) FROM llm_calls"},  # usage is not an analyst's
        {"query": "SELECT 1", "limit": 0},
        {"limit": 5},
    )]
    assert [r.status_code for r in bad] == [400, 400, 400, 400, 422, 422]
    assert "Only reading queries" in bad[0].json()["error"]["message"]
    assert "usage:read" in bad[3].json()["error"]["message"]
    assert count(api, "SELECT count(*) FROM calls c JOIN projects p ON p.id = c.project_id WHERE p.org_id ="
                      " (SELECT org_id FROM users WHERE username = 'alice')") == before
    for key in ("alice-viewer", "alice-reporter"):
        assert api.call("POST", "/v1/sql", key=key, json={"query": "SELECT 1"}).status_code == 403
        assert api.call("GET", "/v1/sql/tables", key=key).status_code == 403


# --- another organisation ---------------------------------------------------------------------
def test_another_organisation_finds_none_of_northwinds_data_on_any_endpoint(api, northwind):
    call, external_id = next(iter(northwind["calls"].items()))
    pair, question = next(iter(northwind["pairs"].items()))
    document = next(iter(northwind["documents"]))
    dataset = northwind["dataset"]
    pairs_before = count(api, "SELECT count(*) FROM qa_pairs")
    calls_before = count(api, "SELECT count(*) FROM calls")
    datasets_before = count(api, "SELECT count(*) FROM datasets")
    markers = {"Northwind", CARE, RETENTION, "NO1-", "NO2-", dataset, *northwind["calls"],
               *northwind["pairs"].values(), *northwind["documents"], *northwind["documents"].values(),
               *northwind["runs"]}
    upload = {"files": {"file": ("c.csv", GOOD_CALLS)}, "data": {"project": CARE}}
    qa_upload = {"files": {"file": ("qa.csv", b"question,answer\nIs it?,It is.\n")},
                 "data": {"project": CARE}}
    not_found = [
        ("GET", f"/v1/calls/{call}", {}),
        ("GET", "/v1/calls", {"params": {"project": CARE}}),
        ("POST", "/v1/calls", upload),
        ("POST", "/v1/calls/search", {"json": {"query": "refund", "project": RETENTION}}),
        ("GET", "/v1/qa", {"params": {"project": CARE}}),
        ("POST", "/v1/qa", {"json": {"project": CARE, "question": "Is it?", "answer": "It is."}}),
        ("POST", "/v1/qa", {"json": {"project": HELIO_PROJECT, "question": "Is it?", "answer": "It is.",
                                     "call_id": call}}),
        ("PUT", f"/v1/qa/{pair}", {"json": {"question": "Taken?", "answer": "Taken."}}),
        ("DELETE", f"/v1/qa/{pair}", {}),
        ("POST", "/v1/qa/import", qa_upload),
        ("POST", "/v1/qa/extract", {"json": {"project": CARE}}),
        ("POST", "/v1/qa/merge", {"json": {"project": CARE}}),
        ("POST", "/v1/qa/export", {"json": {"project": CARE}}),
        ("GET", f"/v1/datasets/{dataset}/file", {}),
        ("GET", "/v1/models/churn/versions", {}),
        ("GET", f"/v1/models/{FORECAST}/versions", {}),
        ("POST", "/v1/models/churn/versions/1/promote", {}),
        ("POST", f"/v1/models/{FORECAST}/versions/1/promote", {"json": {"force": True, "reason": "mine"}}),
        ("POST", "/v1/models/churn/score", {"json": {"cutoff": "2026-10-06"}}),
        ("POST", f"/v1/models/{FORECAST}/score", {}),
        ("GET", f"/v1/documents/{document}", {}),
        ("DELETE", f"/v1/documents/{document}", {}),
    ]
    listed = [
        ("GET", "/v1/calls", {"params": {"limit": 2000}}, "calls"),
        ("POST", "/v1/calls/search", {"json": {"query": "refund policy", "k": 100}}, "hits"),
        ("POST", "/v1/calls/search", {"json": {"query": "refund", "k": 100, "mode": "semantic"}}, "hits"),
        ("GET", "/v1/qa", {}, "pairs"),
        ("GET", "/v1/registered-models", {}, "models"),
        ("POST", "/v1/sql", {"json": {"query": "SELECT * FROM calls"}}, "rows"),
        ("POST", "/v1/sql", {"json": {"query": "SELECT * FROM projects"}}, "rows"),
        ("GET", "/v1/documents", {}, "documents"),
    ]
    leaks = []
    for method, path, options in not_found:
        response = api.call(method, path, key="hannah-admin", **options)
        assert response.status_code == 404, (method, path, response.text)
        sent = path + json.dumps(options, default=str)
        leaks += [(path, m) for m in markers if m in response.text and m not in sent]
    for method, path, options, field in listed:
        response = api.call(method, path, key="hannah-admin", **options)
        assert response.status_code == 200, (method, path, response.text)
        assert field in response.json()
        leaks += [(path, m) for m in markers if m in response.text]
    assert leaks == []
    helio = api.call("GET", "/v1/calls", key="hannah-admin").json()["calls"]
    assert helio and all(c["external_id"].startswith("HE") for c in helio)  # its own, all there
    assert external_id not in json.dumps(helio) and question not in json.dumps(api.call(
        "GET", "/v1/qa", key="hannah-admin").json())
    # nothing written anywhere, and Northwind's pair and model are as they were
    assert count(api, "SELECT count(*) FROM qa_pairs") == pairs_before
    assert count(api, "SELECT count(*) FROM calls") == calls_before
    assert count(api, "SELECT count(*) FROM datasets") == datasets_before
    assert count(api, "SELECT question FROM qa_pairs WHERE uuid::VARCHAR = ?", [pair]) == question
    assert api.call("GET", f"/v1/documents/{document}", key="alice-admin").status_code == 200
    assert api.call("GET", f"/v1/models/{FORECAST}/versions", key="alice-ds").status_code == 200


def test_the_new_endpoints_are_in_the_docs(api):
    import requests

    schema = requests.get(api.url + "/openapi.json", timeout=10).json()
    assert {"/v1/calls", "/v1/calls/{call_id}", "/v1/calls/search", "/v1/qa", "/v1/qa/{pair_id}",
            "/v1/qa/export", "/v1/datasets/{dataset_id}/file", "/v1/registered-models",
            "/v1/models/{name}/versions", "/v1/models/{name}/versions/{version}/promote",
            "/v1/models/{name}/score", "/v1/sql", "/v1/sql/tables"} <= set(schema["paths"])
    assert {"calls", "models", "sql"} <= {t["name"] for t in schema["tags"]}
