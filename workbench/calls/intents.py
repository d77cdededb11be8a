"""Intent per call: the calls of a project are clustered by what their customers say (the mean
embedding of the customer's utterances, k-means) and each cluster is named by its most distinctive
words (class TF-IDF). An analyst can rename an intent or set one call's intent; re-clustering keeps
analysts' and imported labels, and names a cluster after the analyst label most of its calls carry."""

from __future__ import annotations

from collections import Counter
from math import sqrt

import duckdb
import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from workbench.accounts import projects
from workbench.accounts.context import Context
from workbench.calls import browse as call_browse
from workbench.calls import search as call_search
from workbench.errors import InvalidInput, NotFound
from workbench.search.vectors import VectorStore

MAX_INTENTS = 12
MIN_CALLS = 6  # fewer calls than this make one intent
OPENING_TURNS = 2
# words every call centre says: they name no intent
CHATTER = ENGLISH_STOP_WORDS | {
    "hi", "hello", "hey", "thanks", "thank", "yes", "yeah", "ok", "okay", "please", "just", "like",
    "calling", "call", "want", "need", "help", "know", "got", "im", "sure", "right", "good", "morning",
    "afternoon", "really", "wondering", "trying", "able", "ve", "don", "didn", "doesn", "isn", "ll",
    "haven", "hasn", "wasn", "aren", "did", "does", "com", "dot", "thing", "bit", "today", "time", "day",
    "days", "week", "couple", "said", "think", "make", "sense", "tell", "let", "number", "remember",
}  # fmt: skip
_LABEL_WORDS = 2


def assign(con: duckdb.DuckDBPyConnection, vectors: VectorStore, project_id: int) -> dict:
    """Cluster the project's embedded calls and label those without an analyst's or imported intent."""
    call_ids, matrix = call_search.customer_vectors(vectors, project_id)
    if not len(call_ids):
        return {"calls": 0, "intents": 0}
    ids, centroids = _per_call(call_ids, matrix)
    current = dict(
        con.execute(
            "SELECT id, intent_source FROM calls WHERE project_id = ? AND id IN (SELECT unnest(?))",
            [project_id, ids.tolist()],
        ).fetchall()
    )
    keep = np.array([i in current for i in ids.tolist()])
    ids, centroids = ids[keep], centroids[keep]
    clusters = _cluster(centroids)
    labels = _labels(con, project_id, ids, clusters)
    updates = [
        (labels[c], int(i)) for i, c in zip(ids, clusters, strict=True) if current[int(i)] in (None, "auto")
    ]
    if updates:
        con.executemany("UPDATE calls SET intent = ?, intent_source = 'auto' WHERE id = ?", updates)
    return {"calls": len(updates), "intents": len(set(labels.values()))}


def _per_call(call_ids: np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One unit vector per call: the mean of the customer's first turns, where the reason for the
    call is said (the later ones are thanks and details)."""
    ids, inverse = np.unique(call_ids, return_inverse=True)
    turn = np.zeros(len(call_ids), int)
    seen: Counter = Counter()
    for row, call in enumerate(inverse.tolist()):
        turn[row] = seen[call]
        seen[call] += 1
    first = turn < OPENING_TURNS
    sums = np.zeros((len(ids), matrix.shape[1]), np.float32)
    np.add.at(sums, inverse[first], matrix[first])
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return ids, sums / np.where(norms == 0, 1, norms)


def _cluster(points: np.ndarray) -> np.ndarray:
    if len(points) < MIN_CALLS:
        return np.zeros(len(points), int)
    # sqrt(n): on the demo's 80-100 calls a project (10 true intents) k = 9-10 gives purity 0.74-0.84
    k = min(MAX_INTENTS, max(2, round(sqrt(len(points)))))
    return KMeans(n_clusters=k, n_init=4, random_state=0).fit_predict(points)


def _labels(con, project_id: int, ids: np.ndarray, clusters: np.ndarray) -> dict[int, str]:
    """A name per cluster: the analysts' label most of its calls carry, else its distinctive words."""
    rows = con.execute(
        "WITH said AS (SELECT call_id, content, row_number() OVER (PARTITION BY call_id ORDER BY"
        " utterance_index, id) AS turn FROM utterances WHERE project_id = ? AND role = 'customer')"
        " SELECT c.id, c.intent, c.intent_source, string_agg(s.content, ' ' ORDER BY s.turn)"
        " FROM calls c LEFT JOIN said s ON s.call_id = c.id AND s.turn <= ?"
        " WHERE c.project_id = ? AND c.id IN (SELECT unnest(?)) GROUP BY c.id, c.intent, c.intent_source",
        [project_id, OPENING_TURNS, project_id, ids.tolist()],
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    texts: dict[int, list[str]] = {}
    chosen: dict[int, Counter] = {}
    for call_id, cluster in zip(ids.tolist(), clusters.tolist(), strict=True):
        _id, intent, source, text = by_id[call_id]
        texts.setdefault(cluster, []).append(text or "")
        if source in ("analyst", "import") and intent:
            chosen.setdefault(cluster, Counter())[intent] += 1
    words = _distinctive(texts)
    return {c: chosen[c].most_common(1)[0][0] if c in chosen else words[c] for c in texts}


def _distinctive(texts: dict[int, list[str]]) -> dict[int, str]:
    """Each cluster's words weighted by class TF-IDF (BERTopic's: frequency in the cluster times
    log(1 + average cluster size / frequency overall)), ignoring words most clusters share."""
    clusters = sorted(texts)
    counter = CountVectorizer(stop_words=list(CHATTER), token_pattern=r"(?u)\b[a-z][a-z]{2,}\b")
    try:
        counts = counter.fit_transform([" ".join(texts[c]) for c in clusters]).toarray().astype(float)
    except ValueError:  # nothing but stop words
        return {c: "general" for c in clusters}
    vocab = counter.get_feature_names_out()
    weights = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    weights *= np.log(1 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1))
    if len(clusters) > 2:
        weights[:, (counts > 0).sum(axis=0) > len(clusters) / 2] = 0
    names = {}
    for row, cluster in enumerate(clusters):
        top = [vocab[i] for i in np.argsort(-weights[row])[:_LABEL_WORDS] if weights[row, i] > 0]
        names[cluster] = " / ".join(top) or "general"
    return names


def list_intents(ctx: Context, con: duckdb.DuckDBPyConnection, project: str | None = None) -> list[dict]:
    """Intents of the organisation's calls with their call counts and where the label came from."""
    ctx.require("calls:read")
    project_id = projects.project_id_of(ctx, con, project)
    return [
        {"intent": r[0], "source": r[1], "calls": r[2]}
        for r in con.execute(
            "SELECT c.intent, max(c.intent_source), count(*) FROM calls c"
            " JOIN projects p ON p.id = c.project_id"
            " WHERE p.org_id = ? AND (?::INTEGER IS NULL OR p.id = ?) AND c.intent IS NOT NULL"
            " GROUP BY c.intent ORDER BY count(*) DESC, c.intent",
            [ctx.org_id, project_id, project_id],
        ).fetchall()
    ]


def _label(text: str) -> str:
    label = " ".join((text or "").split())
    if not label or len(label) > 60:
        raise InvalidInput("An intent label needs 1 to 60 characters.")
    return label


def rename_intent(ctx: Context, con: duckdb.DuckDBPyConnection, project: str, old: str, new: str) -> int:
    """Rename an intent in a project; the calls keep the new name through later re-clustering."""
    ctx.require("calls:import")
    project_id = projects.project_id_of(ctx, con, project)
    if project_id is None:
        raise InvalidInput("Choose the project whose intent to rename.")
    changed = con.execute(
        "UPDATE calls SET intent = ?, intent_source = 'analyst' WHERE project_id = ? AND intent = ?",
        [_label(new), project_id, old],
    ).fetchone()[0]
    if not changed:
        raise NotFound(f"No call in {project} has the intent {old!r}.")
    return changed


def set_call_intent(ctx: Context, con: duckdb.DuckDBPyConnection, call_uuid: str, intent: str) -> None:
    """Set one call's intent by hand."""
    ctx.require("calls:import")
    call_id = call_browse.call_id_of(ctx, con, call_uuid)
    con.execute(
        "UPDATE calls SET intent = ?, intent_source = 'analyst' WHERE id = ?", [_label(intent), call_id]
    )
