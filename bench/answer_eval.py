"""Answer quality of the documents assistant on a dataset with gold answer sentences: is the answer
right, does it hold only what answers the question, and does its confidence tell right from wrong.

    python bench/answer_eval.py bench/data/encyclopedia                  # real MiniLM, 400 questions
    python bench/answer_eval.py bench/data/encyclopedia --embedder hash  # fast run, no model
    python bench/answer_eval.py DATASET --limit 100 --wrong              # list the wrong answers
    python bench/answer_eval.py DATASET --dump rows.jsonl                # every answer, for study

DATASET is a folder in `bench/rag_eval.py`'s layout plus answers.jsonl: one line per question,
{"_id", "passage", "sentences"}: the paragraph that answers it and the sentence(s) of it that state
the answer (bench/data/encyclopedia/make_corpus.py writes them).

The corpus is ingested as rag_eval does; then every question is asked through the product's chat
(`workbench.chat.ask.ask`, the offline extractive provider, a new conversation each), exactly as the
chat page asks it. An answer sentence is *gold* when it is one of the question's answer sentences
(compared without case, spacing or punctuation) and cites the paragraph that states it.

    right          the answer holds a gold sentence
    not found      the answer says it found nothing (counted as not right)
    precision      over the answers given: gold sentences / all sentences of the answer
    clean          over the right answers: share that hold nothing but gold sentences
    confidence     AUROC of the answer's confidence for right against not right (all questions),
                   a reliability table (confidence band: answers, mean confidence, share right)
    warning        share of the not-right answers, and of the right ones, flagged low confidence
    off-question   grounding's off-question claims in the answers: non-gold sentences flagged, gold
                   ones flagged (wrongly)
    padding        each answer padded the way answers used to be (and a model may pad), with the
                   two best-scored other sentences of the passage it cites first that are not gold,
                   checked by grounding as a model's answer is: the share of the padding it flags,
                   and of the gold sentences
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rag_eval  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from workbench import home  # noqa: E402
from workbench.chat import ask as chat  # noqa: E402
from workbench.chat import grounding, relevance  # noqa: E402
from workbench.chat.providers import NOT_FOUND, Passage  # noqa: E402

BANDS = (0.0, 0.3, 0.5, 0.7, 0.9, 1.0001)
WB: home.Workbench  # the data home's, for the padding check's ranking


def norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def judge(answer: chat.Answer, gold: dict, corpus_of: dict[str, list[str]]) -> dict:
    """One answer against its gold sentences: its claims, which are gold, and the figures."""
    golds = [norm(s) for s in gold["sentences"]]
    numbers = {s["number"]: s["id"] for s in answer.sources}
    claims = grounding.claims(answer.content)
    marks = []
    for claim in claims:
        said = norm(claim.text)
        in_gold_passage = any(gold["passage"] in corpus_of.get(numbers.get(n), []) for n in claim.cited)
        same = any(said and (said in g or g in said) and len(said) > 0.6 * len(g) for g in golds)
        marks.append(bool(same and in_gold_passage))
    off = set((answer.grounding or {}).get("off_question_claims", []))
    return {
        **padding(answer, golds, gold["passage"], corpus_of),
        "not_found": answer.content.strip().startswith(NOT_FOUND),
        "claims": len(claims),
        "gold": sum(marks),
        "right": any(marks),
        "confidence": answer.confidence,
        "low": answer.low_confidence,
        "grounding": (answer.grounding or {}).get("score"),
        "off_gold": sum(m and c.text in off for c, m in zip(claims, marks, strict=True)),
        "off_other": sum((not m) and c.text in off for c, m in zip(claims, marks, strict=True)),
        "answer": answer.content,
        "sources": [{k: s[k] for k in ("number", "relevance_score", "similarity", "cited", "cited_text")}
                    | {"gold": gold["passage"] in corpus_of.get(s["id"], [])} for s in answer.sources],
    }


def padding(answer: chat.Answer, golds: list[str], passage: str, corpus_of: dict[str, list[str]]) -> dict:
    """The answer padded with the two best-scored non-gold sentences of its first cited passage,
    grounded as any provider's answer is: how many pads and gold sentences come out off-question."""
    if not answer.sources or answer.content.strip().startswith(NOT_FOUND):
        return {"pads": 0, "pads_flagged": 0, "golds_padded": 0, "golds_flagged": 0}
    passages = [Passage(s["number"], s["title"], s["cited_text"]) for s in answer.sources]
    ranking = relevance.rank(answer.question, passages, WB.embedder)
    gold_of = {s["number"]: passage in corpus_of.get(s["id"], []) for s in answer.sources}
    is_gold = lambda s: gold_of[s.number] and any(norm(s.text) in g or g in norm(s.text) for g in golds)  # noqa: E731
    said = {norm(c.text) for c in grounding.claims(answer.content)}
    cited = next((c.cited[0] for c in grounding.claims(answer.content) if c.cited), None)
    pads = [s for s in ranking.sentences
            if s.number == cited and not is_gold(s) and norm(s.text) not in said][:2]
    padded = answer.content + "".join(f" {s.text} [{s.number}]" for s in pads)
    checked = grounding.ground(padded, passages, ranking)
    off = {norm(c) for c in checked["off_question_claims"]}
    golds_in = [c for c in grounding.claims(padded)
                if any(norm(c.text) in g or g in norm(c.text) for g in golds)]
    return {"pads": len(pads), "pads_flagged": sum(norm(s.text.rstrip(".")) in off for s in pads),
            "golds_padded": len(golds_in), "golds_flagged": sum(norm(c.text) in off for c in golds_in)}


def report(rows: list[dict]) -> None:
    n = len(rows)
    right = [r for r in rows if r["right"]]
    wrong = [r for r in rows if not r["right"]]
    given = [r for r in rows if not r["not_found"]]
    claims = sum(r["claims"] for r in given)
    gold = sum(r["gold"] for r in given)
    print(f"right {len(right)}/{n} ({len(right) / n:.1%}); not found {n - len(given)}; "
          f"wrong answers given {len(given) - len(right)}")
    print(f"precision {gold / max(claims, 1):.3f} "
          f"({gold} gold of {claims} sentences in {len(given)} answers; "
          f"{claims / max(len(given), 1):.2f} sentences an answer); "
          f"clean {sum(r['gold'] == r['claims'] for r in right) / max(len(right), 1):.1%} of the right ones")
    labels = [r["right"] for r in rows]
    scores = [r["confidence"] for r in rows]
    auroc = roc_auc_score(labels, scores) if 0 < len(right) < n else float("nan")
    answered = [r for r in given]
    auroc_given = (
        roc_auc_score([r["right"] for r in answered], [r["confidence"] for r in answered])
        if 0 < sum(r["right"] for r in answered) < len(answered) else float("nan")
    )
    print(f"confidence AUROC {auroc:.3f} (all questions), {auroc_given:.3f} (answers given only)")
    print(f"warning on {sum(r['low'] for r in wrong)}/{len(wrong)} not-right answers "
          f"({sum(r['low'] for r in wrong) / max(len(wrong), 1):.1%}), "
          f"on {sum(r['low'] for r in right)}/{len(right)} right ones "
          f"({sum(r['low'] for r in right) / max(len(right), 1):.1%})")
    other = claims - gold
    print(f"off-question flags in the answers: {sum(r['off_other'] for r in given)}/{other} non-gold "
          f"sentences, {sum(r['off_gold'] for r in given)}/{gold} gold ones")
    pads, golds_padded = sum(r["pads"] for r in rows), sum(r["golds_padded"] for r in rows)
    print(f"padding check: grounding flags {sum(r['pads_flagged'] for r in rows)}/{pads} padding sentences "
          f"({sum(r['pads_flagged'] for r in rows) / max(pads, 1):.1%}) and "
          f"{sum(r['golds_flagged'] for r in rows)}/{golds_padded} gold ones "
          f"({sum(r['golds_flagged'] for r in rows) / max(golds_padded, 1):.1%}) as off-question")
    print("\nreliability: confidence band, answers, mean confidence, share right")
    for lo, hi in zip(BANDS, BANDS[1:], strict=False):
        band = [r for r in rows if lo <= r["confidence"] < hi]
        if band:
            mean, share = np.mean([r["confidence"] for r in band]), np.mean([r["right"] for r in band])
            print(f"  {lo:.1f}-{min(hi, 1.0):.1f}  {len(band):4d}  {mean:.2f}  {share:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="folder with corpus.jsonl, queries.jsonl, answers.jsonl")
    parser.add_argument("--embedder", choices=("real", "hash"), default="real")
    parser.add_argument("--limit", type=int, help="ask only the first N questions")
    parser.add_argument("--wrong", action="store_true", help="list the questions answered wrongly")
    parser.add_argument("--dump", type=Path, help="write every answer and its figures to this jsonl file")
    args = parser.parse_args()

    corpus, queries, _qrels = rag_eval.load_dataset(args.dataset, "test")
    golds = {row["_id"]: row for row in rag_eval.read_jsonl(args.dataset / "answers.jsonl")}
    asked = [q for q in queries if q in golds][: args.limit]
    print(f"dataset {args.dataset}: {len(corpus)} paragraphs, {len(asked)} questions with answer sentences")
    global WB
    cfg = rag_eval.fresh_home(args.embedder)
    wb = WB = home.Workbench(cfg)
    ctx = rag_eval.admin_context(wb.store)
    began = time.perf_counter()
    wb.embedder.encode(["warm up the model"])
    print(f"machine: {os.cpu_count()} cores; embedder {wb.embedder.model_name} "
          f"({getattr(wb.embedder, 'backend', '')}), load {time.perf_counter() - began:.1f} s")
    by_uuid, ing = rag_eval.ingest_corpus(ctx, wb, corpus)
    print(f"ingest: {ing['chunks']} chunks in {ing['seconds']:.1f} s")
    rows, seconds = [], []
    for i, qid in enumerate(asked, start=1):
        began = time.perf_counter()
        answer = chat.ask(ctx, wb, queries[qid], provider_name="extractive")
        seconds.append(time.perf_counter() - began)
        row = judge(answer, golds[qid], by_uuid)
        rows.append({"id": qid, "style": golds[qid].get("style"), "question": queries[qid],
                     "gold": golds[qid]["sentences"], **row})
        if i % 100 == 0:
            print(f"  asked {i}/{len(asked)}", flush=True)
    p50, p95 = np.percentile(seconds, 50) * 1000, np.percentile(seconds, 95) * 1000
    print(f"answer time p50 {p50:.0f} ms, p95 {p95:.0f} ms\n")
    report(rows)
    styles = sorted({r["style"] for r in rows if r["style"]})
    if len(styles) > 1:
        print("\nby question style: right, precision")
        for style in styles:
            part = [r for r in rows if r["style"] == style]
            given = [r for r in part if not r["not_found"]]
            precision = sum(r["gold"] for r in given) / max(sum(r["claims"] for r in given), 1)
            print(f"  {style}  {len(part):4d}  {np.mean([r['right'] for r in part]):.3f}  {precision:.3f}")
    if args.wrong:
        print("\nnot right:")
        for r in rows:
            if not r["right"]:
                print(f"  {r['id']} ({r['confidence']:.2f}) {r['question']}\n      gold: {r['gold'][0]}\n"
                      f"      said: {r['answer'][:300]}")
    if args.dump:
        with args.dump.open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
    rag_eval.shutil.rmtree(cfg.home, ignore_errors=True)


if __name__ == "__main__":
    main()
