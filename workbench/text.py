"""Text helpers shared by the areas: the one sentence splitter, the one stemmer, content words and
template variables. The chat's extractive answers and grounding, the documents' summaries and the
test embedder all read text through these, so they agree on what a sentence and a word are."""

from __future__ import annotations

import re
import string


def variables(text: str) -> list[str]:
    """The {names} a template uses."""
    return sorted({name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name})


STOPWORDS = frozenset(
    "a an and are as at be by can could do does did for from has have how i if in is it its me my of on "
    "or our should so than that the their them then there these they this to was we were what when where "
    "which who why will with would you your yours not no any all about into may might must also more most "
    "get got been being over under after before than per each other some such only own same too very just "
    "tell please know want need".split()
)
# a sentence ends at . ! or ? before a capital, a digit or a quote; paragraphs and list items end one too
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n{2,}|\n(?=[-*#] )")
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def content_words(text: str) -> set[str]:
    """Lower-case words of `text` that carry meaning, with a light plural/verb stem."""
    return {stem(w) for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


def stem(word: str) -> str:
    """A light plural/verb stem: "policies" -> "policy", "refunds" -> "refund", "billed" -> "bill"."""
    for suffix in ("ies", "es", "s", "ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def without(text: str, words: frozenset[str]) -> str:
    """`text` with the words whose stem is in `words` taken out ("the Brannock newt lays eggs" without
    {"brannock", "newt"}: "the lays eggs"): what a question asks once the subject it names is set aside."""
    return re.sub(r"[A-Za-z0-9']+", lambda m: "" if stem(m.group(0).lower()) in words else m.group(0), text)


def sentences(text: str) -> list[str]:
    """Sentences of a passage, markdown markers and line breaks tidied."""
    out = []
    for part in SENTENCE.split(text):
        part = re.sub(r"^[#>*\-\s]+", "", part.strip())
        part = re.sub(r"\s+", " ", part)
        if len(part) >= 12 and re.search(r"[A-Za-z]", part):
            out.append(part)
    return out


NAME_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
NAME_LINKS = frozenset({"of", "de", "la", "von", "van", "the", "and"})


def nameless(question: str, subject: str = "") -> str:
    """The question without the names in it (capitalised words after the first, and the small words
    joining two of them: "the River of Lys"), to compare what is asked rather than whom it is about;
    the question itself when fewer than two words would be left.

    `subject`: the title of the document the question seems to be about ("Vellan bog primrose:
    Taxonomy"). When the question names it (a name taken out is a word of the title before its
    colon), the rest of that part goes too: "What is the closest relative of the Vellan bog
    primrose?" asks "What is the closest relative of the", not about bogs."""
    words = NAME_WORD.findall(question)
    kept: list[str | None] = []
    for i, word in enumerate(words):
        named = i > 0 and word[0].isupper() and word != "I"
        joins = (word.lower() in NAME_LINKS and kept and kept[-1] is None and i + 1 < len(words)
                 and words[i + 1][0].isupper())
        kept.append(None if named or joins else word)
    left = [w for w in kept if w]
    if len(left) == len(words) or len(left) < 2:
        return question
    named = {stem(w.lower()) for w, k in zip(words, kept, strict=True) if k is None}
    about = {stem(w.lower()) for w in NAME_WORD.findall(subject.split(":")[0])}
    if named & about:
        rest = [w for w in left if stem(w.lower()) not in about]
        left = rest if len(rest) >= 2 else left
    return " ".join(left)
