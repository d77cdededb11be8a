"""Hostile uploads: names that try to leave the uploads folder, a zip bomb dressed as a .docx, tags
nested thousands deep, 1 GB files and invalid UTF-8. Each is stored safely or refused with a clear
message, quickly, without being inflated or read into memory, and a refusal stores nothing."""

from __future__ import annotations

import io
import json
import re
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import docx
import pytest

from tests.conftest import ctx_of
from workbench import home
from workbench.calls import imports as calls
from workbench.calls import qa
from workbench.documents import ingest, parsing
from workbench.errors import ImportReport, InvalidInput
from workbench.models import tabular
from workbench.search.embed import HashEmbedder
from workbench.usage import imports as usage_import
from workbench.usage import price_import

WORKBENCH = str(Path(sys.executable).parent / "workbench")


@pytest.fixture
def env(demo_copy):
    wb = home.Workbench(demo_copy)
    assert isinstance(wb.embedder, HashEmbedder)  # the test settings' embedder
    return wb


def stored_files(cfg) -> set[Path]:
    return {p for p in cfg.home.rglob("*") if p.is_file() and "lancedb" not in p.parts
            and not p.name.startswith("workbench.duckdb")}


# --- names ----------------------------------------------------------------------------------------

HOSTILE_NAMES = [
    "../../etc/passwd.pdf", "..\\..\\x.docx", "/etc/passwd.txt", "C:\\Windows\\win.ini.txt", "a/../b.md",
    "a\x00b.txt", "line\nbreak.txt", "x" * 300 + ".txt", "..", ".", "", "   ", "...txt", "..\u2215x.txt",
    "\u202egnp.txt", "CON.txt", "%2e%2e%2fescape.txt", "<img src=x onerror=alert(1)>.txt",
]


def test_hostile_upload_names_are_refused_or_stored_inside_the_uploads_folder(env):
    cfg, store = env.settings, env.store
    anna = ctx_of(store, "anna")
    before = stored_files(cfg)
    files = [(name, f"Refund note {i}: returns take five days.".encode())
             for i, name in enumerate(HOSTILE_NAMES)]
    outcomes = ingest.ingest_files(anna, env, files)
    uploads = cfg.uploads_dir.resolve()
    for name, outcome in zip(HOSTILE_NAMES, outcomes, strict=True):
        if outcome.status == "refused":
            assert outcome.message.strip() and outcome.document_uuid is None, (name, outcome)
            continue
        assert outcome.status == "completed", (name, outcome)
        assert "/" not in outcome.filename and "\\" not in outcome.filename and "\x00" not in outcome.filename
    for path in stored_files(cfg) - before:
        assert path.resolve().is_relative_to(uploads), path
        assert path.parent.parent == cfg.uploads_dir and path.stem.count("-") == 4  # <org>/<uuid>.<ext>
    refused = {n for n, o in zip(HOSTILE_NAMES, outcomes, strict=True) if o.status == "refused"}
    assert {"../../etc/passwd.pdf", "..\\..\\x.docx", "/etc/passwd.txt", "a\x00b.txt", "x" * 300 + ".txt",
            "..", "", "a/../b.md"} <= refused
    with store.connect() as con:
        paths = [r[0] for r in con.execute("SELECT file_path FROM documents").fetchall()]
    assert all((cfg.home / p).resolve().is_relative_to(uploads) for p in paths)


def test_hostile_names_never_become_paths_for_calls_and_datasets(env):
    cfg, store = env.settings, env.store
    anna, dan = ctx_of(store, "anna"), ctx_of(store, "dan")
    before = stored_files(cfg)
    made = calls.import_calls(anna, env, "../../../etc/cron.d/evil.txt", b"Agent: Hi.\nCustomer: Bye.",
                              "Customer care line")
    assert made["created"] == 1  # the name only becomes the call id "evil"
    with store.transaction() as con:
        row = tabular.register_file(dan, con, cfg, b"a,b\n1,2\n", "../../../../tmp/evil", filename="../x.csv")
    assert Path(row["file_path"]).resolve().is_relative_to(cfg.exports_dir.resolve())
    assert [p for p in stored_files(cfg) - before] == [Path(row["file_path"])]


# --- zip bomb and deep nesting --------------------------------------------------------------------

def _zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip from (name, deflated data, crc, declared size) members, written by hand so that a member
    can declare whatever size it likes."""
    out, central = bytearray(), bytearray()
    for name, data, crc, size in members:
        raw, offset = name.encode(), len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(raw), 0)
        out += raw + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size,
                               len(raw), 0, 0, 0, 0, 0, offset) + raw
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    return bytes(out + central + end)


def _deflated(data: bytes) -> tuple[bytes, int, int]:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush(), zlib.crc32(data), len(data)


def _zeros_deflated(megabytes: int) -> tuple[bytes, int, int]:
    """`megabytes` MB of zeros, deflated, without holding them: one fully flushed 1 MB block repeated."""
    block = b"\0" * 2**20
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    once = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(block, crc)
    return once * megabytes + packer.flush(), crc, megabytes * 2**20


CONTENT_TYPES = (
    b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
RELS = (
    b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'officeDocument" Target="word/document.xml"/></Relationships>'
)


def docx_bomb(declared_mb: int | None = None) -> bytes:
    """A 1 MB .docx whose word/document.xml inflates to 1 GB; `declared_mb` makes its directory lie."""
    data, crc, size = _zeros_deflated(1024)
    if declared_mb is not None:
        size = declared_mb * 2**20
    return _zip([("[Content_Types].xml", *_deflated(CONTENT_TYPES)), ("_rels/.rels", *_deflated(RELS)),
                 ("word/document.xml", data, crc, size)])


def measured(action) -> tuple[Exception | None, float, float]:
    """(what it raised, seconds, peak MB allocated by Python) of running `action`."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        action()
        raised = None
    except Exception as exc:  # noqa: BLE001 - the caller checks the type
        raised = exc
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return raised, seconds, peak


@pytest.mark.parametrize("declared_mb", [None, 0], ids=["honest-directory", "lying-directory"])
def test_a_zip_bomb_dressed_as_docx_is_refused_quickly_without_inflating_it(env, declared_mb):
    cfg, store = env.settings, env.store
    bomb = docx_bomb(declared_mb)
    assert len(bomb) < 2 * 2**20
    raised, seconds, peak = measured(lambda: parsing.parse_document(bomb, "report.docx"))
    print(f"\nzip bomb ({declared_mb=}): {len(bomb) / 2**20:.1f} MB file refused in {seconds:.3f} s, "
          f"peak {peak:.1f} MB: {raised}")
    assert isinstance(raised, InvalidInput) and "report.docx" in str(raised), raised
    assert seconds < 2 and peak < 64
    assert "zip bomb" in str(raised)
    if declared_mb is None:
        assert "1,024 MB" in str(raised)
    else:
        assert "unpacks to more than the file declares" in str(raised)
    before = stored_files(cfg)
    [outcome] = ingest.ingest_files(ctx_of(store, "anna"), env, [("report.docx", bomb)])
    assert outcome.status == "refused" and stored_files(cfg) == before


def test_a_docx_within_the_limits_still_parses():
    document = docx.Document()
    document.add_paragraph("Returns take five days. " * 2000)
    out = io.BytesIO()
    document.save(out)
    assert "five days" in parsing.parse_document(out.getvalue(), "ok.docx").text


@pytest.mark.parametrize("tag", ["div", "h2", "li", "pre", "table"])
def test_html_nested_thousands_deep_parses_without_recursion(tag):
    page = b"<html><title>Deep</title><body>" + f"<{tag}>".encode() * 10_000 + b"Refunds take five days."
    started = time.perf_counter()
    parsed = parsing.parse_document(page, "deep.html")  # raised RecursionError at 1,000 levels
    assert "Refunds take five days." in parsed.text and time.perf_counter() - started < 10


# --- 1 GB files -----------------------------------------------------------------------------------

# Runs the command in a child of a small Python process: a child forked straight from this (large)
# test process would report this process's memory high-water mark as its own.
MEASURE = (
    "import resource, subprocess, sys; code = subprocess.run(sys.argv[1:]).returncode;"
    " print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr);"
    " sys.exit(code)"
)


def run_measured(env: dict, *args: str) -> tuple[int, str, float, float]:
    """Run the real CLI: (exit code, its output, seconds, peak resident MB of the CLI process)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURE, WORKBENCH, *args], env=env, capture_output=True,
                          text=True, timeout=120)
    seconds = time.perf_counter() - started
    output, _, peak = done.stderr.rpartition("PEAK_KB ")
    return done.returncode, done.stdout + output, seconds, int(peak) / 1024


BIG_FILES = [  # (command, file name, what the refusal says)
    (["ingest", "{path}", "--as", "anna"], "big.txt", "over the 50 MB limit"),
    (["calls", "import", "{path}", "--project", "Customer care line", "--as", "anna"], "big.csv",
     "the limit is 50 MB"),
    (["datasets", "add", "{path}", "--name", "big", "--as", "dan"], "big.csv",
     "largest accepted file is 50 MB"),
    (["usage", "import", "{path}", "--as", "alice"], "big.jsonl", "the limit is 500 MB"),
    (["prices", "import", "{path}", "--as", "alice"], "big.json", "the limit is 50 MB"),
    (["import-legacy", "{path}", "--as", "alice"], "big.sqlite", "not a readable SQLite database"),
]


@pytest.mark.parametrize(("command", "name", "message"), BIG_FILES, ids=[c[0] for c, _n, _m in BIG_FILES])
def test_a_1gb_file_is_refused_by_its_size_without_being_read(cli_env, demo_copy, tmp_path, command, name,
                                                              message):
    big = tmp_path / name
    with open(big, "wb") as f:
        f.truncate(1 << 30)  # sparse: 1 GiB that takes no disk
    before = stored_files(demo_copy)
    code, output, seconds, peak_mb = run_measured(cli_env, *[a.replace("{path}", str(big)) for a in command])
    print(f"\n{command[0]} {name} (1 GiB): exit {code} in {seconds:.2f} s, peak RSS {peak_mb:.0f} MB")
    assert code == 1 and message in output, output
    assert "Traceback" not in output
    assert peak_mb < 600, f"the CLI held {peak_mb:.0f} MB: it read the 1 GiB file"
    assert stored_files(demo_copy) == before


# --- invalid UTF-8 --------------------------------------------------------------------------------

LATIN1 = b"Refund policy: caf\xe9 cr\xe8me br\xfbl\xe9e \x81\x8d\xff and returns take five days."


@pytest.mark.parametrize("name", ["notes.txt", "notes.md", "notes.csv", "notes.html"])
def test_invalid_utf8_documents_are_decoded_and_ingested(env, name):
    store = env.store
    data = b"name,notes\nr\xe9sum\xe9,five days \xff\n" if name.endswith(".csv") else LATIN1
    anna = ctx_of(store, "anna")
    [outcome] = ingest.ingest_files(anna, env, [(name, data)])
    assert outcome.status == "completed", outcome
    with store.connect() as con:
        text = " ".join(r[0] for r in con.execute(
            "SELECT c.content FROM document_chunks c JOIN documents d ON d.id = c.document_id"
            " WHERE d.uuid::VARCHAR = ?", [outcome.document_uuid]).fetchall())
    assert ("café" in text or "résumé" in text) and "five days" in text


def test_invalid_utf8_imports_decode_as_latin1_or_say_which_row_is_wrong(env):
    cfg, store = env.settings, env.store
    anna, alice, dan = ctx_of(store, "anna"), ctx_of(store, "alice"), ctx_of(store, "dan")
    made = calls.import_calls(anna, env, "latin.csv",
                              b'call_id,transcript\nU-1,"Agent: Bonjour, caf\xe9 ?\nCustomer: Merci \xff"\n',
                              "Customer care line")
    assert made["created"] == 1
    with store.connect() as con:
        said = [r[0] for r in con.execute(
            "SELECT u.content FROM utterances u JOIN calls c ON c.id = u.call_id"
            " WHERE c.external_id = 'U-1' ORDER BY u.utterance_index").fetchall()]
    assert said == ["Bonjour, café ?", "Merci ÿ"]
    pairs = qa.import_pairs(anna, env, "Customer care line", "qa.csv",
                            b"question,answer\nO\xf9 est mon colis ?,Chez vous en cinq jours.\n")
    assert pairs["created"] == 1
    with store.transaction() as con:
        assert tabular.register_file(dan, con, cfg, b"nom,valeur\n\xe9t\xe9,1\n", "latin", filename="l.csv")
    with store.connect() as con, pytest.raises(ImportReport, match=r"row 1: user: 'ren\xe9' is not a user"):
        usage_import.import_usage(alice, con, "u.csv", b"timestamp,user,model,provider,prompt_tokens\n"
                                  b"2026-11-02T10:15:00Z,ren\xe9,gpt-4o,openai,10\n")
    with store.connect() as con, pytest.raises(InvalidInput, match="invalid JSON"):
        price_import.import_litellm(alice, con, b'{"m\xff": {}}', source_name="p.json")
    assert json.loads(json.dumps(said))  # stored text is valid unicode


# --- documents that decode to too much text (issue item 7) ----------------------------------------

def _pdf(objects: list[bytes]) -> bytes:
    """A PDF from its objects (1 is the catalog), with a correct cross-reference table."""
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(content: bytes, deflate: bool) -> bytes:
    data = zlib.compress(content, 9) if deflate else content
    return (b"<< /Length %d %s>>\nstream\n" % (len(data), b"/Filter /FlateDecode " if deflate else b"")
            + data + b"\nendstream")


def text_pdf(contents: list[bytes], deflate: bool = False) -> bytes:
    """A PDF with one page per content stream, in Helvetica."""
    pages = len(contents)
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
    for i, content in enumerate(contents):
        objects += [page + b" /Contents %d 0 R >>" % (5 + 2 * i), _stream(content, deflate)]
    return _pdf(objects)


def shown(text: bytes, times: int = 1) -> bytes:
    """A content stream that shows `text` `times` times in one text object (no line moves)."""
    return b"BT /F1 12 Tf 72 720 Td\n" + (b"(" + text + b") Tj\n") * times + b"ET"


def pdf_bomb() -> bytes:
    """The issue's PDF: a few KB whose one page shows 6,700,000 characters (100,000 text operators,
    deflated 300 to 1)."""
    return text_pdf([shown(b"Refunds take five days. " * 2 + b"Returns are free.  ", 100_000)], deflate=True)


def extracted_pages(monkeypatch) -> list[int]:
    """Counts the pages pypdf is asked for text (a spy on PageObject.extract_text)."""
    from pypdf import PageObject

    calls, real = [], PageObject.extract_text

    def spy(self, *args, **kwargs):
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PageObject, "extract_text", spy)
    return calls


def test_a_tiny_pdf_that_decodes_to_millions_of_characters_is_refused_quickly(env):
    cfg, store = env.settings, env.store
    bomb = pdf_bomb()
    assert len(bomb) < 30_000
    raised, seconds, peak = measured(lambda: parsing.parse_document(bomb, "bomb.pdf"))
    print(f"\nPDF bomb: {len(bomb) / 1e3:.1f} KB refused in {seconds:.3f} s, peak {peak:.1f} MB: {raised}")
    assert isinstance(raised, InvalidInput) and "bomb.pdf" in str(raised), raised
    assert "limit" in str(raised) and seconds < 10 and peak < 64  # 0.02 s here: refused before parsing
    before = stored_files(cfg)
    with store.connect() as con:
        documents = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    [outcome] = ingest.ingest_files(ctx_of(store, "anna"), env, [("bomb.pdf", bomb)])
    assert outcome.status == "refused" and "bomb.pdf" in outcome.message
    assert stored_files(cfg) == before
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == documents


def test_a_pdf_over_the_character_limit_stops_reading_at_the_limit(monkeypatch):
    monkeypatch.setattr(parsing, "MAX_CHARS", 50_000)
    pages = extracted_pages(monkeypatch)
    manual = text_pdf([shown(b"Refunds take five days. " * 100) for _ in range(400)])  # 960,000 characters
    with pytest.raises(InvalidInput, match=r"manual\.pdf: .*50,000 characters") as refused:
        parsing.parse_document(manual, "manual.pdf")
    assert len(pages) <= 21, f"read {len(pages)} of 400 pages after passing the limit on page 21"
    assert "page 21" in str(refused.value)


def test_a_page_over_the_character_limit_stops_inside_the_page(monkeypatch):
    """One text object of 30,000 show-text operators: extraction stops at the operator that passes
    the limit (about 834 of 24 characters for 20,000), not at the end of the page."""
    page = text_pdf([shown(b"Refunds take five days. ", 30_000)])  # 720,000 characters, one text object
    assert len(parsing.parse_document(page, "page.pdf").text) > 700_000
    visited, real = [], parsing._PageCounter.operator

    def spy(self, operator, *args):
        visited.append(operator)
        return real(self, operator, *args)

    monkeypatch.setattr(parsing._PageCounter, "operator", spy)
    monkeypatch.setattr(parsing, "MAX_CHARS", 20_000)
    with pytest.raises(InvalidInput, match=r"page\.pdf: .*20,000 characters.*page 1"):
        parsing.parse_document(page, "page.pdf")
    shows = sum(op == b"Tj" for op in visited)
    assert 800 <= shows <= 900, f"read {shows} of 30,000 text operators"


def test_a_form_drawn_thousands_of_times_stops_at_the_limit(monkeypatch, caplog):
    """A 50 KB page that draws one form XObject of 2,400 characters 5,000 times (12 million characters,
    no compression needed). pypdf catches errors inside a form and goes on with the next one: the stop
    must reach the page level, not cost a warning and a parse per remaining form."""
    text = shown(b"Refunds take five days. " * 100)
    form = (b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
            b" /Length %d >>\nstream\n" % len(text) + text + b"\nendstream")
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >>"
            b" /XObject << /X 6 0 R >> >> /Contents 5 0 R >>")
    data = _pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
                 b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", page,
                 _stream(b"q /X Do Q\n" * 5_000, deflate=False), form])
    assert len(data) < 60_000
    monkeypatch.setattr(parsing, "MAX_CHARS", 100_000)
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match=r"forms\.pdf: .*100,000 characters.*page 1"):
        parsing.parse_document(data, "forms.pdf")
    assert time.perf_counter() - started < 6  # under 1 s here; about 8 s to read the 5,000 forms
    skipped = [r for r in caplog.records if "XFormObject" in r.getMessage()]
    assert len(skipped) <= 1, f"pypdf went on with {len(skipped)} more forms after the limit"


def test_a_pdf_over_the_page_limit_is_refused_before_any_page_is_read(monkeypatch):
    pages = extracted_pages(monkeypatch)
    thick = text_pdf([shown(b"Page.")] * 2_001)  # the limit is 2,000
    raised, seconds, _peak = measured(lambda: parsing.parse_document(thick, "thick.pdf"))
    assert isinstance(raised, InvalidInput), raised
    assert "thick.pdf: 2,001 pages" in str(raised) and "limit is 2,000 pages" in str(raised)
    assert pages == [] and seconds < 5


def _docx_of(paragraphs: list[str]) -> bytes:
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


SENTENCE = "Refunds take five working days to reach the card. "
EVERY_FORMAT = {
    "notes.txt": (SENTENCE * 60).encode(),
    "notes.md": ("# Refunds\n\n" + SENTENCE * 60).encode(),
    "notes.html": ("<html><body>" + f"<p>{SENTENCE}</p>" * 60 + "</body></html>").encode(),
    "notes.csv": ("question,answer\n" + f"refund?,{SENTENCE}\n" * 60).encode(),
    "notes.docx": _docx_of([SENTENCE] * 60),
    "notes.pdf": text_pdf([shown(SENTENCE.encode() * 20) for _ in range(3)]),
}


@pytest.mark.parametrize("name", list(EVERY_FORMAT))
def test_every_format_is_held_to_the_character_limit(monkeypatch, name):
    data = EVERY_FORMAT[name]
    assert len(parsing.parse_document(data, name).text) > 2_000
    monkeypatch.setattr(parsing, "MAX_CHARS", 1_000)
    with pytest.raises(InvalidInput, match=rf"{re.escape(name)}: .*1,000 characters"):
        parsing.parse_document(data, name)


def test_a_csv_whose_rows_repeat_long_column_names_is_refused_while_it_is_read():
    """Each cell is written as "name: value", so 40 columns with 2,000-character names and 3,000 rows of
    "1" (a 250 KB file) would make 240 million characters."""
    header = ",".join(f"c{i}" + "x" * 2_000 for i in range(40))
    data = (header + "\n" + ("1," * 40 + "\n") * 3_000).encode()
    assert len(data) < 500_000
    raised, seconds, peak = measured(lambda: parsing.parse_document(data, "wide.csv"))
    print(f"\nwide CSV: {len(data) / 1e3:.0f} KB refused in {seconds:.2f} s, peak {peak:.0f} MB: {raised}")
    assert isinstance(raised, InvalidInput) and "wide.csv" in str(raised) and "characters" in str(raised)
    assert seconds < 5 and peak < 200
