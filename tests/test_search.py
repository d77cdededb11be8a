"""Search is hybrid and tenant-safe: the prefilters run inside LanceDB, so no query, mode or
document selection returns a chunk the user may not read."""

import pytest

from tests.conftest import ctx_of
from workbench import home
from workbench.documents import ingest
from workbench.documents import records as documents
from workbench.errors import InvalidInput, NotAllowed, NotFound
from workbench.search import vectors
from workbench.search.embed import HashEmbedder


@pytest.fixture(scope="module")
def world(demo_home):
    store = home.open_store(demo_home)
    return store, home.open_vectors(demo_home), HashEmbedder()


def chunk_texts_of(store, org: str, scope: str | None = None) -> list[str]:
    with store.connect() as con:
        return [
            r[0]
            for r in con.execute(
                "SELECT c.content FROM document_chunks c JOIN documents d ON d.id = c.document_id"
                " JOIN organizations o ON o.id = d.org_id WHERE o.slug = ? AND (? IS NULL OR d.scope = ?)"
                " ORDER BY c.id LIMIT 6",
                [org, scope, scope],
            ).fetchall()
        ]


def org_of_chunks(store, hits) -> set[int]:
    with store.connect() as con:
        ids = [h.chunk_id for h in hits]
        return {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT d.org_id FROM document_chunks c JOIN documents d ON d.id = c.document_id"
                " WHERE c.embedding_id IN (SELECT unnest(?))",
                [ids],
            ).fetchall()
        }


@pytest.mark.parametrize("mode", vectors.MODES)
def test_a_user_of_one_organisation_never_retrieves_the_other_ones_chunks(world, mode):
    store, vecs, emb = world
    amir = ctx_of(store, "amir")  # Helio Cloud
    for text in chunk_texts_of(store, "northwind", "global"):  # Northwind's global documents, verbatim
        hits = vectors.search(amir, vecs, emb, text[:300], k=20, mode=mode)
        assert org_of_chunks(store, hits) <= {amir.org_id}


def test_a_private_document_stays_private_inside_the_organisation(demo_copy):
    wb = home.Workbench(demo_copy)
    store, vecs, emb = wb.store, wb.vectors, wb.embedder
    anna, arthur = ctx_of(store, "anna"), ctx_of(store, "arthur")
    secret = "Zanzibar codeword: the quarterly bonus pool is forty thousand euros."
    [done] = ingest.ingest_files(anna, wb, [("secret.txt", secret.encode())])
    assert vectors.search(anna, vecs, emb, "Zanzibar bonus pool", k=3)[0].document_uuid == done.document_uuid
    for mode in vectors.MODES:
        hits = vectors.search(arthur, vecs, emb, "Zanzibar bonus pool", k=50, mode=mode)
        assert done.document_uuid not in {h.document_uuid for h in hits}
    # naming the document explicitly does not open it either
    assert vectors.search(arthur, vecs, emb, "Zanzibar", k=5, document_uuids=[done.document_uuid]) == []


def test_selected_documents_scope_the_search(world):
    store, vecs, emb = world
    anna = ctx_of(store, "anna")
    with store.connect() as con:
        docs = documents.list_documents(anna, con)
    chosen = [docs[0]["uuid"], docs[1]["uuid"]]
    hits = vectors.search(anna, vecs, emb, "how do I get a refund", k=20, document_uuids=chosen)
    assert hits and {h.document_uuid for h in hits} <= set(chosen)
    assert vectors.search(anna, vecs, emb, "refund", document_uuids=[]) == []


def test_hits_carry_title_page_section_and_both_ranks(world):
    store, vecs, emb = world
    [hit, *_] = vectors.search(ctx_of(store, "anna"), vecs, emb, "refund returns policy faulty device", k=5)
    assert hit.title and hit.filename.endswith(".md") and hit.section
    assert hit.vector_rank or hit.text_rank
    assert 0 < hit.score and 0 <= hit.similarity <= 1


def _hits_table(ids: list[str], **columns):
    """A result list as the store returns it: `columns` adds _distance, _score or vector."""
    import pyarrow as pa

    n = len(ids)
    return pa.table({"id": ids, "document_uuid": [None] * n, "title": ["t"] * n, "filename": ["f"] * n,
                     "page_number": [None] * n, "section": [None] * n, "text": ["x"] * n,
                     "doc_type": [None] * n, "start_line": [None] * n, "end_line": [None] * n, **columns})


def test_fusion_weighs_the_scaled_similarity_against_the_share_of_the_best_text_score():
    import numpy as np

    qvec = np.array([1.0, 0.0], np.float32)
    by_vector = _hits_table(["a", "b", "c"], _distance=[0.10, 0.20, 0.25])  # similarity 0.9, 0.8, 0.75
    by_text = _hits_table(["c", "d"], _score=[8.0, 2.0], vector=[[0.7, 0.71], [0.6, 0.8]])
    hits = vectors.fuse(by_vector, by_text, qvec, 4)
    # scaled similarity (0.6 to 0.9): a 1, b 0.67, c 0.5, d 0; text share: c 1, d 0.25
    expected = {"a": 0.6, "c": 0.6 * 0.5 + 0.4, "b": 0.6 * 2 / 3, "d": 0.4 * 0.25}
    assert [h.chunk_id for h in hits] == ["c", "a", "b", "d"]  # the best text match found by both wins
    assert [h.score for h in hits] == pytest.approx([expected[h.chunk_id] for h in hits])
    assert (hits[0].vector_rank, hits[0].text_rank, hits[3].vector_rank) == (3, 1, None)
    assert hits[0].similarity == pytest.approx(0.75)
    # one list alone keeps its own order
    assert [h.chunk_id for h in vectors.fuse(by_vector, _hits_table([]), qvec, 4)] == ["a", "b", "c"]
    assert [h.chunk_id for h in vectors.fuse(_hits_table([]), by_text, qvec, 4)] == ["c", "d"]


def test_a_question_naming_a_subject_is_ranked_again_by_what_it_asks():
    import numpy as np

    from workbench.text import nameless

    assert nameless("How did the people of her time refer to Liesel Kessecke?") == \
        "How did the people of her time refer to"
    assert nameless("Who designed the offices of Carrey Porcelain Works?") == "Who designed the offices of"
    assert nameless("Can I use my phone in Mexico?") == "Can I use my phone in"
    for plain in ("Is a phone that arrives broken replaced for free?", "Kessecke?", "Ask Ada?"):
        assert nameless(plain) == plain  # nothing named, or too little left: the question itself
    # a question naming the subject of the leading hit's title leaves out the rest of that subject;
    # a title it does not name (or a question naming nobody) changes nothing
    primrose = "What is the closest relative of the Vellan bog primrose?"
    assert nameless(primrose, "Vellan bog primrose: Taxonomy") == "What is the closest relative of the"
    assert nameless(primrose, "Bog primrose: Taxonomy") == "What is the closest relative of the bog primrose"
    assert nameless(primrose) == "What is the closest relative of the bog primrose"
    assert nameless("Is a phone that arrives broken replaced for free?", "Phone returns") == \
        "Is a phone that arrives broken replaced for free?"
    # two sections on one subject, the question's whole meaning nearer the wrong one: the nameless
    # question's cosine (its own axis here) puts the section that answers it first
    qvec, focus = np.array([1.0, 0.0, 0.0], np.float32), np.array([0.0, 0.0, 1.0], np.float32)
    by_vector = _hits_table(["career", "legacy", "other"], _distance=[0.10, 0.11, 0.5],
                            vector=[[0.9, 0.44, 0.0], [0.89, 0.0, 0.47], [0.5, 0.87, 0.0]])
    by_text = _hits_table(["other"], _score=[3.0], vector=[[0.5, 0.87, 0.0]])
    fused = vectors.fuse(by_vector, by_text, qvec, 3)
    assert [h.chunk_id for h in fused] == ["career", "legacy", "other"]
    ranked = vectors.fuse(by_vector, by_text, qvec, 3, focus)
    assert [h.chunk_id for h in ranked] == ["legacy", "career", "other"]
    assert all(0 <= h.score <= 1 for h in ranked)
    # the focus may depend on the leading hit: it is asked with that hit's title
    asked: list[str] = []
    chosen = vectors.fuse(by_vector, by_text, qvec, 3, lambda title: asked.append(title) or focus)
    assert [h.chunk_id for h in chosen] == ["legacy", "career", "other"] and asked == ["t"]


def test_hostile_input_gets_a_clear_error(world):
    store, vecs, emb = world
    anna = ctx_of(store, "anna")
    with pytest.raises(InvalidInput):
        vectors.search(anna, vecs, emb, "x", document_uuids=["' OR org_id = 2 OR '"])
    with pytest.raises(InvalidInput):
        vectors.search(anna, vecs, emb, "   ")
    quoted = vectors.search(anna, vecs, emb, 'refund\' OR 1=1 -- "policy" AND (', k=5)
    assert org_of_chunks(store, quoted) <= {anna.org_id}


def test_search_needs_the_read_permission(world):
    store, vecs, emb = world
    ctx = ctx_of(store, "anna")
    stripped = type(ctx)(**{**vars(ctx), "permissions": frozenset()})
    with pytest.raises(NotAllowed):
        vectors.search(stripped, vecs, emb, "refund")


def test_past_the_threshold_an_ann_index_answers_like_exact_search(demo_copy):
    store, vecs, emb = home.open_store(demo_copy), home.open_vectors(demo_copy), HashEmbedder()
    anna = ctx_of(store, "anna")
    questions = ["refund for a faulty phone", "late payment fee", "travel pass abroad", "reset my password"]
    exact = {
        q: [h.chunk_id for h in vectors.search(anna, vecs, emb, q, k=10, mode="vector")] for q in questions
    }
    assert not vecs.has_ann_index()
    assert "HNSW index" in vecs.build_ann_index(min_rows=100)
    assert vecs.has_ann_index()
    for question in questions:
        found = [h.chunk_id for h in vectors.search(anna, vecs, emb, question, k=10, mode="vector")]
        assert len(set(found) & set(exact[question])) >= 9
        assert vectors.search(anna, vecs, emb, question, k=20)  # hybrid asks for more candidates
    assert "refreshed" in vecs.build_ann_index(min_rows=100)


def test_a_chat_upload_is_found_only_inside_its_own_chat(demo_copy):
    wb = home.Workbench(demo_copy)
    store, vecs, emb = wb.store, wb.vectors, wb.embedder
    anna, arthur = ctx_of(store, "anna"), ctx_of(store, "arthur")  # same organisation
    with store.connect() as con:
        [chat, other_chat] = [
            r[0]
            for r in con.execute(
                "SELECT id FROM conversations WHERE user_id = ? ORDER BY id LIMIT 2", [anna.user_id]
            ).fetchall()
        ]
    note = ("chat-notes.txt", b"Quokka plan: the pilot customer renews on the ninth of March.")
    with pytest.raises(NotFound):  # nobody uploads into someone else's chat
        ingest.ingest_files(arthur, wb, [note], conversation_id=chat)
    [done] = ingest.ingest_files(anna, wb, [note], conversation_id=chat)
    assert done.status == "completed"
    found = lambda ctx, conversation: {  # noqa: E731
        h.document_uuid
        for h in vectors.search(ctx, vecs, emb, "Quokka pilot renews", k=50, conversation_id=conversation)
    }
    assert done.document_uuid in found(anna, chat)
    assert done.document_uuid not in found(anna, None) | found(anna, other_chat)
    assert done.document_uuid not in found(arthur, chat)  # knowing the chat id is not enough


def test_a_chunk_table_written_before_the_audience_column_is_upgraded_on_open(demo_copy):
    store, emb = home.open_store(demo_copy), HashEmbedder()
    anna, amir = ctx_of(store, "anna"), ctx_of(store, "amir")
    old = home.open_vectors(demo_copy)
    ask = lambda vecs, mode: [  # noqa: E731
        h.chunk_id for h in vectors.search(anna, vecs, emb, "refund for a faulty phone", k=10, mode=mode)
    ]
    before = ask(old, "vector")
    rows = old.chunks().to_arrow().drop_columns(["audience"])
    old._db.create_table(vectors.CHUNKS, rows, mode="overwrite")  # the schema of the first release
    assert "audience" not in old._db.open_table(vectors.CHUNKS).schema.names

    upgraded = home.open_vectors(demo_copy)
    assert ask(upgraded, "vector") == before
    assert ask(upgraded, "text") and ask(upgraded, "hybrid")  # the full-text index is rebuilt too
    assert upgraded.count() == rows.num_rows
    assert org_of_chunks(store, vectors.search(amir, upgraded, emb, "refund for a faulty phone", k=50)) <= {
        amir.org_id
    }


def test_the_audience_opens_a_row_to_the_organisation_only_for_global_and_project_scopes():
    import pyarrow as pa

    rows = pa.table(
        {
            "org_id": [1, 1, 1, 1, 2],
            "owner_id": [17, 17, 17, 17, 9],
            "scope": ["global", "project", "user", "private", None],
            "conversation_id": pa.array([None, None, None, None, 5], pa.int32()),
        }
    )
    assert vectors.with_audience(rows).column("audience").to_pylist() == [
        "o1",
        "o1",
        "o1u17",
        "o1u17",
        "o2u9c5",
    ]  # an unknown or missing scope stays the owner's


def test_fusion_is_the_same_whatever_order_the_store_returns_ties_in():
    """Equal scores (the same text in two documents) share a rank and are ordered by chunk id: a
    restored or reloaded store that returns them in another order gives the same hits."""
    import numpy as np

    def table(ids, column, values):
        return _hits_table(ids, **{column: values, "vector": [[1.0, 0.0]] * len(ids)})

    qvec = np.array([1.0, 0.0], np.float32)
    one = vectors.fuse(table(["b", "a", "c"], "_distance", [0.1, 0.1, 0.3]),
                       table(["d", "c"], "_score", [2.0, 2.0]), qvec, 4)
    other = vectors.fuse(table(["a", "b", "c"], "_distance", [0.1, 0.1, 0.3]),
                         table(["c", "d"], "_score", [2.0, 2.0]), qvec, 4)
    assert [(h.chunk_id, h.score) for h in one] == [(h.chunk_id, h.score) for h in other]
    # c's similarity comes from its distance (0.7), d's from its vector (1.0); a, b and c tie at 0.4
    assert [h.chunk_id for h in one] == ["d", "a", "b", "c"] and one[1].vector_rank == one[2].vector_rank == 1


def test_marking_bolds_the_questions_content_words_only():
    from workbench.ui.documents import mark

    marked = mark("A phone lost for a week is replaced for free; phones bought online too.",
                  "Is replacing a lost phone free for me?")
    assert "**lost**" in marked and "**free**" in marked and "**phone**" in marked and "**phones**" in marked
    assert "**replaced**" in marked  # the stem of "replacing"
    assert "**for**" not in marked and "**is**" not in marked.lower()
