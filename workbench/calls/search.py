"""Search over call utterances: keyword search (BM25 over the query's content words, computed here
over the utterances that hold one, since DuckDB's fts extension is not bundled) and semantic search
over the utterances' embeddings in LanceDB (table "utterances"), both limited to the acting user's
organisation. Either way, identical utterances (same words, case and punctuation aside) from several
calls come back as one hit that says how many calls said it. The embeddings are written after an
import by `embed_calls`; a call waiting for them has calls.embedded_at NULL and is found by keyword
search only."""

from __future__ import annotations

import html
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
from lancedb.index import Bitmap, BTree

from workbench import markup
from workbench.accounts import projects
from workbench.accounts.context import Context
from workbench.db import Store, fetch_dicts
from workbench.errors import InvalidInput
from workbench.search.embed import Embedder, embed_texts
from workbench.search.vectors import VectorStore
from workbench.text import STOPWORDS, stem

if TYPE_CHECKING:
    from workbench.home import Workbench

UTTERANCES = "utterances"
MODES = ("keyword", "semantic")
INDEXES = {"org_id": Bitmap, "project_id": Bitmap, "call_id": BTree}
CALLS_PER_BATCH = 500
SHOWN_CALLS = 5  # the calls a hit said in several lists (the page opens any of them)
BM25_K1, BM25_B = 1.2, 0.75  # the usual BM25 constants: term saturation, length normalisation
# words that match most utterances: a query of only these finds nothing by keyword
STOP_WORDS = STOPWORDS | frozenset(
    "am im i'm i've i'll i'd it's that's there's what's don't can't won't isn't doesn't didn't wasn't aren't "
    "haven't you're we're they're he she his her him us up out off here now ok okay oh hi um uh".split()
)
# a word: letters and digits (any script), a contraction whole; the same in Python and in DuckDB
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_WORD_RE2 = r"[\pL\pN]+(?:''[\pL\pN]+)*"
_LOWER = "replace(lower(coalesce(u.content, '')), '’', '''')"  # what `_words` reads


def _said(value: str) -> str:
    """SQL for a text's words, case and punctuation aside: what "identical utterances" and "the exact
    phrase" compare."""
    return rf"trim(regexp_replace(lower(coalesce({value}, '')), '[^\pL\pN]+', ' ', 'g'))"


_SAID = _said("u.content")
_SCOPE = """
FROM utterances u JOIN calls c ON c.id = u.call_id JOIN projects p ON p.id = u.project_id
WHERE p.org_id = ? AND (?::INTEGER IS NULL OR p.id = ?)
"""

_HIT_SQL = f"""
SELECT u.id, c.uuid::VARCHAR AS call_uuid, c.external_id, p.name AS project, u.role, u.content,
       u.utterance_index, u.sentiment, c.started_at, c.intent
{_SCOPE}"""
# the calls that said each of some utterances (by `_SAID`): how many, and the newest few
_SAID_IN_SQL = f"""
WITH per_call AS (
    SELECT {_SAID} AS said, u.call_id, min(u.id) AS id, max(c.started_at) AS started_at {_SCOPE}
      AND {_SAID} IN (SELECT unnest(?)) GROUP BY ALL
)
SELECT k.said, k.id, c.uuid::VARCHAR AS call_uuid, c.external_id, p.name AS project,
       count(*) OVER (PARTITION BY k.said) AS calls
FROM per_call k JOIN calls c ON c.id = k.call_id JOIN projects p ON p.id = c.project_id
QUALIFY row_number() OVER (PARTITION BY k.said ORDER BY k.started_at DESC, k.id) <= ?
"""


def pending_calls(con: duckdb.DuckDBPyConnection, project_id: int | None = None) -> list[int]:
    """Calls whose utterances are not embedded yet (all projects, or one)."""
    rows = con.execute(
        "SELECT id FROM calls WHERE embedded_at IS NULL AND (?::INTEGER IS NULL OR project_id = ?)"
        " ORDER BY id",
        [project_id, project_id],
    ).fetchall()
    return [r[0] for r in rows]


def embed_calls(
    store: Store,
    vectors: VectorStore,
    embedder: Embedder,
    call_ids: list[int],
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Embed the utterances of these calls into LanceDB (replacing the calls' older vectors) and
    mark the calls embedded. Returns counts, the projects touched and the seconds spent."""
    began, done, touched = time.perf_counter(), 0, set()
    for start in range(0, len(call_ids), CALLS_PER_BATCH):
        part = call_ids[start : start + CALLS_PER_BATCH]
        with store.connect() as con:
            rows = con.sql(
                "SELECT u.id, u.call_id, u.project_id, p.org_id, u.role, u.content FROM utterances u"
                " JOIN projects p ON p.id = u.project_id WHERE u.call_id IN (SELECT unnest(?))"
                " ORDER BY u.id",
                params=[part],
            ).to_arrow_table()
        texts = [t or "" for t in rows.column("content").to_pylist()]
        matrix, _batches = embed_texts(embedder, texts, cache=vectors)
        _replace(vectors, part, rows.drop_columns(["content"]), matrix)
        with store.connect() as con:
            con.execute(
                "UPDATE calls SET embedded_at = current_localtimestamp() WHERE id IN (SELECT unnest(?))",
                [part],
            )
        done += rows.num_rows
        touched.update(rows.column("project_id").to_pylist())
        if progress:
            progress(min(start + CALLS_PER_BATCH, len(call_ids)), len(call_ids))
    return {
        "calls": len(call_ids),
        "utterances": done,
        "projects": sorted(touched),
        "seconds": round(time.perf_counter() - began, 2),
    }


def _replace(vectors: VectorStore, call_ids: list[int], rows: pa.Table, matrix: np.ndarray) -> None:
    forget_calls(vectors, call_ids)
    if rows.num_rows == 0:
        return
    column = pa.FixedSizeListArray.from_arrays(pa.array(matrix.astype(np.float32).ravel()), matrix.shape[1])
    vectors.append(UTTERANCES, rows.append_column("vector", column), INDEXES)


def forget_calls(vectors: VectorStore, call_ids: list[int]) -> None:
    """Drop the utterance vectors of these calls (their rows changed or are gone)."""
    table = vectors.table(UTTERANCES)
    for start in range(0, len(call_ids), 1000):
        part = call_ids[start : start + 1000]
        if table is not None and part:
            table.delete(f"call_id IN ({', '.join(str(int(i)) for i in part)})")


def customer_vectors(vectors: VectorStore, project_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(utterance ids, call ids, vectors) of the customers' utterances in a project, in the order
    they were said: what intents cluster on."""
    table = vectors.table(UTTERANCES)
    empty = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    if table is None:
        return empty
    rows = (
        table.search()
        .where(f"project_id = {int(project_id)} AND role = 'customer'")
        .select(["id", "call_id", "vector"])
        .limit(None)
        .to_arrow()
    )
    if rows.num_rows == 0:
        return empty
    rows = rows.sort_by("id")  # the order they were said in
    flat = rows.column("vector").combine_chunks()
    matrix = flat.values.to_numpy(zero_copy_only=False).reshape(len(flat), flat.type.list_size)
    return rows.column("id").to_numpy(), rows.column("call_id").to_numpy(), matrix


def word_key(word: str) -> str:
    """The form a word is matched by, so that plurals and verb forms find each other: lower case, no
    possessive, the shared light stem, then a final e and a doubled last consonant dropped ("phones",
    "phone" -> "phon"; "stopped" -> "stop"). A prefix of the word ("ies" -> "y" aside)."""
    word = word.lower().replace("’", "'")
    word = word[:-2] if word.endswith("'s") else word
    if word.endswith("ss"):
        return word
    key = stem(word)
    if len(key) > 3 and key.endswith("e"):
        key = key[:-1]
    if len(key) > 3 and key[-1] == key[-2] and key[-1].isalpha() and key[-1] not in "lsz":
        key = key[:-1]
    return key


def _words(content: str) -> list[str]:
    return _WORD.findall(content.lower().replace("’", "'"))


def terms_of(query: str) -> list[str]:
    """The query's content words, lower-cased, each once, in order: stop words ("is", "the", "my")
    and single letters left out. Keyword search matches these; hits mark them."""
    words = (w for w in _words(query) if (len(w) > 1 or w.isdigit()) and w not in STOP_WORDS)
    return list(dict.fromkeys(words))


def search_utterances(
    ctx: Context,
    wb: Workbench,
    query: str,
    *,
    mode: str = "keyword",
    project: str | None = None,
    k: int = 50,
) -> list[dict]:
    """Up to `k` distinct utterances of the organisation's calls matching `query`: any of its content
    words, ranked by BM25 with the exact phrase first (keyword mode), or closest in meaning (semantic
    mode, the query embedded with `wb.embedder`). Each hit is the best-ranked of the identical
    utterances, with `calls` (how many calls said it) and `said_in` (the first few of them)."""
    ctx.require("calls:read")
    if mode not in MODES:
        raise InvalidInput(f"Search mode must be one of {', '.join(MODES)}.")
    if not 1 <= k <= 500:
        raise InvalidInput("k must be between 1 and 500.")
    if not _words(query):
        raise InvalidInput("Type a word or a question to search for.")
    terms = terms_of(query)
    if mode == "keyword" and not terms:
        raise InvalidInput(
            "The search has only common words (like “the”, “is”, “my”), which nearly every utterance"
            " holds: add a word that says what was said, or try semantic mode."
        )
    with wb.store.connect() as con:
        project_id = projects.project_id_of(ctx, con, project)
        if mode == "keyword":
            ranked = _keyword(ctx, con, query, terms, project_id)
        else:
            ranked = _semantic(ctx, con, wb.vectors, wb.embedder, query, project_id, k)
        return _grouped(ctx, con, ranked, project_id, k, terms)


def _keyword(ctx, con, query: str, terms: list[str], project_id) -> list[dict]:
    """Every utterance holding a query word (by `word_key`), ranked: the exact phrase first, then by
    BM25 over the scope's utterances (length measured in characters), then shorter, then newer."""
    keys = set(map(word_key, terms))
    # a key is a prefix of the words it matches: DuckDB keeps the words that start with one, `word_key`
    # decides (once per distinct word)
    needles = sorted({key[:-1] if len(key) > 3 and key.endswith("y") else key for key in keys})
    scope = [ctx.org_id, project_id, project_id]
    phrase, total, mean_length = con.execute(
        f"SELECT any_value({_said('?::VARCHAR')}), count(*), avg(length(coalesce(u.content, ''))) {_SCOPE}",
        [query, *scope],
    ).fetchone()
    rows = con.execute(
        f"SELECT u.id, {_SAID}, length(u.content), epoch(c.started_at),"
        f" list_filter(regexp_extract_all({_LOWER}, '{_WORD_RE2}'),"
        f" lambda w: {' OR '.join('starts_with(w, ?)' for _ in needles)}) {_SCOPE}"
        f" AND ({' OR '.join(f'contains({_LOWER}, ?)' for _ in needles)})",
        [*needles, *scope, *needles],
    ).fetchall()
    key_of = {w: word_key(w) for w in {w for *_, words in rows for w in words}}
    found = []
    for uid, said, length, started, words in rows:
        counts = Counter(key for key in map(key_of.__getitem__, words) if key in keys)
        if counts:
            found.append((uid, said, length, started, counts))
    holding = Counter(key for *_, counts in found for key in counts)
    idf = {key: math.log(1 + (total - n + 0.5) / (n + 0.5)) for key, n in holding.items()}
    ranked = []
    for uid, said, length, started, counts in found:
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / mean_length)
        score = sum(idf[key] * tf * (BM25_K1 + 1) / (tf + norm) for key, tf in counts.items())
        exact = bool(phrase) and f" {phrase} " in f" {said} "
        hit = {"id": uid, "said": said, "score": round(score, 2), "phrase": exact}
        ranked.append(((not exact, -score, length, -started, uid), hit))
    ranked.sort(key=lambda pair: pair[0])
    return [hit for _order, hit in ranked]


def _semantic(
    ctx, con, vectors: VectorStore, embedder: Embedder, query: str, project_id, k: int
) -> list[dict]:
    """The utterances nearest the query in meaning, nearest first (more than `k`: identical ones
    become one hit)."""
    table = vectors.table(UTTERANCES)
    if table is None:
        return []
    where = f"org_id = {int(ctx.org_id)}" + (f" AND project_id = {int(project_id)}" if project_id else "")
    qvec = embedder.encode([query])[0].astype(np.float32)
    found = (
        table.search(qvec, vector_column_name="vector")
        .distance_type("cosine")
        .where(where, prefilter=True)
        .select(["id", "_distance"])
        .limit(min(4 * k, 2000))
        .to_arrow()
    )
    similarity = {
        i: 1 - d for i, d in zip(found["id"].to_pylist(), found["_distance"].to_pylist(), strict=True)
    }
    # the words come from DuckDB: a vector whose utterance is gone (re-imported call) is dropped
    said = dict(
        con.execute(
            f"SELECT u.id, {_SAID} {_SCOPE} AND u.id IN (SELECT unnest(?))",
            [ctx.org_id, project_id, project_id, list(similarity)],
        ).fetchall()
    )
    ranked = sorted(said, key=lambda i: (-similarity[i], i))
    return [{"id": i, "said": said[i], "score": round(float(similarity[i]), 3), "phrase": False}
            for i in ranked]


def _grouped(ctx, con, ranked: list[dict], project_id, k: int, terms: list[str]) -> list[dict]:
    """The first `k` distinct utterances of a ranking as hits: the utterance with its call, how many
    calls of the scope said it, and the first `SHOWN_CALLS` of them (the hit's own call first)."""
    best: dict[str, dict] = {}
    for hit in ranked:
        if len(best) == k:
            break
        best.setdefault(hit["said"], hit)
    if not best:
        return []
    scope = [ctx.org_id, project_id, project_id]
    ids = [hit["id"] for hit in best.values()]
    rows = fetch_dicts(con, _HIT_SQL + " AND u.id IN (SELECT unnest(?))", [*scope, ids])
    by_id = {row["id"]: row for row in rows}
    said_in, calls = defaultdict(list), {}
    for one in fetch_dicts(con, _SAID_IN_SQL, [*scope, list(best), SHOWN_CALLS + 1]):
        said = one.pop("said")
        calls[said] = one.pop("calls")
        said_in[said].append(one)
    hits = []
    for said, top in best.items():
        row = by_id.get(top["id"])
        if row is None:  # deleted since it was ranked
            continue
        own = {key: row[key] for key in ("id", "call_uuid", "external_id", "project")}
        others = [one for one in said_in[said] if one["call_uuid"] != row["call_uuid"]]
        hits.append(row | {"score": top["score"], "phrase": top["phrase"], "terms": terms,
                           "calls": max(calls.get(said, 1), 1), "said_in": [own, *others][:SHOWN_CALLS]})
    return hits


def highlight(text: str, terms: list[str]) -> str:
    """`text` as HTML with the words marked that match the query's content words (plurals and verb
    forms too, stop words never), escaped, and its Markdown images inert: safe to render as Markdown
    with HTML allowed."""
    keys = {word_key(t) for t in terms if _WORD.fullmatch(t.lower()) and t.lower() not in STOP_WORDS}
    out, last = [], 0
    for match in _WORD.finditer(text) if keys else ():
        if word_key(match.group(0)) in keys:
            out += [html.escape(text[last : match.start()]), f"<mark>{html.escape(match.group(0))}</mark>"]
            last = match.end()
    return markup.inert("".join(out) + html.escape(text[last:]))
