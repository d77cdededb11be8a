"""LLM usage reported live: OpenTelemetry GenAI spans through `telemetry.ingest_otlp`, service level
(no HTTP), into an empty database: parse the OTLP protobuf export, validate every span as a
usage-log row, resolve users and projects, price from the catalogue, insert, roll up.

    python bench/otlp_ingest.py [spans] [batch]        # default 20000 spans, 1000 per export

Each batch is one `ExportTraceServiceRequest` (what an OTLP exporter's batch processor sends),
ingested in its own connection and transaction, as an API request would be. Printed: the parse
alone (`calls_from_otlp`) and the whole ingest per batch, spans/s overall, and whether the Usage
page's rollups are current: the report's calls and tokens right after the last batch equal what
was sent. Last, one batch sent again (all of it already recorded).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from usage_import import PROJECTS, USERS, fresh_home  # noqa: E402  (the same organisation)

from workbench.accounts import auth  # noqa: E402
from workbench.usage import queries, telemetry  # noqa: E402

MODELS = [
    ("openai", "gpt-4o-mini", "chat"),
    ("openai", "gpt-4o", "chat"),
    ("anthropic", "claude-sonnet-4", "chat"),
    ("openai", "text-embedding-3-small", "embeddings"),
]


def _attribute(key: str, value) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def exports(n: int, batch: int, seed: int = 7) -> tuple[list[bytes], int]:
    """`n` GenAI spans over the last 6 days as protobuf exports of `batch` spans (one service, its
    project a resource attribute), and their total tokens."""
    rng = np.random.default_rng(seed)
    end = int(datetime.now(UTC).timestamp()) - 3600
    starts = np.sort(rng.integers(end - 6 * 86400, end, n)) * 10**9
    model = rng.integers(0, len(MODELS), n)
    prompt = rng.lognormal(7.0, 0.6, n).astype(np.int64) + 50
    completion = rng.lognormal(5.3, 0.5, n).astype(np.int64) + 10
    latency = rng.lognormal(6.5, 0.5, n).astype(np.int64) * 10**6
    user = rng.integers(0, len(USERS), n)
    bodies, tokens = [], 0
    for first in range(0, n, batch):
        spans = []
        for i in range(first, min(first + batch, n)):
            provider, name, operation = MODELS[model[i]]
            out = 0 if operation == "embeddings" else int(completion[i])
            tokens += int(prompt[i]) + out
            attributes = {
                "gen_ai.operation.name": operation,
                "gen_ai.provider.name": provider,
                "gen_ai.request.model": name,
                "gen_ai.usage.input_tokens": int(prompt[i]),
                "gen_ai.usage.output_tokens": out,
                "enduser.id": USERS[user[i]],
            }
            spans.append(Span(
                trace_id=rng.bytes(16), span_id=rng.bytes(8), name=f"{operation} {name}",
                kind=Span.SPAN_KIND_CLIENT, start_time_unix_nano=int(starts[i]),
                end_time_unix_nano=int(starts[i] + latency[i]),
                status=Status(code=Status.STATUS_CODE_ERROR if i % 50 == 0 else Status.STATUS_CODE_OK),
                attributes=[_attribute(k, v) for k, v in attributes.items()],
            ))  # fmt: skip
        project = PROJECTS[first // batch % len(PROJECTS)]
        resource = Resource(
            attributes=[_attribute("service.name", "bench-bot"), _attribute("workbench.project", project)]
        )
        request = ExportTraceServiceRequest(
            resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])]
        )
        bodies.append(request.SerializeToString())
    return bodies, tokens


def main(n: int, batch: int) -> None:
    bodies, tokens = exports(n, batch)
    size = sum(len(b) for b in bodies)
    print(f"{n:,} GenAI spans in {len(bodies)} OTLP protobuf exports of {batch:,}"
          f" ({size / len(bodies) / 1e3:.0f} KB each); {os.cpu_count()} cores")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        store = fresh_home(Path(tmp), "home")
        parse, ingest, recorded = [], [], 0
        for body in bodies:
            started = time.perf_counter()
            telemetry.calls_from_otlp(body, "application/x-protobuf")
            parse.append(time.perf_counter() - started)
            with store.connect() as con:
                ctx = auth.context_for(con, "admin")
                started = time.perf_counter()
                result = telemetry.ingest_otlp(ctx, con, body, "application/x-protobuf")
                ingest.append(time.perf_counter() - started)
            recorded += result["rows"]
        print(f"calls_from_otlp (parse only): {n / sum(parse):,.0f} spans/s,"
              f" {statistics.median(parse) * 1e3:.0f} ms a batch (median)")  # fmt: skip
        print(f"ingest_otlp (parse, validate, price, insert, roll up): {n / sum(ingest):,.0f} spans/s;"
              f" a batch {statistics.median(ingest) * 1e3:.0f} ms median, first {ingest[0] * 1e3:.0f} ms,"
              f" last {ingest[-1] * 1e3:.0f} ms, slowest {max(ingest) * 1e3:.0f} ms;"
              f" {recorded:,} calls recorded")  # fmt: skip
        with store.connect() as con:
            ctx = auth.context_for(con, "admin")
            report = queries.report(ctx, con, days=8, today=date.today() + timedelta(days=1))["totals"]
            started = time.perf_counter()
            again = telemetry.ingest_otlp(ctx, con, bodies[-1], "application/x-protobuf")
            seconds = time.perf_counter() - started
        current = report["calls"] == n and report["tokens"] == tokens
        print(f"usage report right after the last batch: {report['calls']:,} calls, {report['tokens']:,}"
              f" tokens (sent {n:,}, {tokens:,}): {'current' if current else 'NOT current'};"
              f" {report['unpriced_calls']:,} unpriced, {report['errors']:,} errors")  # fmt: skip
        print(f"the last batch again: {seconds * 1e3:.0f} ms, {again['rows']:,} recorded,"
              f" {again['skipped_existing']:,} already there")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, int(sys.argv[2]) if len(sys.argv) > 2 else 1_000)
