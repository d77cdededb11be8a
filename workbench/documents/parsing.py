"""Turn uploaded bytes (txt, markdown, PDF, Word, HTML, CSV) into text pages that keep their headings."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import docx
from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.element import PreformattedString
from docx.document import Document as WordDocument
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf import PageObject, PasswordType, PdfReader
from pypdf.generic import NameObject

from workbench.errors import InvalidInput

SUPPORTED_TYPES: dict[str, str] = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
    ".csv": "csv",
}

_MIME_TYPES: dict[str, str] = {
    "text": "text/plain",
    "markdown": "text/markdown",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "html": "text/html",
    "csv": "text/csv",
}

# Share of control characters above which "text" is treated as binary data.
_MAX_CONTROL_SHARE = 0.01
# Unicode control characters except tab, newline, vertical tab, form feed and carriage return.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# A .docx is a zip: python-docx inflates every part into memory and parses its XML, so a small file
# that unpacks to gigabytes (a zip bomb) is refused from the sizes its zip directory declares, after
# checking, in bounded steps, that no part inflates to more than it declares (zipfile would inflate a
# lying part whole before cutting it to the declared size).
DOCX_MAX_UNPACKED_MB = 200  # all parts, pictures included
DOCX_MAX_XML_MB = 50  # the XML parts (document.xml of a 1,000-page manual is about 10 MB)
# What one document may decode to. Counted while it decodes (page by page, paragraph by paragraph,
# row by row) so that a small file that expands hugely is refused at the limit, not after.
MAX_CHARS = 5_000_000  # about 2,000 pages of dense manual text
MAX_PAGES = 2_000
# A PDF's page content (its text and drawing operators) unpacks to a few times the file's size; a few
# KB that unpack to megabytes is a PDF bomb, refused before pypdf parses it (about 2.5 MB a second).
PDF_MAX_INFLATION = 100  # times the file's size ...
PDF_MIN_CONTENT_MB = 2  # ... or this many MB, whichever is more
_HEADING_STYLE = re.compile(r"^heading ([1-9])$", re.IGNORECASE)
_HTML_DROPPED = frozenset({"script", "style", "nav", "head", "title", "noscript", "template"})
_HTML_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_HTML_PARAGRAPHS = frozenset({"p", "ul", "ol", "table", "blockquote", "section", "article", "header",
                              "footer", "main", "aside", "figure", "form", "hr", "dl"})
_HTML_LINES = frozenset({"li", "tr", "td", "th", "div", "dt", "dd", "caption", "figcaption", "address"})


@dataclass(frozen=True)
class Page:
    """One page of extracted text; `number` is 1-based for PDFs and None for formats without pages."""

    number: int | None
    text: str


@dataclass(frozen=True)
class ParsedDocument:
    """The text of an uploaded document, split into pages, with its type and title."""

    content_type: str
    mime_type: str
    title: str | None
    pages: list[Page]

    @property
    def text(self) -> str:
        """All pages joined with blank lines."""
        return "\n\n".join(page.text for page in self.pages if page.text)

    @property
    def num_pages(self) -> int | None:
        """The number of pages for a PDF; None for formats without pages."""
        return len(self.pages) if self.content_type == "pdf" else None


def content_type_for(filename: str) -> str:
    """The content type for a file name's extension; InvalidInput if the type is not supported."""
    extension = os.path.splitext(filename)[1].lower()
    if extension in SUPPORTED_TYPES:
        return SUPPORTED_TYPES[extension]
    described = f"'{extension}'" if extension else "(no extension)"
    supported = ", ".join(sorted(SUPPORTED_TYPES))
    raise InvalidInput(f"{filename}: unsupported file type {described}; supported: {supported}")


def parse_document(data: bytes, filename: str) -> ParsedDocument:
    """Extract the text, pages and title of an uploaded file; the name is used for its extension only."""
    content_type = content_type_for(filename)
    if not data:
        raise InvalidInput(f"{filename}: the file is empty; check you picked the right file")
    title, pages = _PARSERS[content_type](data, filename, _Budget(filename))
    if not any(page.text.strip() for page in pages):
        raise InvalidInput(f"{filename}: no text found; check the file has text in it")
    return ParsedDocument(content_type, _MIME_TYPES[content_type], title, pages)


class _Budget:
    """The characters a document has decoded so far; passing MAX_CHARS refuses it."""

    def __init__(self, filename: str) -> None:
        self.filename, self.used = filename, 0

    def add(self, count: int, where: str | None = None) -> None:
        self.used += count
        if self.used > MAX_CHARS:
            raise self.refusal(where)

    def refusal(self, where: str | None = None) -> InvalidInput:
        stopped = f" (stopped reading at {where})" if where else ""
        return InvalidInput(f"{self.filename}: decodes to more than {MAX_CHARS:,} characters of text, the "
                            f"limit for one document{stopped}; split it into smaller files and upload those")


def _decode_text(data: bytes, filename: str) -> str:
    """Decode text bytes (UTF-8, UTF-16 with BOM, else cp1252) with newlines normalised to \\n."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = _decode_or_binary(data, "utf-16", filename)
    elif b"\x00" in data:
        raise _binary(filename)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Not UTF-8: most such uploads are Windows-saved text.
            text = data.decode("cp1252", errors="replace")
    if "\x00" in text or _control_share(text) > _MAX_CONTROL_SHARE:
        raise _binary(filename)
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode_or_binary(data: bytes, encoding: str, filename: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _binary(filename) from exc


def _control_share(text: str) -> float:
    return len(_CONTROL_CHARS.findall(text)) / max(len(text), 1)


def _binary(filename: str) -> InvalidInput:
    return InvalidInput(f"{filename}: looks like binary data, not text; "
                        "check the file type, or save it as plain text and upload again")


def _single_page(text: str) -> list[Page]:
    return [Page(None, text.strip())]


# --- text and markdown ---------------------------------------------------------------------------

def _parse_text(data: bytes, filename: str, budget: _Budget) -> tuple[str | None, list[Page]]:
    text = _decode_text(data, filename)
    budget.add(len(text))
    return None, _single_page(text)


def _parse_markdown(data: bytes, filename: str, budget: _Budget) -> tuple[str | None, list[Page]]:
    text = _decode_text(data, filename)
    budget.add(len(text))
    return _markdown_title(text), _single_page(text)


def _markdown_title(text: str) -> str | None:
    """The first '# ' heading outside code fences, or None."""
    in_fence = False
    for line in text.split("\n"):
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
        elif not in_fence and line.startswith("# ") and line[2:].strip():
            return line[2:].strip().rstrip("#").strip() or None
    return None


# --- HTML ----------------------------------------------------------------------------------------

def _parse_html(data: bytes, filename: str, budget: _Budget) -> tuple[str | None, list[Page]]:
    soup = BeautifulSoup(_decode_text(data, filename), "html.parser")
    title = _collapse(soup.title.get_text()) if soup.title else ""
    return title or None, _single_page(_html_to_text(soup, budget))


def _html_to_text(soup: BeautifulSoup | Tag, budget: _Budget) -> str:
    """Readable text with h1-h6 as '#' lines and blocks as line or paragraph breaks."""
    parts: list[str | int] = []
    _html_parts(soup, parts, budget)
    lines = [line.rstrip() for line in _join_html_parts(parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _html_parts(node: Tag, parts: list[str | int], budget: _Budget) -> None:
    """Append text pieces and break requests (1 = new line, 2 = new paragraph) in document order.
    Walks with its own stack, not recursion: hostile HTML nests tags thousands deep."""
    # Each open element: its children still to visit, and what closing it does (a break, or a
    # heading made of the parts its children added since `start`).
    stack: list[tuple[Iterator, int | None, tuple[int, int] | None]] = [(iter(node.children), None, None)]
    headings_open = 0  # a heading inside a heading is only text of the outer one
    while stack:
        children, brk, heading = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if heading is not None:
                headings_open -= 1
                level, start = heading
                text = _collapse("".join(part for part in parts[start:] if isinstance(part, str)))
                del parts[start:]
                if text:
                    parts.extend([2, f"{'#' * level} {text}", 2])
            elif brk is not None:
                parts.append(brk)
            continue
        if isinstance(child, PreformattedString):  # comments, doctype, CDATA
            continue
        if isinstance(child, NavigableString):
            parts.append(re.sub(r"\s+", " ", str(child)))
            budget.add(len(parts[-1]))
        elif not isinstance(child, Tag) or child.name in _HTML_DROPPED:
            continue
        elif child.name in _HTML_HEADINGS and not headings_open:
            headings_open += 1
            stack.append((iter(child.children), None, (_HTML_HEADINGS[child.name], len(parts))))
        elif child.name in _HTML_HEADINGS:
            stack.append((iter(child.children), None, None))
        elif child.name == "br":
            parts.append(-1)
        elif child.name == "pre":
            # Inside <pre> the line breaks are the content, so they are kept as written.
            parts.extend([2, child.get_text(), 2])
            budget.add(len(parts[-2]))
        else:
            brk = 2 if child.name in _HTML_PARAGRAPHS else 1 if child.name in _HTML_LINES else 0
            parts.append(brk)
            stack.append((iter(child.children), brk, None))


def _join_html_parts(parts: list[str | int]) -> str:
    out: list[str] = []
    pending = 0
    for part in parts:
        if isinstance(part, int):
            # Block edges merge (</li><li> is one line break); each <br> adds one, up to a paragraph.
            pending = min(pending + 1, 2) if part < 0 else max(pending, part)
        elif pending and not part.strip():
            continue
        elif pending:
            out.extend(["\n" * pending if out else "", part.lstrip()])
            pending = 0
        else:
            out.append(part)
    return "".join(out)


def _collapse(text: str) -> str:
    return " ".join(text.split())


# --- CSV -----------------------------------------------------------------------------------------

def _parse_csv(data: bytes, filename: str, budget: _Budget) -> tuple[str | None, list[Page]]:
    return None, _single_page(_csv_to_text(_decode_text(data, filename), filename, budget))


def _csv_to_text(text: str, filename: str, budget: _Budget) -> str:
    """'Columns: a, b' then one 'a: 1; b: 2' line per data row (each repeats the column names, so a
    small file can make much text: counted row by row)."""
    try:
        rows = list(csv.reader(io.StringIO(text), _sniff_dialect(text)))
    except csv.Error as exc:
        raise InvalidInput(f"{filename}: not a readable CSV file ({exc}); check the quoting and save "
                           "it again as CSV") from exc
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return ""
    header = [name.strip() or f"column {i}" for i, name in enumerate(rows[0], start=1)]
    lines = ["Columns: " + ", ".join(header)]
    budget.add(len(lines[0]) + 1)
    for row in rows[1:]:
        names = header + [f"column {i}" for i in range(len(header) + 1, len(row) + 1)]
        # Empty cells are left out: "notes: " on every row only adds noise for search.
        pairs = [f"{name}: {value.strip()}" for name, value in zip(names, row, strict=False) if value.strip()]
        lines.append("; ".join(pairs))
        budget.add(len(lines[-1]) + 1, f"row {len(lines)}")
    return "\n".join(lines)


def _sniff_dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
    except csv.Error:
        return csv.excel


# --- Word ----------------------------------------------------------------------------------------

def _parse_docx(data: bytes, filename: str, budget: _Budget) -> tuple[str | None, list[Page]]:
    _check_docx_size(data, filename)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = []
        for block in _docx_blocks(document):
            blocks.append(block)
            budget.add(len(block) + 2, f"paragraph {len(blocks)}")
        title = _collapse(document.core_properties.title or "")
    except InvalidInput:
        raise
    except Exception as exc:  # python-docx raises zip, XML, key and value errors for damaged files
        raise InvalidInput(f"{filename}: not a readable Word .docx file; open it in Word and save it "
                           "again as .docx (old .doc files must be converted)") from exc
    return title or None, _single_page("\n\n".join(blocks))


def _check_docx_size(data: bytes, filename: str) -> None:
    """Refuse a .docx whose parts would unpack to more than the limits, before python-docx inflates any."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, struct.error):
        return  # not a zip at all: python-docx says the file is not readable
    total = sum(p.file_size for p in parts)
    xml = sum(p.file_size for p in parts if p.filename.lower().endswith((".xml", ".rels")))
    if total > DOCX_MAX_UNPACKED_MB * 2**20 or xml > DOCX_MAX_XML_MB * 2**20:
        raise InvalidInput(
            f"{filename}: unpacked, this Word file would be {total / 2**20:,.0f} MB ({xml / 2**20:,.0f} MB "
            f"of XML) from {len(data) / 2**20:,.1f} MB; the limits are {DOCX_MAX_UNPACKED_MB} MB and "
            f"{DOCX_MAX_XML_MB} MB of XML. It may be a zip bomb; save it again from Word, or split it."
        )
    packed = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
    lying = next((p for p in parts if p.compress_type not in packed or _inflates_beyond(data, p)), None)
    if lying is not None:
        raise InvalidInput(
            f"{filename}: the part {lying.filename[:80]!r} unpacks to more than the file declares, or is"
            " packed in a way Word does not use (a zip bomb?); save it again from Word as .docx"
        )


def _inflates_beyond(data: bytes, part: zipfile.ZipInfo) -> bool:
    """Whether a deflated part inflates to more than its declared size: inflated 1 MB at a time,
    stopping just past the declared size, so a lying part costs no more memory than an honest one."""
    if part.compress_type != zipfile.ZIP_DEFLATED:
        return False
    try:
        name_length, extra_length = struct.unpack_from("<HH", data, part.header_offset + 26)
    except struct.error:
        return True
    start = part.header_offset + 30 + name_length + extra_length
    pending, inflater, size = data[start : start + part.compress_size], zlib.decompressobj(-15), 0
    try:
        while pending and size <= part.file_size and not inflater.eof:
            size += len(inflater.decompress(pending, 2**20))
            pending = inflater.unconsumed_tail
    except zlib.error:
        return False  # damaged, not oversized: python-docx refuses it as unreadable
    return size > part.file_size


def _docx_blocks(document: WordDocument) -> Iterator[str]:
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            text = item.text.strip()
            if text:
                level = _heading_level(item)
                yield f"{'#' * level} {_collapse(text)}" if level else text
        elif isinstance(item, Table):
            rows = _docx_table_rows(item)
            if rows:
                yield "\n".join(rows)


def _heading_level(paragraph: Paragraph) -> int:
    name = paragraph.style.name if paragraph.style is not None else ""
    if name == "Title":
        return 1
    match = _HEADING_STYLE.match(name or "")
    return int(match.group(1)) if match else 0


def _docx_table_rows(table: Table) -> list[str]:
    rows = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            # A merged cell is returned once per grid column it spans; keep it once.
            if id(cell._tc) not in seen:
                seen.add(id(cell._tc))
                cells.append(_collapse(cell.text))
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


# --- PDF -----------------------------------------------------------------------------------------

def _parse_pdf(data: bytes, filename: str, budget: _Budget) -> tuple[str | None, list[Page]]:
    reader = _open_pdf(data, filename)
    try:
        if len(reader.pages) > MAX_PAGES:
            raise InvalidInput(f"{filename}: {len(reader.pages):,} pages; the limit is {MAX_PAGES:,} pages. "
                               "Split it into smaller PDFs and upload those")
        allowance, unpacked, texts = max(PDF_MIN_CONTENT_MB * 2**20, PDF_MAX_INFLATION * len(data)), 0, []
        for number, page in enumerate(reader.pages, start=1):
            unpacked += _content_size(page)
            if unpacked > allowance:
                raise _pdf_bomb(filename, len(data), unpacked, number)
            texts.append(_page_text(page, number, budget))
        title = _collapse(str(reader.metadata.title or "")) if reader.metadata else ""
    except InvalidInput:
        raise
    except Exception as exc:  # pypdf raises many kinds of errors for damaged content streams
        raise _unreadable_pdf(filename, exc) from exc
    if not texts:
        raise InvalidInput(f"{filename}: the PDF has no pages; check the file and export it again")
    if not any(texts):
        raise InvalidInput(f"{filename}: the PDF has no text layer (scanned images?); run OCR first")
    return title or None, [Page(number, text) for number, text in enumerate(texts, start=1)]


def _content_size(page: PageObject) -> int:
    """Bytes of the page's content stream(s), unpacked (pypdf caps each stream at 75 MB)."""
    contents = page.get_contents()
    return len(contents.get_data()) if contents is not None else 0


def _pdf_bomb(filename: str, size: int, unpacked: int, number: int) -> InvalidInput:
    return InvalidInput(
        f"{filename}: by page {number} its content unpacks to {unpacked / 2**20:,.1f} MB from a "
        f"{size / 1e3:,.0f} KB file, over the limit of {PDF_MAX_INFLATION} times the file's size (or "
        f"{PDF_MIN_CONTENT_MB} MB). It may be a PDF bomb; export it again as PDF, or split it"
    )


def _page_text(page: PageObject, number: int, budget: _Budget) -> str:
    """The page's text, counted into the budget while pypdf decodes it: one text object can show
    millions of characters, so pypdf is stopped at the limit instead of finishing the page."""
    counter = _PageCounter(budget)
    try:
        text = page.extract_text(visitor_operand_before=counter.operator, visitor_text=counter.text)
    except _LimitReached:
        raise budget.refusal(f"page {number}") from None
    if counter.stopped:  # pypdf caught the stop inside a form XObject at the end of the page
        raise budget.refusal(f"page {number}")
    text = (text or "").replace("\r\n", "\n").strip()
    budget.add(len(text), f"page {number}")
    return text


class _LimitReached(Exception):
    """Raised inside pypdf's extraction to stop it (turned into the budget's refusal)."""


class _PageCounter:
    """pypdf's visitors for one page: the characters it has written out, plus the bytes of the text
    operators it has read since (text it holds until the line ends)."""

    def __init__(self, budget: _Budget) -> None:
        self.budget, self.written, self.held, self.stopped = budget, 0, 0, False

    def operator(self, operator: bytes, operands: list, _cm, _tm) -> None:
        if self.stopped:  # pypdf caught the stop inside a form XObject: stop it again, a level up
            raise _LimitReached
        if operator in _SHOW_TEXT and operands:
            shown = operands[0] if operator == b"TJ" else operands[-1:]
            strings = (o for o in shown if isinstance(o, (str, bytes)) and not isinstance(o, NameObject))
            self.held += sum(len(o) for o in strings)
            self._check()

    def text(self, text: str, *_args) -> None:
        self.written, self.held = self.written + len(text), 0
        self._check()

    def _check(self) -> None:
        if self.budget.used + self.written + self.held > MAX_CHARS:
            self.stopped = True
            raise _LimitReached


_SHOW_TEXT = frozenset({b"Tj", b"TJ", b"'", b'"'})


def _open_pdf(data: bytes, filename: str) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:
        raise _unreadable_pdf(filename, exc) from exc
    if encrypted and not _decrypt_with_empty_password(reader):
        raise InvalidInput(f"{filename}: the PDF is encrypted; remove the password and upload again")
    return reader


def _decrypt_with_empty_password(reader: PdfReader) -> bool:
    # Many PDFs are encrypted only to restrict printing or editing and open without a password.
    try:
        return reader.decrypt("") != PasswordType.NOT_DECRYPTED
    except Exception:  # e.g. AES without a crypto library: as good as locked for us
        return False


def _unreadable_pdf(filename: str, exc: Exception) -> InvalidInput:
    detail = str(exc).strip() or type(exc).__name__
    return InvalidInput(f"{filename}: not a readable PDF ({detail[:120]}); export it again as PDF and "
                        "upload the new file")


_PARSERS = {
    "text": _parse_text,
    "markdown": _parse_markdown,
    "html": _parse_html,
    "csv": _parse_csv,
    "docx": _parse_docx,
    "pdf": _parse_pdf,
}
