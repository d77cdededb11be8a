"""Usage reported live over the API: OpenTelemetry GenAI spans (protobuf and OTLP JSON) and JSON
batches become priced llm_calls rows that the Usage page's rollups show at once; all or nothing,
idempotent, for the reporting organisation only, and only with `usage:ingest`."""

import base64
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from tests.conftest import DEMO_TODAY, ctx_of
from tests.test_usage_import import catalogue_cost, count, imported, local, rollup_differences
from workbench import home
from workbench.errors import ImportReport, InvalidInput, NotAllowed
from workbench.usage import queries, telemetry

START = datetime(2026, 11, 19, 9, 30, tzinfo=UTC)
TRACE = bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
PROTOBUF = "application/x-protobuf"


@pytest.fixture
def store(demo_copy):
    return home.open_store(demo_copy)


def attribute(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def span(number: int, *, ms: int = 850, error: bool = False, **attributes) -> Span:
    """Span `number` of TRACE, started at START + `number` seconds; attributes with dots as __."""
    start = int((START + timedelta(seconds=number)).timestamp()) * 10**9
    return Span(
        trace_id=TRACE,
        span_id=number.to_bytes(8, "big"),
        name="chat gpt-4o-mini",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + ms * 10**6,
        status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_OK),
        attributes=[attribute(k.replace("__", "."), v) for k, v in attributes.items()],
    )


def chat(number: int, **more) -> Span:
    genai = {
        "gen_ai__operation__name": "chat",
        "gen_ai__provider__name": "openai",
        "gen_ai__request__model": "gpt-4o-mini",
        "gen_ai__response__model": "gpt-4o-mini-2024-07-18",
        "gen_ai__usage__input_tokens": 1200,
        "gen_ai__usage__output_tokens": 300,
        "gen_ai__usage__cache_read__input_tokens": 200,
    }
    return span(number, **{**genai, **more})


def export(*spans: Span, **resource) -> bytes:
    resource = {"service.name": "support-bot", **{k.replace("__", "."): v for k, v in resource.items()}}
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[attribute(k, v) for k, v in resource.items()]),
                scope_spans=[ScopeSpans(spans=list(spans))],
            )
        ]
    )
    return request.SerializeToString()


def as_otlp_json(body: bytes) -> bytes:
    """The export in OTLP's JSON: camelCase, enums as numbers, ids in hex (not base64)."""
    data = json_format.MessageToDict(ExportTraceServiceRequest.FromString(body), use_integers_for_enums=True)
    for resource in data["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for item in scope["spans"]:
                for key in ("traceId", "spanId"):
                    item[key] = base64.b64decode(item[key]).hex()
    return json.dumps(data).encode()


def ingest(store, body: bytes, username: str = "alice", content_type: str = PROTOBUF, ctx=None) -> dict:
    with store.connect() as con:
        return telemetry.ingest_otlp(ctx or ctx_of(store, username), con, body, content_type, now=DEMO_TODAY)


def call_id(number: int) -> str:
    return TRACE.hex() + number.to_bytes(8, "big").hex()


def day_totals(store, username: str = "alice") -> dict:
    """The Usage page's KPI cards for START's day (read from the rollups)."""
    day = local(2026, 11, 19, 9, 30).date()
    with store.connect() as con:
        ctx = ctx_of(store, username)
        return queries.totals(ctx, con, queries.Filters(day, day + timedelta(days=1)))["current"]


def test_genai_spans_become_priced_calls_the_usage_page_shows(store):
    before = day_totals(store)
    body = export(
        chat(1),
        chat(
            2,
            gen_ai__operation__name="embeddings",
            gen_ai__response__model="text-embedding-3-small",
            gen_ai__usage__input_tokens=4000,
            gen_ai__usage__output_tokens=0,
            gen_ai__usage__cache_read__input_tokens=0,
            enduser__id="anna",
            ms=120,
            error=True,
        ),
        span(3, http__request__method="POST", url__full="https://api.example/v1/chat"),  # not GenAI
        workbench__project="Customer care line",
    )
    result = ingest(store, body)
    assert (result["spans"], result["rows"], result["skipped_spans"], result["unpriced"]) == (3, 2, 1, 0)
    [first] = imported(store, call_id(1))
    assert (first["provider"], first["model"]) == ("openai", "gpt-4o-mini-2024-07-18")  # response model
    assert first["operation_type"] == "chat"
    assert (first["prompt_tokens"], first["completion_tokens"], first["cached_tokens"]) == (1200, 300, 200)
    assert first["latency_ms"] == 850 and first["created_at"] == local(2026, 11, 19, 9, 30, 1)
    assert first["cost_usd"] is not None and first["cost_usd"] == pytest.approx(catalogue_cost(store, first))
    assert first["user_id"] == ctx_of(store, "alice").user_id  # no user attribute: the one reporting
    assert first["project_id"] is not None  # from the resource's workbench.project
    [second] = imported(store, call_id(2))
    assert (second["operation_type"], second["embedding_tokens"]) == ("embedding", 4000)
    assert second["latency_ms"] == 120
    assert second["user_id"] == ctx_of(store, "anna").user_id and second["cost_usd"] is not None
    after = day_totals(store)
    assert after["calls"] - before["calls"] == 2 and after["errors"] - before["errors"] == 1
    assert after["tokens"] - before["tokens"] == 1500 + 4000
    assert after["cost"] - before["cost"] == pytest.approx(first["cost_usd"] + second["cost_usd"])
    assert rollup_differences(store) == []


def test_the_request_model_is_used_when_no_response_model_is_given(store):
    rows, skipped = telemetry.calls_from_otlp(
        export(
            chat(
                1,
                gen_ai__response__model="",
                gen_ai__provider__name="gcp.gemini",
                gen_ai__request__model="gemini-2.0-flash",
            )
        ),
        PROTOBUF,
    )
    assert skipped == 0 and (rows[0]["model"], rows[0]["provider"]) == ("gemini-2.0-flash", "google")


def test_otlp_json_reads_as_protobuf_does(store):
    body = export(chat(1), chat(2, user__name="dan"), span(3))
    assert telemetry.calls_from_otlp(as_otlp_json(body), "application/json; charset=utf-8") == (
        telemetry.calls_from_otlp(body, PROTOBUF)
    )
    result = ingest(store, as_otlp_json(body), content_type="application/json")
    assert (result["rows"], result["skipped_spans"]) == (2, 1)
    assert imported(store, call_id(2))[0]["user_id"] == ctx_of(store, "dan").user_id
    again = ingest(store, body)  # the same spans as protobuf: the same calls
    assert (again["rows"], again["skipped_existing"]) == (0, 2)


def test_an_otlp_json_export_as_written_by_hand():
    """The spec's own spelling: intValue as a number or a string, kind and status code as numbers."""
    text = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "gen_ai.system", "value": {"stringValue": "anthropic"}}]},
        "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.anthropic"}, "spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": "chat claude-sonnet-4", "kind": 3,
            "startTimeUnixNano": "1795080000000000000", "endTimeUnixNano": "1795080001500000000",
            "status": {"code": 2},
            "attributes": [
                {"key": "gen_ai.request.model", "value": {"stringValue": "claude-sonnet-4"}},
                {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": 900}},
                {"key": "gen_ai.usage.completion_tokens", "value": {"intValue": "200"}},
                {"key": "gen_ai.usage.cached_tokens", "value": {"intValue": 100}},
                {"key": "gen_ai.response.finish_reasons", "value": {"arrayValue": {"values": []}}},
            ]}]}]}]}  # fmt: skip
    [row], skipped = telemetry.calls_from_otlp(json.dumps(text).encode(), "application/json")
    assert skipped == 0 and row == {
        "id": "5b8efff798038103d269b633813fc60ceee19b7ec3c1b174",
        "timestamp": "2026-11-19T09:20:00.000000Z",
        "model": "claude-sonnet-4",
        "provider": "anthropic",
        "operation": "chat",
        "prompt_tokens": 900,
        "completion_tokens": 200,
        "cached_tokens": 100,
        "latency_ms": 1500.0,
        "status": "error",
    }


def test_sending_the_same_spans_twice_records_them_once(store):
    body = export(chat(1), chat(2))
    assert ingest(store, body)["rows"] == 2
    before, totals = count(store), day_totals(store)
    again = ingest(store, body)
    assert (again["rows"], again["skipped_existing"]) == (0, 2)
    assert count(store) == before and day_totals(store) == totals and rollup_differences(store) == []


def test_the_same_spans_sent_at_the_same_moment_are_recorded_once(store):
    """An exporter's retry racing its original request: without one recording at a time, each
    request found the ids new and the calls were counted three times."""
    body, start, results = export(chat(1), chat(2)), threading.Barrier(3), []

    def send():
        with store.connect() as con:
            ctx = ctx_of(store, "alice")
            start.wait()
            results.append(telemetry.ingest_otlp(ctx, con, body, PROTOBUF, now=DEMO_TODAY)["rows"])

    with store.connect():  # keep the database open between the requests
        threads = [threading.Thread(target=send) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(results) == [0, 0, 2] and len(imported(store, call_id(1))) == 1
    assert rollup_differences(store) == []


def test_an_export_without_genai_spans_records_nothing(store):
    before = count(store)
    result = ingest(store, export(span(1), span(2)))
    assert (result["rows"], result["spans"], result["skipped_spans"]) == (0, 2, 2)
    assert count(store) == before


BAD = [
    ({"gen_ai__usage__input_tokens": -5, "gen_ai__usage__cache_read__input_tokens": 0}, "prompt_tokens: -5"),
    ({"workbench__project": "Support desk"}, "project: 'Support desk' is no such project in Northwind"),
]


@pytest.mark.parametrize(("change", "says"), BAD, ids=["negative", "other-org-project"])
def test_a_bad_span_refuses_the_export_naming_it(store, change, says):
    before, totals = count(store), day_totals(store)
    with pytest.raises(ImportReport) as raised:
        ingest(store, export(chat(1), chat(2, **change), chat(3)))
    named = f"span {(2).to_bytes(8, 'big').hex()} of trace {TRACE.hex()}"
    [(row, text)] = raised.value.problems
    assert row == 2 and text.startswith(f"{named}: {says}")
    assert count(store) == before and day_totals(store) == totals and imported(store, call_id(1)) == []


def test_a_span_naming_someone_outside_the_organisation_is_the_acting_users(store):
    # an application's end user (or another organisation's user) is no user here: the call is the
    # key's creator's, said in a note, and the export is not refused (an exporter would drop it)
    result = ingest(store, export(chat(1, enduser__id="hannah"), chat(2, enduser__id="customer-8812")))
    assert result["rows"] == 2 and any(
        "2 spans named a user who is not in Northwind" in n for n in result["notes"]
    )
    with store.connect() as con:
        owners = con.execute(
            "SELECT DISTINCT u.username, c.org_id FROM llm_calls c JOIN users u ON u.id = c.user_id"
            " WHERE c.external_id IN (?, ?)",
            [call_id(1), call_id(2)],
        ).fetchall()
    assert [o[0] for o in owners] == ["alice"]


def test_an_archived_project_takes_no_new_calls(store):
    with store.connect() as con:
        con.execute("UPDATE projects SET archived_at = now() WHERE name = 'Retention desk'")
    with pytest.raises(ImportReport, match="'Retention desk' is archived, so nothing can be added"):
        ingest(store, export(chat(1), workbench__project="Retention desk"))
    assert imported(store, call_id(1)) == []


@pytest.mark.parametrize("username", ["vera", "anna"])  # a viewer, an analyst
def test_only_usage_ingest_may_report(store, username):
    with pytest.raises(NotAllowed, match="usage:ingest"):
        ingest(store, export(chat(1)), username)
    with pytest.raises(NotAllowed), store.connect() as con:
        telemetry.ingest_calls(ctx_of(store, username), con, [])
    assert imported(store, call_id(1)) == []


def test_the_reporter_role_of_an_api_key_may_report_and_nothing_else(store):
    creator = ctx_of(store, "dan")
    reporter = replace(creator, roles=frozenset({"reporter"}), permissions=frozenset({"usage:ingest"}))
    assert ingest(store, export(chat(1)), ctx=reporter)["rows"] == 1
    assert imported(store, call_id(1))[0]["user_id"] == creator.user_id  # the key's creator
    with pytest.raises(NotAllowed), store.connect() as con:
        queries.totals(reporter, con, queries.Filters(START.date(), START.date()))


def test_calls_land_in_the_reporting_organisation_only(store):
    northwind = day_totals(store)
    assert ingest(store, export(chat(1)), "hannah")["rows"] == 1
    [row] = imported(store, call_id(1))
    hannah = ctx_of(store, "hannah")
    assert (row["org_id"], row["user_id"]) == (hannah.org_id, hannah.user_id)
    assert day_totals(store) == northwind
    assert ingest(store, export(chat(1)))["rows"] == 1  # ids are unique per organisation, not across
    assert {r["org_id"] for r in imported(store, call_id(1))} == {
        hannah.org_id,
        ctx_of(store, "alice").org_id,
    }


BATCH = {
    "id": "chatcmpl-7",
    "timestamp": "2026-11-19T09:30:00Z",
    "model": "openai/gpt-4o-mini",
    "usage": {
        "prompt_tokens": 2000,
        "completion_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 500},
    },
    "latency_ms": 640,
}


def test_a_json_batch_is_recorded_like_a_usage_log(store):
    rows = [BATCH, {**BATCH, "id": "chatcmpl-8", "User": "anna", "operation": "analysis", "trace": "x"}]
    with store.connect() as con:
        result = telemetry.ingest_calls(ctx_of(store, "alice"), con, rows, now=DEMO_TODAY)
        again = telemetry.ingest_calls(ctx_of(store, "alice"), con, rows, now=DEMO_TODAY)
    assert (result["source"], result["rows"], result["unpriced"]) == ("API batch", 2, 0)
    assert (again["rows"], again["skipped_existing"]) == (0, 2)
    notes = " ".join(result["notes"])
    assert "1 calls without a user recorded for alice" in notes and "Ignored columns: trace" in notes
    [first] = imported(store, "chatcmpl-7")
    assert (first["provider"], first["prompt_tokens"], first["cached_tokens"]) == ("openai", 2000, 500)
    assert first["user_id"] == ctx_of(store, "alice").user_id
    assert first["cost_usd"] == pytest.approx(catalogue_cost(store, first))
    assert imported(store, "chatcmpl-8")[0]["user_id"] == ctx_of(store, "anna").user_id
    assert rollup_differences(store) == []


def test_a_bad_batch_row_is_named_and_nothing_is_written(store):
    rows = [BATCH, {**BATCH, "id": "b-2", "timestamp": "2026-11-19T09:30:00"}, "not a call"]
    before = count(store)
    with pytest.raises(ImportReport, match="row 3: expected an object"), store.connect() as con:
        telemetry.ingest_calls(ctx_of(store, "alice"), con, rows, now=DEMO_TODAY)
    with pytest.raises(ImportReport) as raised, store.connect() as con:
        telemetry.ingest_calls(ctx_of(store, "alice"), con, rows[:2], now=DEMO_TODAY)
    assert [(row, text.split(":")[0]) for row, text in raised.value.problems] == [(2, "timestamp")]
    assert str(raised.value).startswith("API batch: nothing imported.")
    assert count(store) == before


def test_a_batch_over_the_cap_is_refused_whole(store):
    rows = [{**BATCH, "id": f"c-{i}"} for i in range(telemetry.MAX_ROWS + 1)]
    refused = pytest.raises(ImportReport, match="10,001 calls in one batch; the limit is 10,000")
    with refused, store.connect() as con:
        telemetry.ingest_calls(ctx_of(store, "alice"), con, rows, now=DEMO_TODAY)
    wide = [{**BATCH, **{f"tag{i}": i for i in range(telemetry.MAX_FIELDS)}}]
    with pytest.raises(ImportReport, match="105 different fields; the limit is 100"), store.connect() as con:
        telemetry.ingest_calls(ctx_of(store, "alice"), con, wide, now=DEMO_TODAY)
    assert imported(store, "c-0") == imported(store, "chatcmpl-7") == []


@pytest.mark.parametrize(
    ("body", "content_type", "says"),
    [
        (b"\x0a\xff\xff\xff\xff\x0f not protobuf", PROTOBUF, "not an OTLP trace export in protobuf"),
        (b'{"resourceSpans": [', "application/json", "not valid JSON"),
        (b"[1, 2]", "application/json", "expected an object"),
        (b'{"resourceSpans": "all of them"}', "application/json", "not an OTLP trace export in JSON"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "S/ovNXezTaajzpKdDg5HNg=="}]}]}]}',
            "application/json",
            "not a hex id",
        ),  # base64, as protobuf's own JSON would write it
        (b"{}", "text/plain", "Unsupported content type"),
    ],
    ids=["protobuf", "json", "json-array", "json-shape", "json-base64-id", "content-type"],
)
def test_a_malformed_body_is_refused(store, body, content_type, says):
    with pytest.raises(InvalidInput, match=says):
        telemetry.calls_from_otlp(body, content_type)
    before = count(store)
    with pytest.raises(InvalidInput):
        ingest(store, body, content_type=content_type)
    assert count(store) == before
