"""Chunking: prose split at paragraph then sentence boundaries (seed 004: 1000 characters, 200
overlap), each chunk keeping its page and section heading; code split on function and class
boundaries where the language allows, else by lines, keeping the line range."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from workbench.documents.parsing import Page

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
NEXT_HEADING = re.compile(r"\n(?=#{1,6}\s)")
SENTENCE_END = re.compile(r"[.!?][\"')\]]?\s")
# A boundary line that opens a top-level definition, for languages without a parser here.
CODE_BOUNDARY = re.compile(
    r"^(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:function\*?|class|interface|enum|type)\s+\w"
    r"|^(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?(?:fn|struct|enum|impl|trait|mod)\b"
    r"|^func\s"
    r"|^(?:public|private|protected|internal|static|final|abstract|sealed)\b.*[({]?\s*$"
    r"|^(?:def|class|module|sub)\s+\w"
)
LANGUAGES = {
    ".py": "python",
    ".js": "javascript",
    ".jsx": "javascript",
    ".mjs": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".scala": "scala",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".swift": "swift",
    ".sh": "shell",
    ".sql": "sql",
    ".r": "r",
    ".pl": "perl",
    ".lua": "lua",
    ".md": "markdown",
    ".rst": "rst",
    ".txt": "text",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".cfg": "ini",
    ".ini": "ini",
    ".html": "html",
    ".css": "css",
}


@dataclass(frozen=True)
class Chunk:
    """One piece of a document or code file, ready to embed."""

    index: int
    text: str
    page_number: int | None = None
    section: str | None = None
    start_line: int | None = None
    end_line: int | None = None


def split_spans(text: str, size: int = 1000, overlap: int = 200) -> list[tuple[int, int]]:
    """(start, end) offsets of windows of at most `size` characters, cut at the best boundary."""
    if size <= 0 or not 0 <= overlap < size:
        raise ValueError("chunk size must be positive and overlap smaller than it")
    spans: list[tuple[int, int]] = []
    start, n = _skip_space(text, 0), len(text)
    while start < n:
        heading = None if n - start <= size else _heading_break(text, start, start + size)
        end = n if n - start <= size else heading or _best_break(text, start, start + size)
        spans.append((start, _trim_end(text, start, end)))
        if end >= n:
            break
        # a new section starts clean: overlap only carries context across cuts inside a section
        start = _skip_space(text, end if heading else _overlap_start(text, start, end, overlap))
    return spans


def _heading_break(text: str, start: int, limit: int) -> int | None:
    """The start of the last heading in the window's second half or more, so chunks keep to one
    section; None when there is none (short sections merge with the next)."""
    floor = start + (limit - start) // 4
    starts = [m.start() + 1 for m in NEXT_HEADING.finditer(text, floor, limit)]
    return starts[-1] if starts else None


def _best_break(text: str, start: int, limit: int) -> int:
    """The end of the window: a paragraph break, else a sentence end, a line, a space, else hard."""
    floor = start + (limit - start) // 2  # never cut a chunk shorter than half the size
    window = text[floor:limit]
    cut = window.rfind("\n\n")
    if cut >= 0:
        return floor + cut + 2
    ends = [m.end() for m in SENTENCE_END.finditer(window)]
    if ends:
        return floor + ends[-1]
    for sep in ("\n", " "):
        cut = window.rfind(sep)
        if cut >= 0:
            return floor + cut + 1
    return limit


def _overlap_start(text: str, start: int, end: int, overlap: int) -> int:
    """Where the next window starts: `overlap` characters back, moved to a sentence or word start."""
    if overlap == 0:
        return end
    back = max(end - overlap, start + 1)
    region = text[back:end]
    sentence = SENTENCE_END.search(region)
    if sentence and sentence.end() < len(region):
        return back + sentence.end()
    space = region.find(" ")
    return back + space + 1 if 0 <= space < len(region) - 1 else back


def _skip_space(text: str, i: int) -> int:
    while i < len(text) and text[i].isspace():
        i += 1
    return i


def _trim_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def chunk_pages(pages: list[Page], size: int = 1000, overlap: int = 200) -> list[Chunk]:
    """Chunks of a parsed document, each with its page number and the heading in effect."""
    chunks: list[Chunk] = []
    section: str | None = None
    for page in pages:
        headings = [(m.start(), m.group(2).strip()) for m in HEADING.finditer(page.text)]
        for start, end in split_spans(page.text, size, overlap):
            section = _heading_at(headings, start, section)
            chunks.append(Chunk(len(chunks), page.text[start:end], page.number, section))
        if headings:
            section = headings[-1][1]
    return chunks


def _heading_at(headings: list[tuple[int, str]], offset: int, current: str | None) -> str | None:
    """The last heading at or before `offset`; the first one inside the chunk if none precedes it."""
    before = [title for pos, title in headings if pos <= offset]
    if before:
        return before[-1]
    return current if current is not None or not headings else headings[0][1]


def language_for(path: str) -> str | None:
    """Language of a source file from its extension; None if not indexed as code."""
    dot = path.rfind(".")
    return LANGUAGES.get(path[dot:].lower()) if dot >= 0 else None


def chunk_code(source: str, path: str, size: int = 1000, overlap_lines: int = 3) -> list[Chunk]:
    """Chunks of a source file on definition boundaries, each with its 1-based line range."""
    lines = source.splitlines()
    if not lines:
        return []
    units = _python_units(source) if language_for(path) == "python" else None
    if units is None:
        units = _boundary_units(lines)
    pieces: list[tuple[int, int, str | None]] = []
    for first, last, name in _merge_small(units, lines, size):
        pieces.extend(_split_lines(lines, first, last, name, size, overlap_lines))
    return [
        Chunk(i, "\n".join(lines[a - 1 : b]), None, name or path, a, b)
        for i, (a, b, name) in enumerate(pieces)
    ]


def _python_units(source: str) -> list[tuple[int, int, str | None]] | None:
    """Top-level statements as (first line, last line, name); None if the file does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    units = []
    for node in tree.body:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        name = None
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"def {node.name}"
        elif isinstance(node, ast.ClassDef):
            name = f"class {node.name}"
        units.append((first, node.end_lineno or node.lineno, name))
    if not units:  # only comments: split by lines, or their text would be lost
        return None
    if units[0][0] > 1:  # leading comments and docstring lines before the first node
        units.insert(0, (1, units[0][0] - 1, None))
    return _cover_gaps(units)


def _boundary_units(lines: list[str]) -> list[tuple[int, int, str | None]]:
    """Segments starting at top-level definition lines (regex), covering every line."""
    starts = [i + 1 for i, line in enumerate(lines) if CODE_BOUNDARY.match(line)]
    if not starts or starts[0] != 1:
        starts.insert(0, 1)
    units = []
    for a, b in zip(starts, starts[1:] + [len(lines) + 1], strict=True):
        head = lines[a - 1].strip()
        name = head[:80] if CODE_BOUNDARY.match(lines[a - 1]) else None
        units.append((a, b - 1, name))
    return units


def _cover_gaps(units: list[tuple[int, int, str | None]]) -> list[tuple[int, int, str | None]]:
    """Extend each unit to the line before the next, so blank lines and comments are kept."""
    return [
        (a, (units[i + 1][0] - 1) if i + 1 < len(units) else b, name) for i, (a, b, name) in enumerate(units)
    ]


def _merge_small(
    units: list[tuple[int, int, str | None]], lines: list[str], size: int
) -> list[tuple[int, int, str | None]]:
    """Join neighbouring small units (imports, constants, short functions) up to `size` characters."""
    merged: list[tuple[int, int, str | None]] = []
    for a, b, name in units:
        if merged:
            pa, pb, pname = merged[-1]
            if _length(lines, pa, b) <= size:
                merged[-1] = (pa, b, ", ".join(filter(None, (pname, name)))[:200] or None)
                continue
        merged.append((a, b, name))
    return merged


def _split_lines(
    lines: list[str], first: int, last: int, name: str | None, size: int, overlap_lines: int
) -> list[tuple[int, int, str | None]]:
    """Windows of whole lines of at most `size` characters (a longer single line stays whole)."""
    out, a = [], first
    while a <= last:
        b, length = a, len(lines[a - 1])
        while b < last and length + len(lines[b]) + 1 <= size:
            length += len(lines[b]) + 1
            b += 1
        out.append((a, b, name))
        if b >= last:
            break
        a = max(b + 1 - overlap_lines, a + 1)
    return out


def _length(lines: list[str], first: int, last: int) -> int:
    return sum(len(line) + 1 for line in lines[first - 1 : last])
