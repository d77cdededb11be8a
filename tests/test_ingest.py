"""Ingest end to end on real DuckDB and LanceDB (deterministic embedder): lifecycle, bad input,
dedup, versions, the embedding cache, metering, deletes, the background worker and doctor."""

import io
import json

import docx
import numpy as np
import pytest
from fpdf import FPDF

from tests.conftest import ctx_of
from workbench import home
from workbench.documents import ingest
from workbench.documents import records as documents
from workbench.documents.jobs import IngestWorker
from workbench.errors import NotAllowed, NotFound
from workbench.ops import doctor
from workbench.search import vectors
from workbench.search.embed import HashEmbedder

POLICY = "\n\n".join(
    ["# Warranty"]
    + [
        f"Every kettle model {i} carries a two year warranty against manufacturing faults. "
        "Claims need the original receipt."
        for i in range(8)
    ]
    + ["## Exclusions"]
    + [f"Limescale damage to kettle model {i} is not covered." for i in range(30)]
)


class CountingEmbedder(HashEmbedder):
    """The test embedder, counting the texts it is asked to encode."""

    def __init__(self):
        super().__init__()
        self.encoded = 0

    def encode(self, texts):
        self.encoded += len(texts)
        return super().encode(texts)


class BrokenEmbedder(HashEmbedder):
    def encode(self, texts):
        raise RuntimeError("the model ran out of memory")


@pytest.fixture
def env(demo_copy):
    wb = home.Workbench(demo_copy)
    wb.embedder = CountingEmbedder()
    return wb


def parts(wb):
    """(settings, store, vectors, embedder) of the handle, for the checks and the units of work."""
    return wb.settings, wb.store, wb.vectors, wb.embedder


def run(env, username, files, **options):
    return ingest.ingest_files(ctx_of(env.store, username), env, files, **options)


def pdf_bytes(pages: list[str]) -> bytes:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def docx_bytes(heading: str, body: str) -> bytes:
    document = docx.Document()
    document.add_heading(heading, level=1)
    document.add_paragraph(body)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def doc_row(store, doc_uuid):
    with store.connect() as con:
        cur = con.execute("SELECT * FROM documents WHERE uuid::VARCHAR = ?", [doc_uuid])
        names = [d[0] for d in cur.description]
        row = cur.fetchone()
    return dict(zip(names, row, strict=True)) if row else None


def test_a_document_goes_pending_to_completed_with_counts_metadata_and_metering(env):
    cfg, store, vecs, _emb = parts(env)
    anna = ctx_of(store, "anna")
    [queued] = ingest.queue_files(anna, env, [("kettle-warranty.md", POLICY.encode())], doc_type="policy")
    assert (
        queued.status == "queued" and doc_row(store, queued.document_uuid)["processing_status"] == "pending"
    )
    with store.connect() as con:
        calls_before = con.execute(
            "SELECT count(*) FROM llm_calls WHERE operation_type = 'embedding'"
        ).fetchone()[0]
    outcome = ingest.process(cfg, store, vecs, env.embedder, queued.document_uuid)
    row = doc_row(store, queued.document_uuid)
    assert outcome.status == row["processing_status"] == "completed" and row["is_processed"]
    assert row["num_chunks"] == outcome.num_chunks >= 2 and row["num_tokens"] > 100 and row["processed_at"]
    assert row["title"] == "Warranty" and row["doc_type"] == "policy" and row["version"] == 1
    assert "warranty" in row["auto_keywords"] and row["auto_summary"] and row["summarization_model"]
    assert vecs.count(f"document_id = {row['id']}") == row["num_chunks"]
    with store.connect() as con:
        sections = {
            r[0]
            for r in con.execute(
                "SELECT section FROM document_chunks WHERE document_id = ?", [row["id"]]
            ).fetchall()
        }
        meter = con.execute(
            "SELECT provider, model, sum(embedding_tokens), sum(cost_usd), count(*)"
            " FROM llm_calls WHERE operation_type = 'embedding' AND user_id = ?"
            " AND id > (SELECT max(id) - 5 FROM llm_calls) GROUP BY ALL",
            [anna.user_id],
        ).fetchall()
        calls_after = con.execute(
            "SELECT count(*) FROM llm_calls WHERE operation_type = 'embedding'"
        ).fetchone()[0]
    assert sections <= {"Warranty", "Exclusions"} and "Exclusions" in sections
    assert calls_after == calls_before + 1  # one batch, one metering row
    assert meter[0][0:2] == ("local", "hash-words") and meter[0][2] > 0 and meter[0][3] == 0


def test_every_format_is_ingested_with_pages_where_they_exist(env):
    files = [
        ("a.txt", b"Plain text about solar inverters and their firmware updates."),
        ("b.md", b"# Heading\n\nMarkdown about battery storage capacity planning."),
        ("c.pdf", pdf_bytes(["Page one talks about invoices.", "Page two talks about refunds."])),
        ("d.docx", docx_bytes("Onboarding", "New starters get a laptop on day one.")),
        (
            "e.html",
            b"<html><head><title>FAQ</title></head><body><h1>FAQ</h1><p>Opening hours are 9-5.</p>"
            b"<script>alert(1)</script></body></html>",
        ),
        ("f.csv", b"plan,price\nbasic,10\npro,25\n"),
    ]
    outcomes = run(env, "anna", files)
    assert [o.status for o in outcomes] == ["completed"] * 6, outcomes
    _cfg, store, _vecs, _emb = parts(env)
    with store.connect() as con:
        pages = con.execute(
            "SELECT c.page_number, c.content FROM document_chunks c JOIN documents d"
            " ON d.id = c.document_id WHERE d.filename = 'c.pdf' ORDER BY c.chunk_index"
        ).fetchall()
        html = con.execute(
            "SELECT string_agg(c.content, ' ') FROM document_chunks c JOIN documents d"
            " ON d.id = c.document_id WHERE d.filename = 'e.html'"
        ).fetchone()[0]
    assert [p for p, _t in pages] == [1, 2] and "refunds" in pages[1][1]
    assert "Opening hours" in html and "alert" not in html


def test_bad_files_are_refused_one_by_one_and_leave_nothing_behind(env):
    cfg, store, vecs, _emb = parts(env)
    small = home.Workbench(cfg.__class__(**{**vars(cfg), "upload_max_mb": 1}))
    small.embedder = env.embedder
    files = [
        ("good.md", POLICY.encode()),
        ("empty.txt", b""),
        ("binary.txt", bytes(range(256)) * 20),
        ("virus.exe", b"MZ..."),
        ("../../etc/passwd.txt", b"root:x:0:0"),
        ("a/b.md", b"# x\n\ntext"),
        ("huge.txt", b"word " * 300_000),
        ("broken.pdf", b"%PDF-1.4 garbage"),
        ("also-good.txt", b"Refunds take five working days after we receive the parcel."),
    ]
    before = doctor.check(cfg, store, vecs)
    with store.connect() as con:
        docs_before = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    outcomes = ingest.ingest_files(ctx_of(store, "anna"), small, files)
    status = {o.filename: (o.status, o.message) for o in outcomes}
    assert status["good.md"][0] == status["also-good.txt"][0] == "completed"
    assert "empty" in status["empty.txt"][1] and "binary" in status["binary.txt"][1]
    assert "supported" in status["virus.exe"][1] and ".pdf" in status["virus.exe"][1]
    assert "path separators" in status["../../etc/passwd.txt"][1] and "path separators" in status["a/b.md"][1]
    assert "1 MB limit" in status["huge.txt"][1] and "PDF" in status["broken.pdf"][1]
    assert all(s == "refused" for name, (s, _m) in status.items() if "good" not in name)
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM documents").fetchone()[0] == docs_before + 2
    after = doctor.check(cfg, store, vecs)
    assert after.healthy and before.healthy
    assert not list(cfg.home.rglob("passwd*"))


def test_the_same_content_in_the_same_scope_is_recognised(env):
    first = run(env, "anna", [("policy.md", POLICY.encode())])
    again = run(env, "anna", [("renamed.md", POLICY.encode())])
    assert first[0].status == "completed"
    assert again[0].status == "duplicate" and again[0].document_uuid == first[0].document_uuid
    other_user = run(env, "arthur", [("policy.md", POLICY.encode())])  # private scope: his own copy
    assert other_user[0].status == "completed"


def test_a_changed_file_becomes_a_new_version_and_its_old_vectors_go(env):
    cfg, store, vecs, _emb = parts(env)
    [v1] = run(env, "anna", [("prices.md", b"# Prices\n\nThe basic plan costs ten euros a month.")])
    [v2] = run(env, "anna", [("prices.md", b"# Prices\n\nThe basic plan costs twelve euros a month.")])
    assert v2.status == "completed" and "replaced version 1" in v2.message
    assert doc_row(store, v1.document_uuid) is None and doc_row(store, v2.document_uuid)["version"] == 2
    hits = vectors.search(
        ctx_of(store, "anna"),
        vecs,
        HashEmbedder(),
        "basic plan euros",
        k=10,
        document_uuids=[v1.document_uuid, v2.document_uuid],
    )
    assert {h.document_uuid for h in hits} == {v2.document_uuid}
    assert "twelve" in hits[0].text
    assert doctor.check(cfg, store, vecs).healthy  # old file and vectors gone too


def test_unchanged_chunks_are_never_embedded_twice(env):
    run(env, "anna", [("policy.md", POLICY.encode())])
    emb = env.embedder
    first = emb.encoded
    run(env, "arthur", [("policy.md", POLICY.encode())])  # same text, another owner
    assert first > 0 and emb.encoded == first


def test_a_failing_embedder_marks_the_document_failed_with_the_reason(env):
    cfg, store, vecs, _emb = parts(env)
    anna = ctx_of(store, "anna")
    [queued] = ingest.queue_files(anna, env, [("notes.txt", b"Some unique notes about otters.")])
    outcome = ingest.process(cfg, store, vecs, BrokenEmbedder(), queued.document_uuid)
    row = doc_row(store, queued.document_uuid)
    assert outcome.status == row["processing_status"] == "failed"
    assert "out of memory" in row["error_message"] and row["num_chunks"] == 0
    assert vecs.count(f"document_id = {row['id']}") == 0
    retry = ingest.process(cfg, store, vecs, HashEmbedder(), queued.document_uuid)  # a retry works
    assert retry.status == "completed"


def test_global_scope_needs_an_admin_and_a_viewer_cannot_upload(env):
    with pytest.raises(NotAllowed):
        run(env, "anna", [("x.md", b"# x\n\nGlobal text.")], scope="global")
    with pytest.raises(NotAllowed):
        run(env, "vera", [("x.md", b"# x\n\nViewer text.")])
    assert (
        run(env, "alice", [("x.md", b"# x\n\nAdmin global text.")], scope="global")[0].status == "completed"
    )


def test_deleting_a_document_removes_its_file_chunks_and_vectors(env):
    cfg, store, vecs, _emb = parts(env)
    [done] = run(env, "anna", [("policy.md", POLICY.encode())])
    row = doc_row(store, done.document_uuid)
    assert (cfg.home / row["file_path"]).is_file() and vecs.count(f"document_id = {row['id']}") > 0
    with store.transaction() as con:
        deleted = documents.delete_document(
            ctx_of(store, "anna"), con, done.document_uuid, settings=cfg, vectors=vecs
        )
    assert deleted["documents"] == 1 and deleted["document_chunks"] == row["num_chunks"]
    assert not (cfg.home / row["file_path"]).exists() and vecs.count(f"document_id = {row['id']}") == 0
    assert doctor.check(cfg, store, vecs).healthy


def test_doctor_finds_and_repairs_orphans_and_missing_vectors(env):
    cfg, store, vecs, emb = parts(env)
    [a] = run(env, "anna", [("a.md", POLICY.encode())])
    [b] = run(env, "anna", [("b.md", b"# B\n\nBatteries last ten years in normal use.")])
    ra, rb = doc_row(store, a.document_uuid), doc_row(store, b.document_uuid)
    with store.transaction() as con:  # a crash after the vectors were written, before the rows
        con.execute("DELETE FROM document_chunks WHERE document_id = ?", [ra["id"]])
        con.execute("DELETE FROM documents WHERE id = ?", [ra["id"]])
    vecs.delete(f"document_id = {rb['id']}")  # and vectors lost for another
    (cfg.uploads_dir / "stray.bin").write_bytes(b"left over")
    report = doctor.check(cfg, store, vecs)
    assert len(report.orphan_vectors) == ra["num_chunks"] and len(report.missing_vectors) == rb["num_chunks"]
    assert report.orphan_files == ["uploads/stray.bin", ra["file_path"]] or set(report.orphan_files) == {
        "uploads/stray.bin",
        ra["file_path"],
    }
    doctor.repair(cfg, store, vecs, emb, report)
    assert doctor.check(cfg, store, vecs).healthy
    hits = vectors.search(ctx_of(store, "anna"), vecs, HashEmbedder(), "batteries last ten years", k=3)
    assert hits[0].document_uuid == b.document_uuid


def test_doctor_resumes_a_document_stuck_mid_ingest(env):
    cfg, store, vecs, emb = parts(env)
    [queued] = ingest.queue_files(ctx_of(store, "anna"), env, [("stuck.md", POLICY.encode())])
    with store.transaction() as con:  # the app was killed while processing it
        con.execute(
            "UPDATE documents SET processing_status = 'processing', updated_at = now()::TIMESTAMP"
            " - INTERVAL 1 HOUR WHERE uuid::VARCHAR = ?",
            [queued.document_uuid],
        )
    report = doctor.check(cfg, store, vecs)
    assert report.stuck_documents == [queued.document_uuid]
    doctor.repair(cfg, store, vecs, emb, report)
    assert doc_row(store, queued.document_uuid)["processing_status"] == "completed"


def test_the_background_worker_processes_uploads_and_reports_progress(env):
    cfg, store, vecs, emb = parts(env)
    worker = IngestWorker(env)
    outcomes = ingest.queue_files(
        ctx_of(store, "anna"),
        env,
        [("one.md", POLICY.encode()), ("two.txt", b"Second file about kettles.")],
    )
    for o in outcomes:
        worker.submit(o.document_uuid, o.filename)
    worker.wait(timeout=60)
    states = worker.states()
    assert {s.status for s in states.values()} == {"completed"} and not worker.busy
    assert all(s.fraction == 1.0 for s in states.values())


def test_embedding_matrix_is_normalised_and_deterministic():
    emb = HashEmbedder()
    a, b = emb.encode(["refund policy"]), emb.encode(["refund policy"])
    assert np.allclose(a, b) and np.isclose(np.linalg.norm(a), 1.0)


def test_a_batch_embeds_together_yet_fails_document_by_document(env):
    cfg, store, vecs, emb = parts(env)
    anna = ctx_of(store, "anna")
    queued = ingest.queue_files(anna, env, [("a.md", POLICY.encode()), ("b.txt", b"Kettles boil water.")])
    row = doc_row(store, queued[1].document_uuid)
    (cfg.home / row["file_path"]).unlink()  # b's stored file vanished before processing
    ingest._PARSED.clear()
    done = ingest.process_many(cfg, store, vecs, emb, [o.document_uuid for o in queued])
    assert [o.status for o in done] == ["completed", "failed"] and "No such file" in done[1].message
    again = ingest.queue_files(anna, env, [("c.md", b"# C\n\nCeramic kettles stay warm.")])
    failed = ingest.process_many(cfg, store, vecs, BrokenEmbedder(), [again[0].document_uuid])
    assert failed[0].status == "failed" and doc_row(store, again[0].document_uuid)["error_message"]


def test_the_detail_view_has_summary_keywords_topics_and_paged_chunks(env):
    cfg, store, vecs, emb = parts(env)
    pages = [
        "Invoices are sent on the first day of each month. " * 12,
        "Refunds reach the card in five days. " * 12,
    ]
    [done] = run(env, "anna", [("billing.pdf", pdf_bytes(pages))])
    with store.connect() as con:
        detail = documents.get_document(ctx_of(store, "anna"), con, done.document_uuid)
        with pytest.raises(NotFound):
            documents.get_document(ctx_of(store, "arthur"), con, done.document_uuid)  # private to anna
    assert detail["processing_status"] == "completed" and detail["auto_summary"]
    assert "invoices" in detail["keywords"] and detail["topics"] and detail["content_type"] == "financial"
    assert {c["page_number"] for c in detail["chunks"]} == {1, 2}
    assert [c["chunk_index"] for c in detail["chunks"]] == list(range(len(detail["chunks"])))



ROAMING = "roaming-faq.md"
IN_PROJECT = {"scope": "project", "project": "Customer care line"}


def replacements(store) -> list[dict]:
    """The audit log's document replacements, oldest first: who replaced which file, and the detail."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT actor, target, detail::VARCHAR FROM audit_log"
            " WHERE action = 'document.replace' ORDER BY id"
        ).fetchall()
    return [{"actor": actor, "target": target} | json.loads(detail) for actor, target, detail in rows]


def test_a_same_named_upload_does_not_replace_a_colleagues_project_document(env):
    cfg, store, vecs, _emb = parts(env)
    [annas] = run(env, "anna", [(ROAMING, b"# Roaming\n\nRoaming in the EU costs nothing.")], **IN_PROJECT)
    [arthurs] = run(env, "arthur", [(ROAMING, b"# Roaming\n\nRoaming abroad costs 5 euros.")], **IN_PROJECT)
    assert annas.status == arthurs.status == "completed" and "replaced" not in arthurs.message
    kept = doc_row(store, annas.document_uuid)
    assert kept is not None and (cfg.home / kept["file_path"]).is_file()
    assert vecs.count(f"document_id = {kept['id']}") == kept["num_chunks"] > 0
    assert doc_row(store, arthurs.document_uuid)["version"] == 1  # a document of its own
    [again] = ingest.queue_files(
        ctx_of(store, "arthur"), env, [(ROAMING, b"# Roaming\n\nTen euros a day.")], **IN_PROJECT
    )
    assert again.message == (
        "version 2, replaces the earlier one when done; anna's roaming-faq.md stays beside it:"
        " only its uploader or an admin may replace it"
    )
    ingest.process(cfg, store, vecs, HashEmbedder(), again.document_uuid)  # replaces arthur's own only
    assert doc_row(store, arthurs.document_uuid) is None and doc_row(store, annas.document_uuid) is not None
    with store.transaction() as con:  # anna's is still hers: she may delete it, arthur may not
        with pytest.raises(NotAllowed):
            documents.delete_document(ctx_of(store, "arthur"), con, annas.document_uuid)
        documents.delete_document(ctx_of(store, "anna"), con, annas.document_uuid, settings=cfg, vectors=vecs)
    assert [(r["actor"], r["target"], r["uploaded_by"]) for r in replacements(store)] == [
        ("arthur", ROAMING, "arthur")
    ]


def test_an_admin_replaces_anyones_project_document_and_each_replacement_is_audited(env):
    _cfg, store, _vecs, _emb = parts(env)
    [v1] = run(env, "anna", [(ROAMING, b"# Roaming\n\nRoaming in the EU costs nothing.")], **IN_PROJECT)
    [v2] = run(env, "anna", [(ROAMING, b"# Roaming\n\nRoaming in the EU and Norway is free.")], **IN_PROJECT)
    [v3] = run(env, "alice", [(ROAMING, b"# Roaming\n\nRoaming is free in 40 countries.")], **IN_PROJECT)
    assert "replaced version 1" in v2.message and "replaced version 2" in v3.message
    assert doc_row(store, v1.document_uuid) is None and doc_row(store, v2.document_uuid) is None
    assert doc_row(store, v3.document_uuid)["version"] == 3
    assert replacements(store) == [
        {
            "actor": actor,
            "target": ROAMING,
            "document": old.document_uuid,
            "version": version,
            "uploaded_by": "anna",
            "scope": "project",
            "project": "Customer care line",
            "new_document": new.document_uuid,
            "new_version": version + 1,
        }
        for actor, old, new, version in (("anna", v1, v2, 1), ("alice", v2, v3, 2))
    ]
