"""Rebuild corpus.jsonl of this folder from the demo documents (data/samples/documents).

    python bench/data/demo-qa/make_corpus.py

One corpus entry per section: markdown files split at `## ` headings (`###` subsections stay in
their section), plain-text files at their section breaks (two blank lines). The text before the
first heading is section 0. Ids are `<org>-<file stem>#<n>`; the title is the organisation, the
document's title from manifest.json and the section heading. Deterministic: queries.jsonl and
qrels/test.tsv (written by hand) refer to these ids, so rerunning must not renumber anything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent.parent.parent / "data" / "samples" / "documents"
ORGS = {"northwind": "Northwind Mobile", "helio": "Helio Cloud"}


def sections(path: Path) -> list[tuple[str, str]]:
    """(heading, body) pairs; the heading of section 0 is empty."""
    text = path.read_text().strip()
    if path.suffix == ".md":
        parts = re.split(r"(?m)^(?=## )", text)
        out = []
        for i, part in enumerate(parts):
            lines = part.strip().splitlines()
            if i == 0:
                heading, body = "", "\n".join(line for line in lines if not line.startswith("# "))
            else:
                heading, body = lines[0][3:].strip(), "\n".join(lines[1:])
            out.append((heading, body.strip()))
        return out
    out = []
    for i, part in enumerate(p for p in text.split("\n\n\n") if p.strip()):
        lines = part.strip().splitlines()
        if i == 0:  # the document's own title line(s) and intro
            body = "\n".join(line for line in lines[1:] if not set(line) <= {"=", "-"})
            out.append(("", body.strip()))
            continue
        heading = re.sub(r"^\d+\.\s*", "", lines[0]).strip()
        body = "\n".join(lines[1:])
        out.append((heading, re.sub(r"^[-=]+\n", "", body.strip()).strip()))
    return out


def main() -> None:
    manifest = json.loads((DOCS / "manifest.json").read_text())
    rows = []
    for entry in manifest:
        path = DOCS / entry["file"]
        org = ORGS[entry["org"]]
        for n, (heading, body) in enumerate(sections(path)):
            if not body:
                continue
            title = entry["title"] if org.split()[0] in entry["title"] else f"{org}: {entry['title']}"
            title += f" — {heading}" if heading else ""
            rows.append({"_id": f"{entry['org']}-{path.stem}#{n}", "title": title, "text": body})
    with (HERE / "corpus.jsonl").open("w") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} sections from {len(manifest)} documents -> {HERE / 'corpus.jsonl'}")


if __name__ == "__main__":
    main()
