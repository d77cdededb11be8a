"""What every importer does first with the bytes of a user's file: its text (the encoding told by a
byte-order mark, else UTF-8, else Latin-1), its JSON (with a limit on nesting), and the separator
of a CSV's header. Problems are ValueErrors with a message for the user; each importer names the
file and says nothing was imported."""

from __future__ import annotations

import codecs
import json
from pathlib import PurePath

from workbench.errors import ImportReport

# Real files nest a few levels (a call's metadata, a usage object, a LiteLLM entry). A limit far
# below Python's recursion limit keeps json.loads, and the repr and json.dumps of what it returns,
# from raising RecursionError wherever the value travels next.
MAX_DEPTH = 100
BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's. UTF-8's mark is just dropped.
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
SEPARATORS = "\t;|"  # tried, in the header, when it holds no comma


class NestedTooDeep(ValueError):
    """JSON nested past MAX_DEPTH."""

    def __init__(self) -> None:
        super().__init__(f"nested more than {MAX_DEPTH} levels deep")


def decode(data: bytes, *, latin1: bool = True) -> str:
    """The text of a user's file: by its byte-order mark (UTF-16 LE/BE, UTF-32), else UTF-16 without
    one when every other byte is zero, else UTF-8 (a mark dropped), else Latin-1 (every byte is
    valid Latin-1; `latin1=False` raises UnicodeDecodeError instead). ValueError, saying the
    encoding, when the bytes are not the UTF-16 or UTF-32 their mark announces."""
    for bom, codec, name in BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise ValueError(
                    f"the file starts with a {name} byte-order mark but is not valid {name} (byte"
                    f" {exc.start + len(bom)}): save it again as UTF-8"
                ) from None
    codec = _utf16_without_bom(data)
    if codec:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass  # not UTF-16 after all: read below as UTF-8 or Latin-1, and let the importer judge
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        if not latin1:
            raise
        return data.decode("latin-1")


def _utf16_without_bom(data: bytes) -> str | None:
    """utf-16-le or utf-16-be when the start of the file is mostly ASCII written as UTF-16 (a zero
    byte after, or before, each character), else None."""
    sample = data[:1024]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    high, low = sample[1 : 2 * pairs : 2].count(0), sample[0 : 2 * pairs : 2].count(0)
    if high > pairs // 2 and low == 0:
        return "utf-16-le"
    if low > pairs // 2 and high == 0:
        return "utf-16-be"
    return None


def load_json(data: str | bytes):
    """json.loads, refusing values nested more than MAX_DEPTH levels (NestedTooDeep, a ValueError).
    Bytes are decoded by `decode`, without the Latin-1 fallback: JSON is UTF-8, -16 or -32."""
    try:
        value = json.loads(decode(data, latin1=False) if isinstance(data, bytes) else data)
    except RecursionError:  # deeper than the interpreter's own limit: far past ours
        raise NestedTooDeep() from None
    level, containers = 1, [value] if isinstance(value, dict | list) else []
    while containers:  # level by level, without recursion
        if level > MAX_DEPTH:
            raise NestedTooDeep()
        inner = []
        for container in containers:
            for item in container.values() if isinstance(container, dict) else container:
                if isinstance(item, dict | list):
                    inner.append(item)
        containers, level = inner, level + 1
    return value


def may_nest_too_deep(text: str) -> bool:
    """A fast upper bound: False when no part of the text can be nested past MAX_DEPTH (brackets
    counted at C speed, strings not told apart, so True can be a false alarm). A reader that does
    not check depth itself (polars) is only given text for which this is False."""
    import numpy as np

    raw, depth = np.frombuffer(text.encode(), dtype=np.uint8), 0
    for start in range(0, raw.size, 1 << 22):  # 4 MB at a time: memory stays small
        block = raw[start : start + (1 << 22)]
        steps = ((block == ord("[")) | (block == ord("{"))).astype(np.int32)
        steps -= (block == ord("]")) | (block == ord("}"))
        levels = np.cumsum(steps) + depth
        if int(levels.max()) > MAX_DEPTH:
            return True
        depth = int(levels[-1])
    return False


def separator(text: str) -> str:
    """The separator of a CSV: a comma, unless the header has none and has tabs (Excel's "Unicode
    text"), semicolons or pipes."""
    end = text.find("\n")
    header = text if end < 0 else text[:end]
    if "," in header or not any(s in header for s in SEPARATORS):
        return ","
    return max(SEPARATORS, key=header.count)


def check_size(filename: str, size: int, max_mb: int = 50) -> None:
    """Refuse a file over the limit (callers holding a path check before reading it)."""
    if size > max_mb * 1024 * 1024:
        raise ImportReport(
            PurePath(filename).name, [(None, f"the file is {size / 2**20:.0f} MB; the limit is {max_mb} MB")]
        )
