"""Hostile input, property-based: arbitrary and mutated files given to every importer and the parser
either import whole or raise the package's WorkbenchError with a message, and a refusal changes no row
(and no vector); the chunker loses no text, keeps its size limit, is deterministic and takes any
unicode. Example counts are modest so the file stays fast on two cores."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import sqlite3

import polars as pl
import pytest
from hypothesis import HealthCheck, assume, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, copy_home, ctx_of
from tests.test_legacy_import import SEED_000, SEED_004, build, seed_000_rows, seed_004_rows
from workbench import home
from workbench.calls import imports as calls
from workbench.calls import qa
from workbench.documents import ingest, parsing
from workbench.documents import records as documents
from workbench.documents.chunking import chunk_code, chunk_pages, split_spans
from workbench.errors import ImportReport, InvalidInput, WorkbenchError
from workbench.models import tabular
from workbench.ops.legacy import importer as legacy
from workbench.settings import Settings
from workbench.usage import imports as usage_import
from workbench.usage import price_import

SAMPLES = ROOT / "data" / "samples"
FEW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOME = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- shared state and helpers ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def wb(demo_home, tmp_path_factory):
    """One writable copy of the demo for the whole module: hypothesis runs many examples against it,
    and each example compares counts before and after itself."""
    target = tmp_path_factory.mktemp("hostile") / "home"
    copy_home(demo_home, target)
    return home.Workbench(Settings(home=target, lock_wait_s=1.0, embedding_backend="hash"))


def vector_count(vectors) -> int:
    """Chunk vectors (documents, QA pairs) plus call utterance vectors."""
    table = vectors.table("utterances")
    return vectors.count() + (0 if table is None else table.count_rows())


def counts(store, tables: list[str]) -> dict[str, int]:
    with store.connect() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def files_under(folder) -> set[str]:
    return {str(p) for p in folder.rglob("*") if p.is_file()} if folder.exists() else set()


def all_or_nothing(store, tables: list[str], action, *, vectors=None, folder=None, reraise=False):
    """Run `action`; when it refuses, it must be a WorkbenchError with a message, and no table (no
    vector, no file under `folder`) may have changed. Any other exception type fails the test."""
    before = counts(store, tables)
    vectors_before = vector_count(vectors) if vectors is not None else None
    files_before = files_under(folder) if folder is not None else None
    try:
        result = action()
    except WorkbenchError as exc:
        note(f"refused ({type(exc).__name__})")
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        assert counts(store, tables) == before, f"a refused import changed rows: {exc}"
        if vectors is not None:
            assert vector_count(vectors) == vectors_before, f"a refused import changed vectors: {exc}"
        if folder is not None:
            assert files_under(folder) == files_before, f"a refused import left files: {exc}"
        if reraise:
            raise
        return None
    note("imported")
    return result


def note(what: str) -> None:
    """Count outcomes in hypothesis' statistics (--hypothesis-show-statistics)."""
    if currently_in_test_context():
        event(what)


@st.composite
def mutated(draw, sample: bytes) -> bytes:
    """A valid file with a few hostile edits: bytes flipped, inserted, deleted, or the tail cut off."""
    data = bytearray(sample)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "invalid_utf8"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\xe2\x82"]))
    return bytes(data)


# Cell values a hostile or sloppy file holds: text in any script, markup, numbers out of range, nulls.
NASTY_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", " ", "null", "NaN", "-1", "1e309", "9" * 30, "2026-13-45T99:99:99", "2026-11-02T10:15:00Z",
         "<script>alert(1)</script>", "'; DROP TABLE calls; --", "agent", "customer", "Speaker 1", "{}",
         '{"intent": 5}', "[1, 2]", "\u202eevil", "\x00", "\ud7ff", "🙂" * 5, "0", "1.5", "USD", "eur"]
    ),
)
NASTY_VALUE = st.one_of(
    NASTY_TEXT, st.integers(-(2**70), 2**70), st.floats(), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.sampled_from(["a", "intent"]), NASTY_TEXT, max_size=2),
)


def rows_of(keys: list[str], value=NASTY_VALUE, max_rows: int = 6):
    return st.lists(st.dictionaries(st.sampled_from(keys), value, max_size=len(keys)), max_size=max_rows)


def as_csv(rows: list[dict]) -> bytes:
    columns = list(dict.fromkeys(k for r in rows for k in r)) or ["x"]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    for r in rows:
        writer.writerow({k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in r.items()})
    return out.getvalue().encode("utf-8", "surrogatepass")


def as_json(rows: list[dict]) -> bytes:
    return json.dumps(rows, default=str).encode("utf-8", "surrogatepass")


def as_jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(r, default=str) for r in rows).encode("utf-8", "surrogatepass")


SERIALISERS = {".csv": as_csv, ".json": as_json, ".jsonl": as_jsonl}


# --- calls import ---------------------------------------------------------------------------------

CALL_TABLES = ["calls", "utterances"]
CALL_KEYS = ["call_id", "transcript", "timestamp", "metadata", "role", "content", "index", "start_seconds",
             "end_seconds", "utterance_index", "started_at", "start", "end", "Call_ID ", "junk"]
CALL_SAMPLE = (
    b"call_id,transcript,timestamp,metadata\n"
    b'H-1,"Agent: Thanks for calling.\nCustomer: My router keeps dropping.",2026-11-02T10:15:00,'
    b'"{""channel"": ""phone""}"\n'
)
VTT_SAMPLE = (
    b"WEBVTT\n\n1\n00:00:00.000 --> 00:00:03.000\n<v Agent>How can I help?</v>\n\n"
    b"2\n00:00:03.000 --> 00:00:07.500\n<v Customer>My parcel is late.</v>\n"
)
TRANSCRIPT_LINE = st.one_of(
    st.builds(lambda ts, who, text: f"{ts}{who}: {text}",
              st.sampled_from(["", "[00:00:01] ", "[1:2:3] ", "[99:99] ", "[.:.] ", "[::] "]),
              st.sampled_from(["Agent", "Customer", "Speaker 1", "IVR", "x" * 31, "Ünïcode"]), NASTY_TEXT),
    NASTY_TEXT,
)
CALL_FILES = st.one_of(
    st.builds(lambda suffix, rows: (f"calls{suffix}", SERIALISERS[suffix](rows)),
              st.sampled_from(list(SERIALISERS)), rows_of(CALL_KEYS)),
    st.builds(lambda lines: ("call.txt", "\n".join(lines).encode("utf-8", "surrogatepass")),
              st.lists(TRANSCRIPT_LINE, max_size=8)),
    st.builds(lambda data: ("calls.csv", data), mutated(CALL_SAMPLE)),
    st.builds(lambda data: ("late.vtt", data), mutated(VTT_SAMPLE)),
    st.builds(lambda name, data: (name, data),
              st.sampled_from(["x.csv", "x.json", "x.jsonl", "x.txt", "x.vtt", "x.exe", "noext",
                               "../../x.csv"]),
              st.binary(max_size=200)),
)


@SOME
@given(CALL_FILES)
def test_any_call_file_imports_whole_or_is_refused_changing_nothing(wb, file):
    store, vectors = wb.store, wb.vectors
    name, data = file
    anna = ctx_of(store, "anna")
    result = all_or_nothing(
        store, CALL_TABLES,
        lambda: calls.import_calls(anna, wb, name, data, "Customer care line"),
        vectors=vectors,
    )
    if result is not None:
        assert result["calls"] >= 1 and result["created"] + result["updated"] == result["calls"]


HUGE = "9" * 5000  # Python refuses to turn more than 4,300 digits into an int: json.loads raises ValueError


@pytest.mark.parametrize(("name", "data"), [
    ("calls.json", f'[{{"call_id": "a", "transcript": "Agent: hi", "n": {HUGE}}}]'),
    ("calls.jsonl", f'{{"call_id": "a", "role": "agent", "content": "hi", "index": 1{"0" * 400}}}'),
    ("calls.csv", f'call_id,transcript,metadata\na,Agent: hi,"{{""n"": {HUGE}}}"\n'),
    ("calls.jsonl", '{"call_id": "a", "role": "agent", "content": "hi", "start_seconds": "1e999"}'),
])
def test_numbers_beyond_any_type_are_refused_with_the_row(wb, name, data):
    store = wb.store
    with pytest.raises(ImportReport, match="nothing imported"):
        all_or_nothing(store, CALL_TABLES, lambda: calls.import_calls(
            ctx_of(store, "anna"), wb, name, data.encode(), "Customer care line"), reraise=True)


def test_a_price_file_with_a_number_beyond_any_type_is_refused(wb):
    store = wb.store
    with store.connect() as con, pytest.raises(InvalidInput, match="invalid JSON"):
        price_import.import_litellm(ctx_of(store, "alice"), con, f'{{"m": {HUGE}}}'.encode(),
                                    source_name="p.json")


# --- QA pairs import ------------------------------------------------------------------------------

QA_FILES = st.one_of(
    st.builds(lambda rows: ("qa.csv", as_csv(rows)), rows_of(["question", "answer", "Question ", "x", ""])),
    st.builds(lambda data: ("qa.csv", data),
              mutated(b'question,answer\nWhere is my parcel?,"On its way, today."\n')),
    st.builds(lambda data: ("qa.csv", data), st.binary(max_size=200)),
    st.just(("qa.csv", b'question,answer\n"' + b"q" * 140_000 + b'",a\n')),  # over the csv field limit
)


@FEW
@given(QA_FILES)
def test_any_qa_csv_imports_whole_or_is_refused_changing_nothing(wb, file):
    store, vectors = wb.store, wb.vectors
    name, data = file
    anna = ctx_of(store, "anna")
    all_or_nothing(
        store, ["qa_pairs"],
        lambda: qa.import_pairs(anna, wb, "Customer care line", name, data),
        vectors=vectors,
    )


# --- usage import ---------------------------------------------------------------------------------

USAGE_KEYS = list(usage_import.COLUMNS) + ["created_at", "operation_type", "cost_usd", "Model", "junk"]
USAGE_SAMPLE = (SAMPLES / "usage-log.jsonl").read_bytes()[:4000].rsplit(b"\n", 1)[0]
USAGE_VALUES = st.one_of(
    NASTY_VALUE,
    st.sampled_from(["alice", "anna@northwind.example", "amir", "gpt-4o-mini", "openai/gpt-4o", "chat",
                     "embedding", "2026-11-02T10:15:00+01:00", "2026-11-02 10:15:00", "1793700000",
                     "9999-12-31T00:00:00Z", "Customer care line"]),
    st.dictionaries(st.sampled_from(["prompt_tokens", "completion_tokens", "input_tokens",
                                     "prompt_tokens_details", "output_tokens", "cache_read_input_tokens"]),
                    st.one_of(st.integers(-5, 2**40), NASTY_TEXT, st.dictionaries(st.just("cached_tokens"),
                                                                                  st.integers(-5, 99))),
                    max_size=4),
)
def usage_parquet() -> bytes:
    out = io.BytesIO()
    pl.read_ndjson(io.BytesIO(USAGE_SAMPLE)).write_parquet(out)
    return out.getvalue()


USAGE_FILES = st.one_of(
    st.builds(lambda suffix, rows: (f"usage{suffix}", SERIALISERS[suffix](rows)),
              st.sampled_from(list(SERIALISERS)), rows_of(USAGE_KEYS, USAGE_VALUES)),
    st.builds(lambda data: ("usage.jsonl", data), mutated(USAGE_SAMPLE)),
    st.builds(lambda data: ("usage.parquet", data), mutated(usage_parquet())),
    st.builds(lambda name, data: (name, data),
              st.sampled_from(["u.csv", "u.jsonl", "u.json", "u.parquet", "u.txt"]),
              st.one_of(st.binary(max_size=200), st.builds(lambda b: b"PAR1" + b, st.binary(max_size=80)))),
)


@SOME
@given(USAGE_FILES, st.sampled_from([None, "Europe/Paris", "Mars/Olympus", "UTC+99", ""]))
def test_any_usage_log_imports_whole_or_is_refused_changing_nothing(wb, file, timezone):
    from tests.conftest import DEMO_TODAY

    store = wb.store
    name, data = file
    with store.connect() as con:
        alice = ctx_of(store, "alice")
        all_or_nothing(
            store, ["llm_calls", "usage_daily"],
            lambda: usage_import.import_usage(alice, con, name, data, timezone=timezone, now=DEMO_TODAY),
        )


# --- LiteLLM price import -------------------------------------------------------------------------

PRICE_SAMPLE = (SAMPLES / "litellm-prices.json").read_bytes() if (SAMPLES / "litellm-prices.json").exists() \
    else json.dumps({"gpt-x": {"input_cost_per_token": 1e-6, "litellm_provider": "openai"}}).encode()
PRICE_SPEC = st.dictionaries(
    st.sampled_from(["input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
                     "litellm_provider", "mode", "max_tokens"]),
    st.one_of(NASTY_VALUE, st.floats(-1, 1), st.sampled_from(["openai", "gemini", "embedding", "chat"])),
)
PRICE_FILES = st.one_of(
    st.builds(lambda doc: json.dumps(doc, default=str).encode("utf-8", "surrogatepass"),
              st.dictionaries(st.text(max_size=20), st.one_of(PRICE_SPEC, NASTY_VALUE), max_size=5)),
    st.builds(lambda v: json.dumps(v, default=str).encode(), NASTY_VALUE),
    mutated(PRICE_SAMPLE[:3000]),
    st.binary(max_size=100),
)


@SOME
@given(PRICE_FILES, st.sampled_from([None, "2026-11-01", "not a day", "2026-02-30"]))
def test_any_price_file_imports_whole_or_is_refused_changing_nothing(wb, data, day):
    store = wb.store
    with store.connect() as con:
        alice = ctx_of(store, "alice")
        all_or_nothing(
            store, ["model_prices", "llm_calls"],
            lambda: price_import.import_litellm(alice, con, data, source_name="x.json", effective_from=day),
        )


# --- dataset registration -------------------------------------------------------------------------

def parquet_bytes() -> bytes:
    out = io.BytesIO()
    pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}).write_parquet(out)
    return out.getvalue()


DATASET_FILES = st.one_of(
    st.builds(lambda rows: ("d.csv", as_csv(rows)), rows_of(["a", "b", "c;d", "", "é"], max_rows=5)),
    st.builds(lambda data: ("d.csv", data), mutated(b"customer,plan,spend\nc1,free,10.5\nc2,pro,20\n")),
    st.builds(lambda data: ("d.parquet", data), mutated(parquet_bytes())),
    st.builds(lambda name, data: (name, data),
              st.sampled_from(["d.csv", "d.tsv", "d.parquet", "d.xlsx", "noext"]), st.binary(max_size=200)),
)


@SOME
@given(DATASET_FILES, st.sampled_from(["hostile", "  ", "../../etc", "<b>x</b>"]))
def test_any_dataset_file_registers_whole_or_is_refused_changing_nothing(wb, file, name):
    cfg, store = wb.settings, wb.store
    filename, data = file
    dan = ctx_of(store, "dan")

    def register():
        with store.transaction() as con:
            made = tabular.register_file(dan, con, cfg, data, name, filename=filename)
            con.execute("DELETE FROM datasets WHERE uuid::VARCHAR = ?", [made["uuid"]])  # keep names free
        return made

    made = all_or_nothing(store, ["datasets"], register, folder=cfg.exports_dir)
    if made is not None:
        assert made["file_path"].startswith(str(cfg.exports_dir))


# --- legacy import --------------------------------------------------------------------------------

LEGACY_TABLES = ["users", "user_roles", "projects", "calls", "utterances", "qa_pairs", "datasets",
                 "documents", "conversations", "messages", "agent_logs", "llm_calls", "legacy_ids"]
SQLITE_VALUE = st.one_of(
    st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True), st.binary(max_size=8),
    st.text(max_size=20).filter(lambda s: "\x00" not in s),
    st.sampled_from(["2023-05-01 09:00:00", "yesterday", "../../etc/passwd", "1", "admin"]),
)
LEGACY_FILES = itertools.count()


@st.composite
def legacy_files(draw, tmp_dir):
    """A seed 000 or 004 database whose rows had some values replaced by hostile ones (SQLite keeps
    whatever type it is given), or a mangled file."""
    kind = draw(st.sampled_from(["000", "004", "bytes"]))
    path = tmp_dir / f"legacy-{next(LEGACY_FILES)}.sqlite"  # a new file each time, never a reused one
    if kind == "bytes":
        template = tmp_dir / "template.sqlite"
        if not template.exists():
            build(template, SEED_000, seed_000_rows())
        path.write_bytes(draw(mutated(template.read_bytes()[:8192])))
        return path
    schema, rows = (SEED_000, seed_000_rows("hyp")) if kind == "000" else (SEED_004, seed_004_rows())
    one_in = draw(st.sampled_from([0, 30, 10]))  # a value in 30 or in 10 replaced, or a clean file
    for records in rows.values():
        for record in records:
            for column in list(record)[1:]:  # the first is SQLite's INTEGER PRIMARY KEY: a number
                if one_in and draw(st.integers(1, one_in)) == 1:
                    record[column] = draw(SQLITE_VALUE)
    try:  # without NOT NULL and UNIQUE: a legacy file need not have kept its constraints
        loose = re.sub(r",\s*UNIQUE \([^)]*\)", "", schema).replace("NOT NULL", "").replace(" UNIQUE", "")
        build(path, loose, rows)
    except sqlite3.Error as exc:
        note(f"sqlite refused: {exc}")
        assume(False)  # a value SQLite itself refuses (a duplicate key): not a file one could hand us
    return path


@FEW
@given(st.data())
def test_any_legacy_database_imports_whole_or_is_refused_changing_nothing(wb, tmp_path_factory, data):
    cfg, store = wb.settings, wb.store
    folder = tmp_path_factory.getbasetemp() / "legacy-files"
    folder.mkdir(exist_ok=True)
    path = data.draw(legacy_files(folder))
    alice = ctx_of(store, "alice")
    result = all_or_nothing(
        store, LEGACY_TABLES, lambda: legacy.import_legacy(alice, wb, path),
        folder=cfg.uploads_dir,
    )
    if result is not None:
        assert result["schema"] in ("seed 000", "seed 004")


# --- document upload, parse and ingest ------------------------------------------------------------

DOC_NAMES = ["a.txt", "a.md", "a.html", "a.csv", "a.pdf", "a.docx", "a.TXT", "a.exe", "noext"]


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Hostile", 1)
    document.add_paragraph("A paragraph with <script>alert(1)</script> in it.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pdf_bytes() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Refunds take five days.")
    return bytes(pdf.output())


DOC_FILES = st.one_of(
    st.builds(lambda name, text: (name, text.encode("utf-8", "surrogatepass")),
              st.sampled_from(DOC_NAMES[:4]), st.text(max_size=400)),
    st.builds(lambda name, data: (name, data), st.sampled_from(DOC_NAMES), st.binary(max_size=300)),
    st.builds(lambda data: ("a.docx", data), mutated(docx_bytes())),
    st.builds(lambda data: ("a.pdf", data), mutated(pdf_bytes())),
    st.builds(lambda data: ("a.html", data),
              mutated(b"<html><title>T</title><body><h1>H</h1><p>Text <script>x()</script></p></body>")),
    st.builds(lambda tags, depth: ("deep.html", "".join(f"<{t}>" for t in tags).encode() * depth + b"text"),
              st.lists(st.sampled_from(["div", "h1", "h3", "li", "pre", "b", "table", "br"]), min_size=1,
                       max_size=4),
              st.integers(1, 3000)),
    st.builds(lambda data: ("a.csv", data), mutated(b'a,b\n1,"two, three"\n"4\n')),
)


@SOME
@given(DOC_FILES)
def test_parsing_any_upload_gives_text_or_a_clear_refusal(file):
    name, data = file
    try:
        parsed = parsing.parse_document(data, name)
    except WorkbenchError as exc:
        assert str(exc).strip()
        return
    assert parsed.text.strip() and all(isinstance(p.text, str) for p in parsed.pages)


@FEW
@given(DOC_FILES)
def test_any_upload_ingests_whole_or_leaves_no_chunk_vector_or_file(wb, file):
    cfg, store, vectors = wb.settings, wb.store, wb.vectors
    name, data = file
    anna = ctx_of(store, "anna")
    before = counts(store, ["documents", "document_chunks"])
    vectors_before, files_before = vectors.count(), files_under(cfg.uploads_dir)
    [outcome] = ingest.ingest_files(anna, wb, [(name, data)])
    assert outcome.status in ("completed", "duplicate", "refused", "failed"), outcome
    after = counts(store, ["documents", "document_chunks"])
    if outcome.status == "completed":
        assert after["document_chunks"] - before["document_chunks"] == outcome.num_chunks > 0
        assert vectors.count() - vectors_before == outcome.num_chunks
        with store.transaction() as con:  # keep the example independent: drop what it added
            doc_id = con.execute("SELECT id FROM documents WHERE uuid::VARCHAR = ?",
                                 [outcome.document_uuid]).fetchone()[0]
            documents.purge(con, cfg, vectors, doc_id)
        return
    assert outcome.message.strip(), outcome
    assert after["document_chunks"] == before["document_chunks"] and vectors.count() == vectors_before
    if outcome.status in ("refused", "duplicate"):
        assert after == before and files_under(cfg.uploads_dir) == files_before


# --- the chunker ----------------------------------------------------------------------------------

PROSE = st.lists(
    st.one_of(st.text(max_size=40), st.sampled_from([" ", "\n\n", "\n# ", "\n## Heading\n", ". ", "?\" ",
                                                     "\t", "\u3000", "\u2028", "x" * 60])),
    max_size=120,
).map("".join)
SIZES = st.integers(1, 400).flatmap(lambda size: st.tuples(st.just(size), st.integers(0, size - 1)))


@SOME
@given(PROSE, SIZES)
def test_chunks_cover_every_character_respect_the_size_and_are_deterministic(text, size_overlap):
    size, overlap = size_overlap
    spans = split_spans(text, size, overlap)
    assert spans == split_spans(text, size, overlap)
    covered = [False] * len(text)
    for start, end in spans:
        assert 0 <= start < end <= len(text) and end - start <= size
        for i in range(start, end):
            covered[i] = True
    lost = [i for i, c in enumerate(text) if not covered[i] and not c.isspace()]
    assert not lost, f"characters lost at {lost[:5]}"
    starts = [s for s, _ in spans]
    assert starts == sorted(set(starts)), "windows must move forward"


@SOME
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(1, 500)), PROSE), max_size=4), SIZES)
def test_page_chunks_keep_text_pages_and_limits(pages, size_overlap):
    size, overlap = size_overlap
    pages = [parsing.Page(n, t) for n, t in pages]
    chunks = chunk_pages(pages, size, overlap)
    assert chunks == chunk_pages(pages, size, overlap)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.text.strip() and len(c.text) <= size
        assert any(c.text in p.text and c.page_number == p.number for p in pages)
    text_chars = sum(len("".join(p.text.split())) for p in pages)
    assert sum(len("".join(c.text.split())) for c in chunks) >= text_chars  # overlap only adds


@SOME
@given(st.lists(st.one_of(st.text(max_size=120), st.sampled_from(["def f():", "class A:", "    return 1",
                                                                   "func main() {", "}", "fn x() {"])),
                max_size=60),
       st.sampled_from(["a.py", "a.go", "a.rs", "a.txt", "a"]), st.integers(1, 500))
def test_code_chunks_cover_every_line_in_order(lines, path, size):
    source = "\n".join(lines)
    chunks = chunk_code(source, path, size)
    assert chunks == chunk_code(source, path, size)
    real = source.splitlines()
    covered = set()
    for c in chunks:
        assert 1 <= c.start_line <= c.end_line <= len(real)
        assert c.text == "\n".join(real[c.start_line - 1 : c.end_line])
        assert len(c.text) <= size or c.start_line == c.end_line  # only a single long line may exceed
        covered.update(range(c.start_line, c.end_line + 1))
    assert covered >= {i for i, line in enumerate(real, start=1) if line.strip()}  # blank lines may go
