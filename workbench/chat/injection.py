"""Prompt injection in retrieved text: passages that talk to the model instead of the reader.

The first defence is structural: sources reach the model as data inside <source> tags, under a system
prompt that says so, and `quote_source` makes sure no passage can close (or open) such a tag. The
second is this filter: text is normalised (Unicode NFKC, zero-width, control and combining characters
dropped, look-alike Cyrillic and Greek letters read as Latin, spaced-out letters joined, one space
between words) and checked against families of patterns. A flagged sentence is kept out of the prompt
and its source is marked (see `agents.passages_from`).

It is a filter of known phrasings, not a guarantee: a paraphrase it has no pattern for, another
language, an instruction spread over several sentences or chunks, or text hidden in an image still
gets through, and the structural defence is what is left then."""

from __future__ import annotations

import re
import unicodedata

# Cyrillic and Greek letters that look like Latin ones ("ignоre" with a Cyrillic o).
_LOOKALIKES = str.maketrans(
    "аеёіїјкорсухѕԁԛԝɡαοριυνκχεАВЕКМНОРСТХУІЈЅΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeeiijkopcyxsdqwgaopiuvkxeABEKMHOPCTXYIJSABEZHIKMNOPTYX",
)
_INVISIBLE = frozenset({"Cf", "Mn", "Me"})  # zero-width and bidi marks, soft hyphen, combining marks
_SPACED_LETTERS = re.compile(r"\b(?:[a-z][ .\-_]){2,}[a-z]\b")  # "i g n o r e", "i.g.n.o.r.e"

# --- the vocabulary --------------------------------------------------------------------------------
_AI = (
    r"(?:artificial intelligence|large language models?|language models?|llms?|chat ?bots?|chatgpt|"
    r"gpt(?:-?\d[\w.]*)?|claude|gemini|copilot|bard|llama|mistral|"
    r"(?:ai|virtual|digital) (?:assistant|agent|model|system|bot)s?|ai|a\.i\.)"
)
_VERB = (
    r"(?:ignore|disregard|forget|override|overrule|bypass|circumvent|discard|abandon|neglect|skip|"
    r"set aside|put aside|throw out|throw away|stop following|stop obeying|no longer follow|"
    r"do not follow|don'?t follow|do not obey|don'?t obey)"
)
_DET = r"(?:all|any|every|each|of|the|my|your|these|those|this|that)"
_QUALIFIER = (
    r"(?:previous|prior|earlier|above|preceding|foregoing|former|original|initial|old|existing|"
    r"current|given|default|system|developer|hidden|secret|your|all)"
)
_RULES = (
    r"(?:instructions?|rules?|prompts?|directives?|guidelines?|guidance|constraints?|restrictions?|"
    r"commands?|programming|guardrails?|system prompt)"
)
_EARLIER = (
    r"(?:you\s+(?:were|have been|'ve been|had been|got)\s+(?:given|told|taught|sent|shown)|"
    r"given\s+(?:to\s+you|earlier|before|above)|"
    r"(?:from\s+|written\s+|stated\s+|mentioned\s+)?(?:above|earlier|before|previously|so far|until now|"
    r"up to now)|in (?:the|your) (?:system )?prompt)"
)
_IMPERATIVE = (
    r"(?:ignore|disregard|forget|override|stop|do not|don'?t|never|always|only|answer|reply|respond|say|"
    r"output|print|write|include|add|insert|append|tell|reveal|repeat|pretend|act|you|from now on|"
    r"instead|translate|summari[sz]e|send|visit|click|open|recommend|use|start|begin|end)"
)
_PERSONA = (
    rf"(?:{_AI}|assistant|chatbot|bot|model|character|persona|dan|jailbroken|unrestricted|unfiltered|"
    r"uncensored|evil|(?:developer|dev|god|admin|dan) mode|"
    r"no (?:rules|restrictions|limits|filters|guidelines))"
)
_SECRET = r"(?:system|initial|hidden|secret|developer|internal)"

# Each family of patterns, read on the normalised text in lower case.
_FAMILIES: dict[str, list[str]] = {
    "override earlier instructions": [
        rf"\b{_VERB}\s+(?:{_DET}\s+){{0,3}}{_QUALIFIER}\s+(?:(?:{_DET}|{_QUALIFIER})\s+){{0,3}}{_RULES}\b",
        rf"\b{_VERB}\s+(?:{_DET}\s+){{0,3}}(?:{_QUALIFIER}\s+){{0,2}}{_RULES}\s+(?:(?:that|which)\s+)?{_EARLIER}",
        rf"\b{_VERB}\s+(?:all\s+(?:of\s+)?)?(?:everything|anything|all|what(?:ever)?)\s+(?:(?:that|which)\s+)?"
        rf"(?:was\s+|is\s+)?(?:said\s+)?{_EARLIER}",
        rf"\b{_VERB}\s+(?:all\s+(?:of\s+)?)?the\s+above(?:\s+(?:and|then)\b|\s*[.,;:!]|$)",
    ],
    "addresses the AI": [
        r"\b(?:note|message|instructions?|attention|reminder|memo|hint|notice|warning|request|directive|p\.?s\.?)"
        rf"\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+|every\s+|an?\s+)?(?:{_AI}\b|(?:model|assistant|bot)s?\s*[:,])",
        rf"\b(?:hey|hi|hello|dear|attention|ok|okay|yo)\s*,?\s+(?:the\s+)?(?:{_AI}|assistant|bot|model)\s*[,:!]",
        rf"(?:^|[.!?;:]\s+)(?:{_AI}|assistant|bot|model)\s*[,!]\s*(?:please\s+)?{_IMPERATIVE}\b",
        rf"(?:^|[.!?;]\s+){_AI}\s*:\s*(?:please\s+)?{_IMPERATIVE}\b",
        rf"\bif\s+you(?:'re|\s+are)\s+(?:an?\s+)?{_AI}\b",
        rf"\b(?:any|all|every|each|to the)\s+{_AI}s?\s+(?:reading|processing|parsing|summari[sz]ing|seeing|"
        r"ingesting|that reads|who reads)\b",
    ],
    "role play": [
        rf"\byou\s+are\s+now\s+(?:(?:a|an|the|my|in|called|named)\s+)?(?:\w+\s+){{0,2}}?{_PERSONA}\b",
        rf"\byou\s+are\s+no\s+longer\s+(?:an?\s+)?(?:{_AI}|assistant|bound|restricted|limited|"
        r"required to follow|subject to)\b",
        r"\b(?:pretend|imagine|act as if|behave as if|act as though)\s+(?:that\s+)?"
        rf"you(?:'re|\s+are|\s+were|\s+have)\s+(?:an?\s+|the\s+)?(?:\w+\s+){{0,2}}?{_PERSONA}\b",
        r"\b(?:act|roleplay|role-play|role play)\s+as\s+(?:an?\s+)?(?:\w+\s+){0,2}?"
        rf"(?:{_AI}|assistant|chatbot|bot|model)\s+(?:without|with no|that (?:has no|ignores)|free of)\b",
        r"\byour\s+new\s+(?:instructions|rules|persona|identity|purpose|prime directive|system prompt)"
        r"\s+(?:is|are)\b",
        r"\b(?:do anything now|dan mode)\b",
    ],
    "asks for the prompt": [
        r"\b(?:reveal|show|print|repeat|output|display|tell|give|share|leak|disclose|dump|recite|spell out|"
        r"write out|paste|return|list)\s+(?:me\s+|us\s+)?(?:(?:your|the|all|of|any|its|those|these)\s+){0,3}"
        rf"(?:(?:full|entire|exact|original)\s+)*(?:system\s+prompt|{_SECRET}\s+(?:prompts?|instructions?|"
        r"messages?|rules|guidelines|directives))\b",
        r"\b(?:reveal|disclose|leak|dump)\s+(?:your|the)\s+(?:\w+\s+)?(?:prompt|instructions)\b",
        rf"\bwhat\s+(?:is|are|were|was)\s+your\s+(?:{_SECRET}\s+(?:prompt|instructions|rules)|prompt)\b",
    ],
    "fake role marker": [
        r"<\|\s*[a-z_]{2,30}\s*\|>",  # <|im_start|>, <|system|>, <|eot_id|>
        r"\[/?inst\]|<</?sys>>",
        r"<[\s\\/]*(?:system|sys|source|instructions?)\b[^<>]{0,80}>",
    ],
}
# Read line by line: a role label opens its line ("system: you are ...", "### Instruction:").
_LINE_FAMILIES: dict[str, list[str]] = {
    "fake role marker": [
        r"^(?:#+\s*)?(?:system|developer|sys)(?:\s+(?:prompt|message|instructions?))?\s*:\s*(?:you|ignore|"
        r"disregard|forget|from now on|new|always|never|do not|don'?t|answer|reply|respond|only|act|pretend|"
        r"the (?:assistant|ai|model))\b",
        r"^#{1,6}\s*(?:system|instructions?|response)\s*:",
    ],
}
# Read with case kept: "answer only with PWNED" or a quoted word, not "reply only with the template".
_CASED_FAMILIES: dict[str, list[str]] = {
    "dictates the answer": [
        r"(?i:\b(?:answer|reply|respond|output|say|print|write|return)\s+(?:(?:only|just|solely|exclusively)\s+"
        r"(?:with|using)|with\s+(?:only|just))\s+(?:the\s+(?:word|phrase|text|string|token)s?\s+)?)"
        r"(?:[\"'“‘«`]|[A-Z0-9_-]{3,}\b)",
        r"(?i:\b(?:only|just)\s+(?:answer|reply|respond|output|say)\s+(?:with\s+)?)(?:[\"'“‘«`]|[A-Z0-9_-]{3,}\b)",
    ],
}


def _compile(families: dict[str, list[str]], flags: int = 0) -> list[tuple[str, re.Pattern]]:
    return [(name, re.compile(pattern, flags)) for name, patterns in families.items() for pattern in patterns]


_PATTERNS = _compile(_FAMILIES)
_LINE_PATTERNS = _compile(_LINE_FAMILIES, re.MULTILINE)
_CASED_PATTERNS = _compile(_CASED_FAMILIES)


def plain(text: str) -> str:
    """`text` in NFKC with zero-width, bidi and control characters (but tabs and line breaks) removed."""
    text = unicodedata.normalize("NFKC", text or "")
    return "".join(c for c in text if c in "\t\n" or unicodedata.category(c) not in ("Cf", "Cc"))


def _clean(text: str) -> str:
    """Compatibility forms folded, invisible and combining characters dropped, look-alikes as Latin;
    case and line breaks kept."""
    text = unicodedata.normalize("NFKD", text or "")
    kept = []
    for c in text:
        category = unicodedata.category(c)
        if c in "\t\n\r\x0b\x0c":
            kept.append("\n" if c in "\n\r\x0b\x0c" else " ")
        elif category not in _INVISIBLE and category != "Cc":
            kept.append(c)
    return unicodedata.normalize("NFKC", "".join(kept).translate(_LOOKALIKES))


def normalise(text: str) -> str:
    """Text as the filter reads it: cleaned (see the module), lower case, one space between words."""
    return " ".join(_clean(text).casefold().split())


def reason(text: str) -> str | None:
    """The family of patterns `text` matches ("addresses the AI", ...), or None."""
    cleaned = _clean(text)
    lines = "\n".join(" ".join(line.split()) for line in cleaned.casefold().splitlines())
    flat = " ".join(lines.split())
    joined = _SPACED_LETTERS.sub(_unspace, flat)
    readings = (flat, joined) if joined != flat else (flat,)
    for name, pattern in _PATTERNS:
        if any(pattern.search(reading) for reading in readings):
            return name
    for name, pattern in _LINE_PATTERNS:
        if pattern.search(lines):
            return name
    cased = " ".join(cleaned.split())
    return next((name for name, pattern in _CASED_PATTERNS if pattern.search(cased)), None)


def looks_like_injection(text: str) -> bool:
    """A passage that talks to the model instead of the reader."""
    return reason(text) is not None


def _unspace(match: re.Match) -> str:
    return re.sub(r"[ .\-_]", "", match.group(0))


# A "<" that would start a source tag (in any case or spacing) or a chat role token such as <|im_start|>.
_TAG_START = re.compile(r"<(?=[\s\\/]*source|\|)", re.IGNORECASE)


def quote_source(text: str) -> str:
    """A passage as the prompt quotes it inside <source> tags: `plain`, with every "<" that could open or
    close such a tag written as "&lt;", so the passage cannot end its tag and speak outside it.
    Escaping, not deleting: deleting "</source>" from "</sou</source>rce>" would make one."""
    return _TAG_START.sub("&lt;", plain(text))
