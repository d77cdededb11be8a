"""Intent per call: the calls of a project are clustered by what their customers say (the mean
embedding of the customer's opening utterances, the one saying why they call counting double,
k-means) and each cluster is named the way topic models name topics: its most distinctive 1-3-word
phrases by class TF-IDF, of which the one nearest the cluster's centre in embedding space (of its
larger half, and weighted by how widely it is said: a mixed cluster is named after its main topic)
becomes the label, as said in the calls ("signal drops at home", "cancel my contract"). An analyst
can rename an intent or set one call's intent; re-clustering keeps analysts' and imported labels, and
names a cluster after the analyst label at least half its calls carry. A configured LLM can propose
a name (workbench.chat.naming), only when asked."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from math import ceil, sqrt

import duckdb
import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from workbench.accounts import projects
from workbench.accounts.context import Context
from workbench.calls import browse as call_browse
from workbench.calls import search as call_search
from workbench.db import atomic
from workbench.errors import InvalidInput, NotFound
from workbench.search.embed import Embedder
from workbench.search.vectors import VectorStore
from workbench.text import stem

MAX_INTENTS = 12
MIN_CALLS = 6  # fewer calls than this make one intent
OPENING_TURNS = 2
# the reason for the call: a call's first opening turn with this many words that are not chatter
REASON_WORDS = 2
# the other opening turn (often the answer to an identity check) counts half: purity on
# bench/intents.py's calls 0.43 -> 0.99, on the demo's 0.77 -> 0.80 (MiniLM; with k-means' 10 starts)
OTHER_TURN_WEIGHT = 0.5
# words that name things in a call centre, though sklearn's list counts them as stop words
MEANINGFUL = {"bill", "out", "off", "down", "back", "full", "empty", "top", "move", "system", "amount",
              "fire", "front", "bottom", "side", "interest"}  # fmt: skip
# words every call centre says: they name no intent
CHATTER = (ENGLISH_STOP_WORDS - MEANINGFUL) | {
    "hi", "hello", "hey", "thanks", "thank", "yes", "yeah", "ok", "okay", "please", "just", "like",
    "calling", "call", "want", "need", "help", "know", "got", "im", "sure", "right", "good", "morning",
    "afternoon", "really", "wondering", "trying", "able", "ve", "don", "didn", "doesn", "isn", "ll",
    "haven", "hasn", "wasn", "aren", "did", "does", "com", "dot", "thing", "bit", "today", "time", "day",
    "days", "week", "couple", "said", "think", "make", "sense", "tell", "let", "remember",
    "won", "wouldn", "couldn", "shouldn", "weren", "re", "oh", "um", "uh", "er", "hmm", "actually",
    "basically", "guess", "maybe", "anyway", "lot", "lots", "ago", "say", "saying", "told", "look",
    "looking", "see", "wanted", "going", "gonna", "wanna", "kind", "sort", "stuff", "things",
}  # fmt: skip
PARTICLES = {"out", "off", "down", "back", "up", "over"}  # say nothing on their own
# a phrase across these joins two clauses ("cancel and i'm moving"): no label
CONNECTORS = {"and", "but", "or", "so", "because", "then", "when", "if", "while", "though", "although",
              "which", "who", "that"}  # fmt: skip
TOKEN = r"(?u)\b[a-z][a-z]+\b"
PHRASES_PER_LENGTH = 10  # candidates of each n-gram length, by class TF-IDF
MAX_LABEL_WORDS = 5
PREFERRED_WORDS = range(2, 5)
# a 2-4 word phrase wins over a one-word (or long) phrase nearer the centre unless that one scores
# more than 1 / PREFER of it: "signal drops at home" over "signal"
PREFER = 0.85
SPREAD = 0.5  # how much how widely a phrase is said weighs beside its closeness (see _spread)
SHOWN_PHRASES = 8


@dataclass(frozen=True)
class ClusterName:
    """What names a cluster: its label, its top class TF-IDF phrases (best first, as said in the
    calls) and the customer utterance nearest its centre."""

    label: str
    phrases: tuple[str, ...]
    representative: str


def assign(
    con: duckdb.DuckDBPyConnection, vectors: VectorStore, project_id: int, embedder: Embedder | None = None
) -> dict:
    """Cluster the project's embedded calls and label those without an analyst's or imported intent.
    `embedder` (the one that made the vectors) places the candidate phrases; without it a phrase is
    placed where the utterances that say it are. Returns counts and each cluster's name."""
    return save(con, project_id, cluster(read(con, vectors, project_id), embedder))


@dataclass(frozen=True)
class Opening:
    """What clustering a project reads: its calls' opening customer turns (ids, calls, vectors,
    texts) and the labels analysts or imports gave them."""

    utterance_ids: np.ndarray
    call_ids: np.ndarray
    matrix: np.ndarray
    texts: list[str]
    given: dict[int, str]


def read(con: duckdb.DuckDBPyConnection, vectors: VectorStore, project_id: int) -> Opening | None:
    """The inputs of `cluster` (None when the project has no embedded call): a short read, so that
    the clustering and naming that follow hold no database."""
    utterance_ids, call_ids, matrix = _opening_turns(vectors, project_id)
    if not len(call_ids):
        return None
    current = {r[0] for r in con.execute(
        "SELECT id FROM calls WHERE project_id = ? AND id IN (SELECT unnest(?))",
        [project_id, np.unique(call_ids).tolist()],
    ).fetchall()}
    keep = np.array([i in current for i in call_ids.tolist()], dtype=bool)
    utterance_ids, call_ids, matrix = utterance_ids[keep], call_ids[keep], matrix[keep]
    return Opening(utterance_ids, call_ids, matrix, _contents(con, utterance_ids),
                   _analyst_labels(con, np.unique(call_ids)))


def cluster(opening: Opening | None, embedder: Embedder | None = None) -> dict | None:
    """Each call's label and the clusters described (the `intents` rows), from `read`'s inputs."""
    if opening is None or not len(opening.call_ids):
        return None
    why = _reasons(opening.call_ids, opening.texts)
    ids, inverse = np.unique(opening.call_ids, return_inverse=True)
    weighted = opening.matrix * np.where(why, 1.0, OTHER_TURN_WEIGHT)[:, None]
    clusters = _cluster(_per_call(inverse, len(ids), weighted))
    said = [t for t, w in zip(opening.texts, why, strict=True) if w]
    names = name_clusters(said, opening.matrix[why], clusters[inverse][why], embedder,
                          reserved=set(opening.given.values()))
    labels = _labels(opening.given, ids, clusters, names)
    return {"calls": {int(i): labels[c] for i, c in zip(ids, clusters, strict=True)},
            "described": _described(clusters, labels, names)}


def save(con: duckdb.DuckDBPyConnection, project_id: int, clustered: dict | None) -> dict:
    """Write `cluster`'s labels to the calls an analyst or an import has not labelled (as they are
    now: a label given since the read is kept) and replace the project's intents, in one transaction."""
    if clustered is None:
        return {"calls": 0, "intents": 0, "clusters": []}
    with atomic(con):
        labelled = dict(con.execute(
            "SELECT id, intent_source FROM calls WHERE project_id = ? AND id IN (SELECT unnest(?))",
            [project_id, list(clustered["calls"])],
        ).fetchall())
        updates = [(label, i) for i, label in clustered["calls"].items()
                   if i in labelled and labelled[i] in (None, "auto")]
        if updates:
            con.executemany("UPDATE calls SET intent = ?, intent_source = 'auto' WHERE id = ?", updates)
        described = clustered["described"]
        con.execute("DELETE FROM intents WHERE project_id = ?", [project_id])
        con.executemany(
            "INSERT INTO intents (project_id, label, phrases, representative, calls) VALUES (?, ?, ?, ?, ?)",
            [(project_id, d["label"], json.dumps(d["phrases"]), d["representative"], d["calls"])
             for d in described],
        )
    return {"calls": len(updates), "intents": len(set(clustered["calls"].values())), "clusters": described}


def _described(clusters: np.ndarray, labels: dict[int, str], names: dict[int, ClusterName]) -> list[dict]:
    """Each cluster, biggest first: its label, calls, top phrases and the utterance nearest its centre
    (the `intents` rows)."""
    sizes = Counter(clusters.tolist())
    return [
        {"label": labels[c], "calls": n, "phrases": list(names[c].phrases),
         "representative": names[c].representative}
        for c, n in sizes.most_common()
    ]  # fmt: skip


def _opening_turns(vectors: VectorStore, project_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(utterance ids, call ids, vectors) of the customers' first turns in each call of a project,
    where the reason for the call is said (the later ones are thanks and details)."""
    utterance_ids, call_ids, matrix = call_search.customer_vectors(vectors, project_id)
    turn = np.zeros(len(call_ids), int)
    seen: Counter = Counter()
    for row, call in enumerate(call_ids.tolist()):
        turn[row] = seen[call]
        seen[call] += 1
    first = turn < OPENING_TURNS
    return utterance_ids[first], call_ids[first], matrix[first]


def _per_call(inverse: np.ndarray, n_calls: int, matrix: np.ndarray) -> np.ndarray:
    """One unit vector per call: the mean of its opening turns."""
    sums = np.zeros((n_calls, matrix.shape[1]), np.float32)
    np.add.at(sums, inverse, matrix)
    return _unit(sums)


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def _cluster(points: np.ndarray) -> np.ndarray:
    if len(points) < MIN_CALLS:
        return np.zeros(len(points), int)
    # sqrt(n): on the demo's 80-100 calls a project (10 true intents) k = 9-10 gives purity 0.74-0.84
    k = min(MAX_INTENTS, max(2, round(sqrt(len(points)))))
    return KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(points)


def _contents(con: duckdb.DuckDBPyConnection, utterance_ids: np.ndarray) -> list[str]:
    said = dict(
        con.execute(
            "SELECT id, content FROM utterances WHERE id IN (SELECT unnest(?))", [utterance_ids.tolist()]
        ).fetchall()
    )
    return [said.get(i) or "" for i in utterance_ids.tolist()]


def _reasons(call_ids: np.ndarray, texts: list[str]) -> np.ndarray:
    """Which opening turns say why the customer called: per call the first with REASON_WORDS words
    that are not chatter (the next answers the agent's questions: name, email, since when), else all."""
    chosen: dict[int, int] = {}
    for row, (call, text) in enumerate(zip(call_ids.tolist(), texts, strict=True)):
        said = [w for w in re.findall(TOKEN, text.lower()) if w not in CHATTER]
        if call not in chosen and len(said) >= REASON_WORDS:
            chosen[call] = row
    return np.array([chosen.get(call, row) == row for row, call in enumerate(call_ids.tolist())], dtype=bool)


def _analyst_labels(con: duckdb.DuckDBPyConnection, ids: np.ndarray) -> dict[int, str]:
    """The labels analysts (or imports) gave these calls."""
    return dict(
        con.execute(
            "SELECT id, intent FROM calls WHERE id IN (SELECT unnest(?))"
            " AND intent_source IN ('analyst', 'import') AND intent IS NOT NULL",
            [ids.tolist()],
        ).fetchall()
    )


def _labels(
    given: dict[int, str], ids: np.ndarray, clusters: np.ndarray, names: dict[int, ClusterName]
) -> dict[int, str]:
    """A name per cluster: the analysts' label at least half its calls carry (a renamed intent),
    else its phrase; one call relabelled by hand names only that call."""
    chosen: dict[int, Counter] = {}
    for call_id, cluster in zip(ids.tolist(), clusters.tolist(), strict=True):
        if call_id in given:
            chosen.setdefault(cluster, Counter())[given[call_id]] += 1
    sizes = Counter(clusters.tolist())
    labels = {c: name.label for c, name in names.items()}
    for c, carried in chosen.items():
        label, n = carried.most_common(1)[0]
        if 2 * n >= sizes[c]:
            labels[c] = label
    return labels


# --- naming ------------------------------------------------------------------------------------
def name_clusters(
    texts: list[str],
    vectors: np.ndarray,
    clusters: np.ndarray,
    embedder: Embedder | None = None,
    reserved: Iterable[str] = (),
) -> dict[int, ClusterName]:
    """Name each cluster of utterances (`texts`, their `vectors`, the cluster of each): candidates
    are its top phrases by class TF-IDF over 1-3-grams without stop words, as said in the
    utterances; the label is the one nearest the centre of the cluster's larger half, weighted by
    how many utterances say it (2-4 words preferred), no two clusters (nor a `reserved` label) alike."""
    clusters = np.asarray(clusters)
    order = [c for c, _n in Counter(clusters.tolist()).most_common()]  # the biggest chooses first
    centres = {c: _main_centre(vectors[clusters == c]) for c in order}
    ranked = _ranked_phrases(texts, clusters, order)
    taken = {_words_key(label) for label in reserved}
    names = {}
    for c in order:
        members = np.flatnonzero(clusters == c)
        phrases = ranked[c]
        said = [texts[i] for i in members]
        scores = _closeness(phrases, centres[c], embedder, said, vectors[members]) * _spread(phrases, said)
        label = _pick(phrases, scores, taken) or _fallback(phrases, taken)
        taken.add(_words_key(label))
        nearest = members[int(np.argmax(vectors[members] @ centres[c]))]
        names[c] = ClusterName(label, tuple(phrases[:SHOWN_PHRASES]), texts[nearest])
    return names


def _main_centre(points: np.ndarray) -> np.ndarray:
    """Where most of a cluster's utterances are: the centre of the larger of its two halves (2-means),
    so that a cluster of two topics is named after the one more of its calls are about (a demo
    cluster of connection problems with a few app crashes was "app keeps crashing" by the plain
    centre). In a cluster of one topic the halves are alike."""
    if len(points) < 2 * MIN_CALLS:
        return _unit(points.mean(axis=0))
    halves = KMeans(n_clusters=2, n_init=3, random_state=0).fit_predict(points)
    larger = np.argmax(np.bincount(halves))
    return _unit(points[halves == larger].mean(axis=0))


def _ranked_phrases(texts: list[str], clusters: np.ndarray, order: list[int]) -> dict[int, list[str]]:
    """Each cluster's candidate phrases, best class TF-IDF first: BERTopic's weight, the n-gram's
    frequency in the cluster times log(1 + average words per cluster / its frequency in all)."""
    vectorizer = CountVectorizer(ngram_range=(1, 3), stop_words=sorted(CHATTER), token_pattern=TOKEN,
                                 min_df=2)  # fmt: skip
    try:
        found = vectorizer.fit_transform(texts)
    except ValueError:  # nothing but stop words, or nothing said twice
        return {c: [] for c in order}
    vocab = vectorizer.get_feature_names_out()
    member = np.array([clusters == c for c in order], dtype=float)
    counts = np.asarray((found.T @ member.T).T)
    support = np.asarray(((found > 0).astype(float).T @ member.T).T)  # utterances saying it
    weights = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    weights *= np.log(1 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1))
    distinct = weights.copy()
    if len(order) > 2:  # said across most clusters: it names none, unless nothing else does
        distinct[:, (support > 0).sum(axis=0) > len(order) / 2] = 0
    lengths = np.array([g.count(" ") + 1 for g in vocab])
    proper = _proper_nouns(texts)
    usable = np.array([_usable(g, proper) for g in vocab], dtype=bool)
    ranked = {}
    for row, c in enumerate(order):
        said = [texts[i] for i in np.flatnonzero(clusters == c)]
        ranked[c] = []
        enough = max(2, ceil(0.05 * len(said)))  # said by a few of its utterances; else by one
        for weight, least in ((distinct[row], enough), (weights[row], enough), (weights[row], 1)):
            fit = np.flatnonzero(usable & (weight > 0) & (support[row] >= least))
            fit = fit[np.argsort(-weight[fit], kind="stable")]
            best = np.concatenate([fit[lengths[fit] == n][:PHRASES_PER_LENGTH] for n in (1, 2, 3)])
            best = best[np.argsort(-weight[best], kind="stable")]
            ranked[c] = list(dict.fromkeys(p for i in best if (p := _as_said(vocab[i], said))))
            if ranked[c]:
                break
    return ranked


def _usable(ngram: str, proper: set[str]) -> bool:
    words = ngram.split()
    stems = [stem(w) for w in words]
    return not (set(words) & proper or len(set(stems)) < len(stems) or ngram in PARTICLES)


def _proper_nouns(texts: list[str]) -> set[str]:
    """Words written capitalised inside sentences more often than not: names, months, places."""
    upper, lower = Counter(), Counter()
    for text in texts:
        for m in re.finditer(r"(?<![.!?:]\s)(?<!^)\b([A-Za-z][a-z]+)\b", text.strip()):
            (upper if m.group(1)[0].isupper() else lower)[m.group(1).lower()] += 1
    return {w for w, n in upper.items() if n > lower[w]}


def _as_said(ngram: str, texts: list[str]) -> str | None:
    """The n-gram as the customers said it, with the stop words between its words ("signal drops
    home" -> "signal drops at home"): the commonest such span within one clause, else None."""
    gap = r"(?:[\s/-]+[\w']+){0,2}?[\s/-]+"
    pattern = re.compile(r"\b" + gap.join(re.escape(w) for w in ngram.split()) + r"\b", re.IGNORECASE)
    spans = Counter(" ".join(m.group(0).lower().split()) for t in texts for m in pattern.finditer(t))
    for span, _n in spans.most_common():
        words = span.split()
        content = [w for w in re.findall(TOKEN, span) if w not in CHATTER]
        if len(words) <= MAX_LABEL_WORDS and not CONNECTORS & set(words) and " ".join(content) == ngram:
            return span  # only stop words between the n-gram's words
    return None


def _closeness(phrases: list[str], centre: np.ndarray, embedder: Embedder | None, texts: list[str],
               vectors: np.ndarray) -> np.ndarray:  # fmt: skip
    """Cosine of each phrase to the cluster's centre: the phrase embedded, or without an embedder
    (or one of another size) the mean of the utterances that say it."""
    if not phrases:
        return np.zeros(0)
    if embedder is not None:
        placed = embedder.encode(phrases)
        if placed.shape[1] == len(centre):
            return _unit(placed) @ centre
    lowered = [t.lower() for t in texts]
    placed = np.stack([vectors[[i for i, t in enumerate(lowered) if p in t] or [0]].mean(axis=0)
                       for p in phrases])  # fmt: skip
    return _unit(placed) @ centre


def _spread(phrases: list[str], texts: list[str]) -> np.ndarray:
    """How widely each phrase is said: the utterances of `texts` that say it over the most that say
    a phrase of as many words, to the power SPREAD. With the larger half's centre it names a cluster
    of two topics after the one more of its calls are about."""
    lowered = [t.lower() for t in texts]
    said = np.array([sum(p.lower() in t for t in lowered) for p in phrases], dtype=float)
    sizes = np.array([len(p.split()) for p in phrases])
    widest = np.array([said[sizes == n].max() for n in sizes])  # among phrases as long: a word is
    return (said / np.maximum(widest, 1)) ** SPREAD  # inside every phrase that holds it


def _pick(phrases: list[str], scores: np.ndarray, taken: set) -> str | None:
    """The best-scored phrase (near the centre, said widely), 2-4 words preferred, that no other
    cluster has."""
    sized = np.array([len(p.split()) in PREFERRED_WORDS for p in phrases], dtype=bool)
    preferred = np.where(sized, scores, scores - (1 - PREFER) * np.abs(scores))
    for i in np.argsort(-preferred, kind="stable"):
        if _words_key(phrases[i]) not in taken:
            return phrases[i]
    return None


def _fallback(phrases: list[str], taken: set) -> str:
    base = phrases[0] if phrases else "general"
    label, n = base, 1
    while _words_key(label) in taken:
        n += 1
        label = f"{base} ({n})"
    return label


def _words_key(label: str) -> frozenset[str]:
    """Labels with the same words name the same thing ("cancel contract", "contract cancel")."""
    words = frozenset(stem(w) for w in re.findall(r"[a-z0-9]+", label.lower()) if w not in CHATTER)
    return words or frozenset([label.lower()])


# --- listing and editing -------------------------------------------------------------------------
def list_intents(ctx: Context, con: duckdb.DuckDBPyConnection, project: str | None = None) -> list[dict]:
    """Intents of the organisation's calls with their call counts, where the label came from and,
    for a clustered intent, its phrases and the utterance nearest its centre."""
    ctx.require("calls:read")
    project_id = projects.project_id_of(ctx, con, project)
    rows = con.execute(
        "SELECT c.intent, max(c.intent_source), count(*), any_value(i.phrases), any_value(i.representative)"
        " FROM calls c JOIN projects p ON p.id = c.project_id"
        " LEFT JOIN intents i ON i.project_id = c.project_id AND i.label = c.intent"
        " WHERE p.org_id = ? AND (?::INTEGER IS NULL OR p.id = ?) AND c.intent IS NOT NULL"
        " GROUP BY c.intent ORDER BY count(*) DESC, c.intent",
        [ctx.org_id, project_id, project_id],
    ).fetchall()
    return [
        {"intent": label, "source": source, "calls": n, "phrases": json.loads(phrases) if phrases else [],
         "representative": representative}
        for label, source, n, phrases, representative in rows
    ]


def examples(ctx: Context, con: duckdb.DuckDBPyConnection, project: str, intent: str
             ) -> tuple[int, list[str], list[str]]:
    """What names `intent` of `project`: the project's id, the intent's phrases (from its last
    clustering; none for a label an import or an analyst gave) and what customers said first in up
    to 8 of its calls, the utterance nearest the cluster's centre first."""
    ctx.require("calls:import")
    project_id = projects.project_id_of(ctx, con, project)
    if project_id is None:
        raise InvalidInput("Choose the project whose intent to name.")
    named = con.execute("SELECT phrases, representative FROM intents WHERE project_id = ? AND label = ?",
                        [project_id, intent]).fetchone()
    said = [r[0] for r in con.execute(
        "SELECT u.content FROM utterances u JOIN calls c ON c.id = u.call_id"
        " WHERE c.project_id = ? AND c.intent = ? AND u.role = 'customer' AND u.content <> ''"
        " QUALIFY row_number() OVER (PARTITION BY u.call_id ORDER BY u.utterance_index) = 1"
        " ORDER BY c.started_at DESC, u.id LIMIT 8",
        [project_id, intent],
    ).fetchall()]
    if not said:
        raise NotFound(f"No call in {project} has the intent {intent!r}.")
    if named is None:
        return project_id, [], said
    return project_id, json.loads(named[0]), [named[1], *(s for s in said if s != named[1])]


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
    # its phrases and example stay with it (a rename onto another intent's name merges the two calls'
    # lists; the first row's description is shown until the next clustering rewrites them)
    con.execute("UPDATE intents SET label = ? WHERE project_id = ? AND label = ?",
                [_label(new), project_id, old])
    return changed


def set_call_intent(ctx: Context, con: duckdb.DuckDBPyConnection, call_uuid: str, intent: str) -> None:
    """Set one call's intent by hand."""
    ctx.require("calls:import")
    call_id = call_browse.call_id_of(ctx, con, call_uuid)
    con.execute(
        "UPDATE calls SET intent = ?, intent_source = 'analyst' WHERE id = ?", [_label(intent), call_id]
    )
