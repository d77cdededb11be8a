"""Seed 000's schema (users with pbkdf2_sha256 hashes, projects, documents, calls, utterances,
qa_pairs, datasets): check a legacy database's rows, then write them into the workbench."""

from __future__ import annotations

from pathlib import Path

from workbench.calls import metrics as call_metrics
from workbench.calls import transcripts
from workbench.ops.legacy.writer import (
    Writer,
    check_links,
    convert,
    integer,
    legacy_file,
    legacy_upload,
    listing,
    text,
    when,
    write_datasets,
    write_documents,
    write_users,
)
from workbench.settings import Settings

NAME = "seed 000"
SOURCE = "seed000"
# Each table's columns as the seed lists them, the legacy key first, with how to read them.
TABLES = {
    "users": {"user_id": integer, "username": text, "password_hash": text, "email": text, "created_at": when},
    "projects": {
        "project_id": integer,
        "user_id": integer,
        "project_name": text,
        "description": text,
        "created_at": when,
    },
    "documents": {
        "document_id": integer,
        "project_id": integer,
        "file_name": text,
        "file_path": text,
        "file_type": text,
        "uploaded_at": when,
    },
    "calls": {"call_id": text, "project_id": integer, "transcript": text, "timestamp": when},
    "utterances": {
        "id": integer,
        "call_id": text,
        "project_id": integer,
        "role": text,
        "content": text,
        "utterance_index": integer,
    },
    "qa_pairs": {
        "id": integer,
        "project_id": integer,
        "call_id": text,
        "question": text,
        "answer": text,
        "created_at": when,
    },
    "datasets": {
        "dataset_id": integer,
        "project_id": integer,
        "dataset_name": text,
        "file_path": text,
        "source_type": text,
        "created_at": when,
    },
}
REQUIRED = {
    "users": ("user_id", "username", "password_hash"),
    "projects": ("project_id", "user_id", "project_name"),
    "documents": ("document_id", "project_id"),
    "calls": ("call_id", "project_id"),
    "utterances": ("project_id",),
    "qa_pairs": ("project_id",),
    "datasets": ("dataset_id", "project_id", "dataset_name", "file_path"),
}
LINKS = [  # (table, column, parent table)
    ("projects", "user_id", "users"),
    ("documents", "project_id", "projects"),
    ("calls", "project_id", "projects"),
    ("utterances", "call_id", "calls"),
    ("utterances", "project_id", "projects"),
    ("qa_pairs", "project_id", "projects"),
    ("qa_pairs", "call_id", "calls"),
    ("datasets", "project_id", "projects"),
]
ROLE = "analyst"  # seed 000 has no roles; its users ran projects of calls and QA pairs


def prepare(rows: dict[str, list[dict]], folder: Path, settings: Settings) -> tuple[dict, list[str]]:
    """Typed rows with their links checked and their documents' and datasets' files read, and
    every problem found (none when the database can be imported)."""
    problems: list[str] = []
    data = {t: convert(t, rows[t], TABLES[t], REQUIRED[t], problems) for t in TABLES}
    for table, column, parent in LINKS:
        check_links(table, data[table], column, parent, data[parent], problems)
    for doc in data["documents"]:
        try:
            doc["upload"] = legacy_upload(settings, folder, doc["file_name"], doc["file_path"])
        except ValueError as exc:
            doc["upload"], doc["why_not"] = None, str(exc)
    for dataset in data["datasets"]:
        try:
            dataset["file"] = legacy_file(settings, folder, dataset["file_path"])
        except ValueError as exc:
            dataset["file"], dataset["why_not"] = None, str(exc)
    return data, problems


def write(w: Writer, data: dict) -> None:
    """Write the checked rows in dependency order, then compute the new calls' analytics."""
    created = write_users(
        w,
        [
            {
                "_legacy": u["user_id"],
                "username": u["username"],
                "email": u["email"],
                "password_hash": u["password_hash"],
                "full_name": None,
                "roles": [ROLE],
                "created_at": u["created_at"],
            }
            for u in data["users"]
        ],
        NAME,
    )
    if created:
        w.note(f"Seed 000 has no roles: new users became {ROLE}s ({len(created)}).")
    owner = {p["project_id"]: w.ids["users"][p["user_id"]] for p in data["projects"]}
    _projects(w, data["projects"])
    new_calls = _calls(w, data["calls"])
    _utterances(w, data["utterances"], new_calls)
    _qa_pairs(w, data["qa_pairs"], owner)
    _datasets(w, data["datasets"], owner)
    _documents(w, data["documents"], owner)
    call_metrics.refresh(w.con, [c["id"] for c in new_calls])


def _projects(w: Writer, rows: list[dict]) -> None:
    users = w.ids["users"]
    new = w.place(
        "projects",
        "projects",
        [
            {
                "_legacy": p["project_id"],
                "_key": (users[p["user_id"]], p["project_name"]),
                "org_id": w.ctx.org_id,
                "owner_id": users[p["user_id"]],
                "name": p["project_name"],
                "description": p["description"],
                "created_at": p["created_at"] or w.now,
            }
            for p in rows
        ],
        w.lookup("SELECT owner_id, name, id FROM projects WHERE org_id = ?"),
    )
    w.insert("projects", new)


def _calls(w: Writer, rows: list[dict]) -> list[dict]:
    projects = w.ids["projects"]
    new = w.place(
        "calls",
        "calls",
        [
            {
                "_legacy": c["call_id"],
                "_key": (projects[c["project_id"]], c["call_id"]),
                "project_id": projects[c["project_id"]],
                "external_id": c["call_id"],
                "transcript": c["transcript"],
                "started_at": c["timestamp"] or w.now,
            }
            for c in rows
        ],
        w.lookup(
            "SELECT c.project_id, c.external_id, c.id FROM calls c"
            " JOIN projects p ON p.id = c.project_id WHERE p.org_id = ?"
        ),
    )
    w.insert("calls", new)
    return new


def _utterances(w: Writer, rows: list[dict], new_calls: list[dict]) -> None:
    """Utterances come with their call: those of calls imported before are left as they are."""
    project_of = {c["_legacy"]: c["project_id"] for c in new_calls}
    ordered = sorted(
        (u for u in rows if u["call_id"] in project_of),
        key=lambda u: (u["call_id"], u["utterance_index"] is None, u["utterance_index"] or 0, u["id"]),
    )
    new, position = [], {}
    for u in ordered:
        index = position[u["call_id"]] = position.get(u["call_id"], -1) + 1
        new.append(
            {
                "call_id": w.ids["calls"][u["call_id"]],
                "project_id": project_of[u["call_id"]],
                "role": _role(u["role"]),
                "content": u["content"],
                "utterance_index": index if u["utterance_index"] is None else u["utterance_index"],
            }
        )
    w.insert("utterances", new)
    w.tally("utterances", len(rows), len(new))
    orphans = sum(u["call_id"] is None for u in rows)
    if orphans:
        w.note(f"Utterances that belong to no call were skipped ({orphans}).")


def _role(label: str | None) -> str:
    """agent, customer, system or unknown, as the calls import normalises them."""
    label = (label or "").strip().lower()
    return label if label in transcripts.ROLES else transcripts.role_of(label)


def _qa_pairs(w: Writer, rows: list[dict], owner: dict) -> None:
    projects, calls = w.ids["projects"], w.ids["calls"]
    usable = [q for q in rows if (q["question"] or "").strip() and (q["answer"] or "").strip()]
    new = w.place(
        "qa_pairs",
        "qa_pairs",
        [
            {
                "_legacy": q["id"],
                "_key": (projects[q["project_id"]], calls.get(q["call_id"]), q["question"], q["answer"]),
                "project_id": projects[q["project_id"]],
                "call_id": calls.get(q["call_id"]),
                "question": q["question"],
                "answer": q["answer"],
                "created_by": owner[q["project_id"]],
                "created_at": q["created_at"] or w.now,
                "updated_at": q["created_at"] or w.now,
                "source": "legacy",
            }
            for q in usable
        ],
        w.lookup(
            "SELECT q.project_id, q.call_id, q.question, q.answer, q.id FROM qa_pairs q"
            " JOIN projects p ON p.id = q.project_id WHERE p.org_id = ?"
        ),
        read=len(rows),
    )
    w.insert("qa_pairs", new)
    if len(usable) < len(rows):
        w.note(f"QA pairs without a question or an answer were skipped ({len(rows) - len(usable)}).")


def _datasets(w: Writer, rows: list[dict], owner: dict) -> None:
    """A dataset whose file is found beside the database gets a copy of it in the data home, as a
    document does; one without a usable file is listed in the report."""
    projects = w.ids["projects"]
    write_datasets(
        w,
        [
            {
                "_legacy": d["dataset_id"],
                "_key": (d["dataset_name"],),
                "_file": d["file"],
                "org_id": w.ctx.org_id,
                "project_id": projects[d["project_id"]],
                "name": d["dataset_name"],
                "source_type": d["source_type"],
                "created_by": owner[d["project_id"]],
                "created_at": d["created_at"] or w.now,
            }
            for d in rows
            if d["file"] is not None
        ],
        w.lookup("SELECT name, id FROM datasets WHERE org_id = ?"),
        read=len(rows),
    )
    missing = [f"{d['dataset_name']} ({d['why_not']})" for d in rows if d["file"] is None]
    if missing:
        w.note(
            f"Datasets without a usable file were skipped: {listing(missing)}. Register their files "
            "with `workbench datasets add`."
        )


def _documents(w: Writer, rows: list[dict], owner: dict) -> None:
    """A document whose file is found beside the database becomes a pending, project-scoped
    document; one without a file is listed in the report."""
    projects = w.ids["projects"]
    found = [d for d in rows if d["upload"] is not None]
    write_documents(
        w,
        [
            {
                "_legacy": d["document_id"],
                "_key": (projects[d["project_id"]], d["upload"].sha256),
                "_upload": d["upload"],
                "uuid": None,
                "org_id": w.ctx.org_id,
                "project_id": projects[d["project_id"]],
                "uploaded_by_id": owner[d["project_id"]],
                "title": None,
                "scope": "project",
                "uploaded_at": d["uploaded_at"] or w.now,
            }
            for d in found
        ],
        w.lookup("SELECT project_id, sha256, id FROM documents WHERE org_id = ? AND sha256 IS NOT NULL"),
        read=len(rows),
    )
    missing = [f"{d['file_name']} ({d['why_not']})" for d in rows if d["upload"] is None]
    if missing:
        w.note(
            f"Documents without a usable file were skipped: {listing(missing)}. Upload them "
            "with `workbench ingest`."
        )
