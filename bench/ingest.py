"""Ingest throughput: chunks/s and pages/s through the whole pipeline (parse, chunk, describe,
embed, write DuckDB + LanceDB) on a fixed corpus, with plain `SentenceTransformer.encode` (fp32)
as the baseline measured in the same run, and retrieval quality of both indexes compared.

    python bench/ingest.py [copies]      # copies of the corpus (default 2)

The corpus: the 24 sample documents rendered to PDF with fpdf2 (deterministic), so pages are
real PDF pages. Each encoder gets a fresh data home, so the embedding cache cannot help.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fpdf import FPDF  # noqa: E402

from workbench import home  # noqa: E402
from workbench.accounts import (  # noqa: E402
    auth,
    organisations,
    users,
)
from workbench.documents import ingest  # noqa: E402
from workbench.search import vectors  # noqa: E402
from workbench.search.embed import LocalEmbedder  # noqa: E402
from workbench.settings import Settings  # noqa: E402

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples" / "documents"
QUESTIONS = [  # (paraphrased question, file stem of the document that answers it)
    ("How long after my parcel arrives can I still send a handset back?", "refund-and-returns-policy"),
    ("What happens if I pay my phone bill late?", "billing-and-late-payment"),
    ("Can I keep using my allowance while on holiday in another country?", "add-ons-and-roaming"),
    ("Which identity providers work for single sign-on?", "sso-and-api-setup"),
    ("How much downtime per month does the contract allow?", "enterprise-agreement-and-sla"),
    ("Can I log in with a hardware key instead of a code?", "password-reset-and-2fa"),
    ("How do I stop my contract and what does it cost?", "cancellation-policy"),
    ("When will my order be delivered?", "delivery-policy"),
    ("How long do you keep my personal data?", "privacy-and-data-retention"),
    ("My phone has no signal, what should I try?", "troubleshooting-guide"),
    ("Which plan includes unlimited data?", "mobile-plans"),
    ("What does the AI assistant do?", "ai-assistant-feature-sheet"),
    ("What is not allowed on the platform?", "acceptable-use-policy"),
    ("How do I set up voicemail on a new line?", "new-line-setup-guide"),
    ("How do I export my workspace data as an admin?", "workspace-admin-guide"),
    ("What happens if I stop paying my phone installments?", "device-installment-agreement"),
]


def pdf_corpus(copies: int) -> list[tuple[str, bytes]]:
    """Each sample document as a PDF (markup dropped, headings kept as lines)."""
    files = []
    for copy in range(copies):
        for path in sorted(SAMPLES.rglob("*.*")):
            if path.suffix not in (".md", ".txt"):
                continue
            pdf = FPDF()
            pdf.set_font("helvetica", size=11)
            pdf.add_page()
            text = re.sub(r"[*_`|>]", "", path.read_text()).encode("latin-1", "replace").decode("latin-1")
            paragraphs = text.split("\n\n")  # later copies rotate the paragraphs: other chunks, no cache hits
            shift = copy * 3 % max(len(paragraphs), 1)
            text = "\n\n".join(paragraphs[shift:] + paragraphs[:shift])
            pdf.multi_cell(0, 6, text)
            files.append((f"{path.parent.name}-{path.stem}-{copy}.pdf", bytes(pdf.output())))
    return files


def run_pipeline(label: str, backend: str, files: list[tuple[str, bytes]]) -> dict:
    cfg = Settings(home=Path(tempfile.mkdtemp(prefix=f"bench-ingest-{label}-")), embedding_backend=backend)
    home.init(cfg)
    wb = home.Workbench(cfg)
    store, vecs = wb.store, wb.vectors
    with store.transaction() as con:
        org = organisations.create_organization(con, "Bench")
        users.insert_user(con, org, "bench", "bench@example.com", auth.hash_password("x" * 12), "analyst")
    with store.connect() as con:
        ctx = auth.context_for(con, "bench")
    embedder = LocalEmbedder(cache_dir=Path(tempfile.gettempdir()) / "workbench-bench-cache", backend=backend)
    wb.embedder = embedder  # the encoder measured, with the bench's own model cache
    load = time.perf_counter()
    embedder.encode(["warm up the model"])
    load = time.perf_counter() - load
    began = time.perf_counter()
    outcomes = ingest.ingest_files(ctx, wb, files)
    seconds = time.perf_counter() - began
    assert all(o.status == "completed" for o in outcomes), [o for o in outcomes if o.status != "completed"]
    with store.connect() as con:
        chunks, pages = con.execute(
            "SELECT count(*), count(DISTINCT (document_id, page_number)) FROM document_chunks"
        ).fetchone()
    return {
        "label": label,
        "encoder": embedder.backend,
        "load_s": load,
        "seconds": seconds,
        "chunks": chunks,
        "pages": pages,
        "ctx": ctx,
        "vectors": vecs,
        "embedder": embedder,
    }


def quality(run: dict) -> tuple[float, dict[str, list[tuple]]]:
    """Share of questions whose answering document is in the top 3, and the top-10 lists keyed
    by (file, chunk index), which are the same in both runs (same corpus, same chunking)."""
    hits_at_3, lists = 0, {}
    for question, stem in QUESTIONS:
        hits = vectors.search(run["ctx"], run["vectors"], run["embedder"], question, k=10, mode="vector")
        lists[question] = [(h.filename, h.chunk_id and h.text[:80]) for h in hits]
        hits_at_3 += any(stem in h.filename for h in hits[:3])
    return hits_at_3 / len(QUESTIONS), lists


def encode_only(files: list[tuple[str, bytes]]) -> None:
    """The embedding stage alone, on exactly the chunks the pipeline embeds: the 2x target."""
    from workbench.documents.chunking import chunk_pages
    from workbench.documents.parsing import parse_document

    texts = [c.text for name, data in files for c in chunk_pages(parse_document(data, name).pages)]
    cache = Path(tempfile.gettempdir()) / "workbench-bench-cache"
    figures = {}
    for backend in ("fp32", "auto", "fp32", "auto"):  # interleaved twice: the 2 cores are noisy
        embedder = LocalEmbedder(cache_dir=cache, backend=backend)
        embedder.encode(texts[:32])
        began = time.perf_counter()
        embedder.encode(texts)
        rate = len(texts) / (time.perf_counter() - began)
        figures[embedder.backend] = max(figures.get(embedder.backend, 0), rate)
    base = figures["fp32"]
    for name, rate in figures.items():
        print(
            f"  encode only: {name:<6} {rate:6.1f} chunks/s  x{rate / base:.2f}",
            f"({len(texts)} chunks, best of 2)",
        )


def main() -> None:
    copies = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    files = pdf_corpus(copies)
    print(
        f"corpus: {len(files)} PDFs rendered from data/samples ({copies} copies); 2 cores; "
        f"torch threads {os.cpu_count()}"
    )
    encode_only(files)
    runs = [run_pipeline("baseline", "fp32", files), run_pipeline("auto", "auto", files)]
    base = runs[0]
    for run in runs:
        run["quality"], run["lists"] = quality(run)
        print(
            f"  {run['label']:<9} encoder {run['encoder']:<18} {run['chunks']} chunks, "
            f"{run['pages']} pages in "
            f"{run['seconds']:6.1f} s: {run['chunks'] / run['seconds']:6.1f} chunks/s, "
            f"{run['pages'] / run['seconds']:6.1f} pages/s, speedup x{base['seconds'] / run['seconds']:.2f}; "
            f"model load {run['load_s']:.1f} s; right document in top 3: {run['quality']:.0%}"
        )
    overlap3, overlap10 = [], []
    for question, _stem in QUESTIONS:
        a, b = base["lists"][question], runs[1]["lists"][question]
        overlap3.append(len(set(a[:3]) & set(b[:3])) / 3)
        overlap10.append(len(set(a) & set(b)) / 10)
    print(
        f"  vector top-3 / top-10 overlap, auto vs baseline, {len(QUESTIONS)} questions: "
        f"{sum(overlap3) / len(overlap3):.2f} / {sum(overlap10) / len(overlap10):.2f} (1.00 = identical)"
    )


if __name__ == "__main__":
    main()
