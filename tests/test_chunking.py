"""Chunking: 1000-character windows with 200 overlap at paragraph or sentence boundaries, page and
section kept; code on definition boundaries with line ranges."""

import re

from workbench.documents.chunking import chunk_code, chunk_pages, split_spans
from workbench.documents.parsing import Page

SENTENCES = [f"Sentence number {i} explains a detail of the refund policy in plain words." for i in range(60)]
PROSE = "\n\n".join(" ".join(SENTENCES[i : i + 4]) for i in range(0, 60, 4))


def test_windows_respect_size_and_overlap():
    spans = split_spans(PROSE, size=1000, overlap=200)
    assert len(spans) >= 4
    assert all(end - start <= 1000 for start, end in spans)
    for (_s1, e1), (s2, _e2) in zip(spans, spans[1:], strict=False):
        shared = e1 - s2
        assert 0 < shared <= 200, shared  # neighbours overlap, never by more
    assert spans[0][0] == 0 and spans[-1][1] == len(PROSE)  # nothing lost at either end


def test_windows_end_on_paragraph_or_sentence_boundaries():
    for start, end in split_spans(PROSE, 1000, 200):
        chunk = PROSE[start:end]
        assert chunk.endswith("."), chunk[-40:]
        assert re.match(r"Sentence number \d+", chunk), chunk[:40]  # starts at a sentence, not mid-word


def test_a_word_longer_than_the_window_is_cut_hard():
    spans = split_spans("x" * 2500, size=1000, overlap=100)
    assert [e - s for s, e in spans] == [1000, 1000, 700]


def test_size_and_overlap_are_parameters():
    small = split_spans(PROSE, size=300, overlap=50)
    assert all(e - s <= 300 for s, e in small) and len(small) > len(split_spans(PROSE))
    assert split_spans("", 1000, 200) == []


def test_chunks_keep_page_numbers_and_the_heading_in_effect():
    pages = [Page(1, "# Returns\n\n" + PROSE[:1500]), Page(2, PROSE[:500] + "\n\n## Exchanges\n\nSwap it.")]
    chunks = chunk_pages(pages, 1000, 200)
    assert [c.page_number for c in chunks] == [1, 1, 2]
    assert chunks[0].section == "Returns" and chunks[1].section == "Returns"
    assert chunks[2].section == "Returns"  # page 2 starts under the heading of page 1
    assert [c.index for c in chunks] == [0, 1, 2]
    late = chunk_pages([Page(None, "Intro line.\n\n## Exchanges\n\nSwap it.")])
    assert late[0].section == "Exchanges"  # a chunk before any heading takes its first heading


PYTHON = '''"""Module doc."""
import os

LIMIT = 3


@decorator
def refund(order):
    """Refund an order."""
    return order.total


class Ledger:
    def add(self, x):
        return x
'''


def test_python_is_chunked_on_functions_and_classes_with_line_ranges():
    chunks = chunk_code(PYTHON, "shop/refunds.py", size=80)
    refund = [c for c in chunks if c.section == "def refund"]
    assert refund[0].start_line == 7  # the decorator belongs to the function
    assert "return order.total" in "\n".join(c.text for c in refund)
    assert [c for c in chunks if c.section == "class Ledger"][-1].end_line == 15
    lines = PYTHON.splitlines()
    for c in chunks:
        assert c.text == "\n".join(lines[c.start_line - 1 : c.end_line])


def test_small_python_units_are_merged_up_to_the_size():
    chunks = chunk_code(PYTHON, "a.py", size=1000)
    assert len(chunks) == 1 and (chunks[0].start_line, chunks[0].end_line) == (1, 15)
    assert chunks[0].section == "def refund, class Ledger"


def test_other_languages_split_on_definition_lines():
    js = ("import x from 'y';\n\nexport function pay(a) {\n  return a;\n}\n\n"
          "class Cart {\n  total() { return 1; }\n}\n")
    chunks = chunk_code(js, "web/cart.js", size=40)
    starts = {c.start_line: c.section for c in chunks}
    assert starts[3].startswith("export function pay") and starts[7].startswith("class Cart")


def test_unparseable_or_unknown_code_falls_back_to_line_windows():
    text = "\n".join(f"line {i} of a long config value" for i in range(200))
    chunks = chunk_code(text, "settings.conf", size=500, overlap_lines=2)
    assert len(chunks) > 5 and all(len(c.text) <= 500 for c in chunks)
    pairs = zip(chunks, chunks[1:], strict=False)
    assert all(b.start_line == a.end_line - 1 for a, b in pairs)  # 2 lines shared
    assert chunks[-1].end_line == 200
