"""The machinery of a legacy import: typed values from SQLite's loose ones, legacy ids mapped to
the workbench's keys (and recorded in `legacy_ids`, so a second run changes nothing), counts per
table, bulk inserts through Arrow, users with their legacy password hashes, and document files."""

from __future__ import annotations

import json
import uuid as uuidlib
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from workbench.accounts import users
from workbench.accounts.context import Context
from workbench.documents import ingest
from workbench.documents import records as documents
from workbench.errors import InvalidInput
from workbench.models import tabular
from workbench.settings import Settings

DATASET_FORMATS = {**tabular.EXTENSIONS, ".jsonl": "jsonl"}  # by suffix; others keep file_format empty
NO_EMAIL_DOMAIN = "legacy.invalid"  # a reserved domain: mail to it never goes anywhere
SHOWN = 5  # names listed in a note before "and N more"


# Values. SQLite keeps anything in any column: each reader returns the workbench's type or raises
# ValueError naming the column.


def text(row: dict, column: str) -> str | None:
    value = row[column]
    if isinstance(value, bytes):
        raise ValueError(f"{column} holds binary data, not text")
    return None if value is None else str(value)


def integer(row: dict, column: str) -> int | None:
    value = row[column]
    if value is None or value == "":
        return None
    try:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        raise ValueError(f"{column} {value!r} is not a whole number") from None


def number(row: dict, column: str) -> float | None:
    value = row[column]
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{column} {value!r} is not a number") from None


def flag(row: dict, column: str) -> bool | None:
    value = row[column]
    if value is None or isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("1", "true", "t", "yes"):
        return True
    if str(value).strip().lower() in ("0", "false", "f", "no"):
        return False
    raise ValueError(f"{column} {value!r} is not true or false")


def when(row: dict, column: str) -> datetime | None:
    """A timestamp as UTC without a time zone (the workbench's convention)."""
    value = row[column]
    if value is None or value == "":
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
        parsed = datetime.fromisoformat(str(value).strip())
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{column} {value!r} is not a date and time") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def as_json(row: dict, column: str) -> str | None:
    value = row[column]
    if value is None or value == "":
        return None
    try:
        return json.dumps(json.loads(value) if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{column} is not valid JSON") from None


def uuid_text(row: dict, column: str) -> str | None:
    """The legacy UUID, kept as the public id when it is one (seed 004's rule); else None."""
    try:
        return str(uuidlib.UUID(str(row[column])))
    except (TypeError, ValueError):
        return None


Reader = Callable[[dict, str], object]


def convert(
    table: str, rows: list[dict], types: dict[str, Reader], required: tuple[str, ...], problems: list[str]
) -> list[dict]:
    """Typed copies of the rows; a bad value or a missing required one becomes a problem naming
    the row by its first column (the legacy key)."""
    key = next(iter(types))
    out = []
    for row in rows:
        try:
            typed = {column: read(row, column) for column, read in types.items()}
            missing = [c for c in required if typed[c] is None or typed[c] == ""]
            if missing:
                raise ValueError(f"no {', '.join(missing)}")
            out.append(typed)
        except ValueError as exc:
            problems.append(f"{table} {row[key]!r}: {exc}")
    return out


def check_links(
    table: str, rows: list[dict], column: str, parent: str, parent_rows: list[dict], problems: list[str]
) -> None:
    """A link to a legacy row that does not exist is a problem (an empty link is not)."""
    key = next(iter(rows[0])) if rows else None
    parent_ids = {next(iter(p.values())) for p in parent_rows}
    for row in rows:
        if row[column] is not None and row[column] not in parent_ids:
            problems.append(f"{table} {row[key]!r}: {column} {row[column]!r} is not in {parent}")


def listing(names: list[str]) -> str:
    """The first few names, then how many more."""
    shown = ", ".join(names[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


class Writer:
    """One import's write phase, inside the caller's transaction: maps every legacy id to a
    workbench id, counts each legacy table, and remembers the documents' files it wrote."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, ctx: Context, settings: Settings, source: str, files: list[Path]
    ) -> None:
        self.con, self.ctx, self.settings, self.source, self.files = con, ctx, settings, source, files
        self.now = datetime.now().replace(microsecond=0)
        self.ids: dict[str, dict] = defaultdict(dict)  # legacy table -> {legacy id: new id}
        self.counts: dict[str, dict[str, int]] = {}
        self.notes: list[str] = []
        self._new_links: list[dict] = []

    def known(self, legacy_table: str, target: str) -> dict[str, int]:
        """Legacy ids imported before whose workbench row still exists."""
        rows = self.con.execute(
            f"SELECT m.legacy_id, m.new_id FROM legacy_ids m JOIN {target} t ON t.id = m.new_id"
            " WHERE m.org_id = ? AND m.source = ? AND m.legacy_table = ?",
            [self.ctx.org_id, self.source, legacy_table],
        ).fetchall()
        return dict(rows)

    def lookup(self, sql: str) -> dict[tuple, int]:
        """Natural keys of the organisation's rows: the query returns key columns, then the id."""
        return {tuple(r[:-1]): r[-1] for r in self.con.execute(sql, [self.ctx.org_id]).fetchall()}

    def link(self, legacy_table: str, legacy_id, new_id: int, *, remember: bool) -> None:
        self.ids[legacy_table][legacy_id] = new_id
        if remember:
            self._new_links.append(
                {
                    "org_id": self.ctx.org_id,
                    "source": self.source,
                    "legacy_table": legacy_table,
                    "legacy_id": str(legacy_id),
                    "new_id": new_id,
                }
            )

    def place(
        self,
        legacy_table: str,
        target: str,
        rows: list[dict],
        natural: dict[tuple, int] | None = None,
        *,
        read: int | None = None,
    ) -> list[dict]:
        """Give every row (with its legacy id in `_legacy`, its natural key in `_key`) an id: the
        row imported before, else the row with the same natural key, else a new one. Returns the
        rows to insert and counts the table."""
        known, natural = self.known(legacy_table, target), dict(natural or {})
        new, first_with_key, repeats = [], {}, []
        for row in rows:
            key = row.get("_key")
            found = known.get(str(row["_legacy"])) or natural.get(key)
            if found is not None:
                self.link(legacy_table, row["_legacy"], found, remember=str(row["_legacy"]) not in known)
            elif key is not None and key in first_with_key:  # the same thing twice in the file
                repeats.append((row, first_with_key[key]))
            else:
                new.append(row)
                if key is not None:
                    first_with_key[key] = row
        for row, new_id in zip(new, self._allocate(target, len(new)), strict=True):
            row["id"] = new_id
            self.link(legacy_table, row["_legacy"], new_id, remember=True)
        for row, first in repeats:
            self.link(legacy_table, row["_legacy"], first["id"], remember=True)
        self.tally(legacy_table, len(rows) if read is None else read, len(new))
        return new

    def _allocate(self, target: str, n: int) -> list[int]:
        if not n:
            return []
        return [
            r[0] for r in self.con.execute(f"SELECT nextval('{target}_id_seq') FROM range(?)", [n]).fetchall()
        ]

    def fresh_uuids(self, target: str, rows: list[dict]) -> None:
        """Keep each row's legacy UUID unless it is missing or already used; else a new one."""
        wanted = [r["uuid"] for r in rows if r["uuid"]]
        sql = f"SELECT uuid::VARCHAR FROM {target} WHERE uuid IN (SELECT unnest(?::UUID[]))"
        taken = {r[0] for r in self.con.execute(sql, [wanted]).fetchall()} if wanted else set()
        for row in rows:
            if not row["uuid"] or row["uuid"] in taken:
                row["uuid"] = str(uuidlib.uuid4())
            taken.add(row["uuid"])

    def insert(self, target: str, rows: list[dict]) -> None:
        """Insert rows in one statement; keys starting with '_' are the importer's own."""
        if not rows:
            return
        frame = pa.Table.from_pylist([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
        columns = ", ".join(frame.column_names)
        self.con.register("legacy_rows", frame)
        try:
            self.con.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM legacy_rows")
        finally:
            self.con.unregister("legacy_rows")

    def tally(self, table: str, read: int, created: int) -> None:
        self.counts[table] = {"read": read, "created": created, "skipped": read - created}

    def note(self, message: str) -> None:
        self.notes.append(message)

    def finish(self) -> None:
        """Record the legacy ids mapped in this run (a stale entry is replaced)."""
        if self._new_links:
            self.con.register("legacy_links", pa.Table.from_pylist(self._new_links))
            try:
                self.con.execute(
                    "INSERT OR REPLACE INTO legacy_ids (org_id, source, legacy_table,"
                    " legacy_id, new_id) SELECT org_id, source, legacy_table,"
                    " legacy_id, new_id FROM legacy_links"
                )
            finally:
                self.con.unregister("legacy_links")


def write_users(w: Writer, rows: list[dict], schema: str) -> set:
    """Users by username: one of this organisation is reused as it is; a new one keeps its legacy
    password hash (login verifies pbkdf2_sha256 and rehashes it to argon2id). Returns the legacy
    ids of the users created."""
    for row in rows:
        row["username"] = row["username"].strip().lower()  # the workbench's usernames are lower case
    _refuse_other_organisations(w, rows)
    known = w.known("users", "users")
    _check_same_database(w, rows, known, schema)
    natural = w.lookup("SELECT username, id FROM users WHERE org_id = ?")
    created = set()
    for row in rows:
        found = known.get(str(row["_legacy"])) or natural.get((row["username"],))
        if found is None:
            found = _insert_user(w, row)
            natural[(row["username"],)] = found
            created.add(row["_legacy"])
        w.link("users", row["_legacy"], found, remember=str(row["_legacy"]) not in known)
    w.tally("users", len(rows), len(created))
    no_email = [r["username"] for r in rows if r["_legacy"] in created and not r["email"]]
    if no_email:
        w.note(f"Users without an email got <username>@{NO_EMAIL_DOMAIN}: {listing(no_email)}.")
    return created


def _refuse_other_organisations(w: Writer, rows: list[dict]) -> None:
    taken = [
        r[0]
        for r in w.con.execute(
            "SELECT username FROM users WHERE org_id <> ? AND username IN (SELECT unnest(?))"
            " ORDER BY username",
            [w.ctx.org_id, [r["username"] for r in rows]],
        ).fetchall()
    ]
    if taken:
        raise InvalidInput(
            f"Nothing imported: the legacy users {listing(taken)} have the usernames of users of "
            "another organisation, and usernames are unique across the workbench. Rename them in "
            "the legacy database, or import it as an admin of that organisation."
        )


def _check_same_database(w: Writer, rows: list[dict], known: dict[str, int], schema: str) -> None:
    """Legacy ids mean something only within one database: refuse a different database whose
    ids would land on the rows of the one imported before."""
    names = (
        dict(
            w.con.execute(
                "SELECT id, username FROM users WHERE id IN (SELECT unnest(?))", [list(known.values())]
            ).fetchall()
        )
        if known
        else {}
    )
    for row in rows:
        before = names.get(known.get(str(row["_legacy"])))
        if before is not None and before != row["username"]:
            raise InvalidInput(
                f"Nothing imported: this is not the {schema} database imported into "
                f"{w.ctx.org_name} before (its user {row['_legacy']} was {before!r}, here it is "
                f"{row['username']!r}). An organisation takes one legacy database per schema; "
                "import this one into another organisation."
            )


def _insert_user(w: Writer, row: dict) -> int:
    email = row["email"] or f"{row['username']}@{NO_EMAIL_DOMAIN}"
    try:
        user_id = users.insert_user(
            w.con,
            w.ctx.org_id,
            row["username"],
            email.strip(),
            row["password_hash"],
            row["roles"][0],
            row["full_name"],
        )
    except InvalidInput as exc:
        raise InvalidInput(f"Nothing imported: legacy user {row['_legacy']}: {exc}") from None
    for role in row["roles"][1:]:
        w.con.execute("INSERT INTO user_roles SELECT ?, id FROM roles WHERE name = ?", [user_id, role])
    created = row["created_at"] or w.now
    w.con.execute(
        "UPDATE users SET created_at = ?, updated_at = ?, is_active = ?,"
        " explainability_level = ? WHERE id = ?",
        [
            created,
            row.get("updated_at") or created,
            row.get("is_active", True),
            row.get("explainability_level") or "detailed",
            user_id,
        ],
    )
    return user_id


def legacy_upload(
    settings: Settings, folder: Path, filename: str | None, legacy_path: str | None
) -> ingest.Upload:
    """The file a legacy document points at, checked like an upload. Raises ValueError saying why
    there is no usable file."""
    name, data = legacy_file(settings, folder, legacy_path)
    return checked_upload(settings, filename or name, data)


def legacy_file(settings: Settings, folder: Path, legacy_path: str | None) -> tuple[str, bytes]:
    """The name and bytes of the file a legacy row points at. Only files inside the legacy
    database's own folder are read (symlinks resolved), so a crafted database cannot pull in other
    files. Raises ValueError saying why there is no usable file."""
    if not legacy_path:
        raise ValueError("no file path")
    folder = folder.resolve()
    try:
        path = (folder / legacy_path).resolve()  # an absolute legacy path stays absolute
        if not path.is_relative_to(folder):
            raise ValueError(f"{legacy_path} is outside the legacy database's folder")
        if not path.is_file():
            raise ValueError(f"{legacy_path} not found")
        if path.stat().st_size > settings.upload_max_mb * 1024 * 1024:
            raise ValueError(f"{legacy_path} is over the {settings.upload_max_mb} MB upload limit")
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{legacy_path} cannot be read ({exc.strerror or exc})") from None
    return path.name, data


def checked_upload(settings: Settings, filename: str, data: bytes) -> ingest.Upload:
    """ingest's upload check (name, type, size, parse), its refusal as a ValueError."""
    try:
        return ingest.check_upload(settings, filename, data)
    except InvalidInput as exc:
        raise ValueError(str(exc)) from None


def write_documents(w: Writer, rows: list[dict], natural: dict[tuple, int] | None, read: int) -> None:
    """Documents (`_upload` holds the checked file) are stored under generated names and left
    'pending': the ingest pipeline chunks and embeds them, so no vector exists without its row."""
    new = w.place("documents", "documents", rows, natural, read=read)
    w.fresh_uuids("documents", new)
    for row in new:
        upload = row["_upload"]
        target = documents.stored_path(w.settings, w.ctx.org_id, row["uuid"], upload.parsed.content_type)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(upload.data)
        w.files.append(target)
        row.update(
            filename=upload.filename,
            file_path=str(target.relative_to(w.settings.home)),
            file_type=upload.parsed.content_type,
            file_size=len(upload.data),
            sha256=upload.sha256,
            processing_status="pending",
            title=row["title"] or upload.parsed.title or Path(upload.filename).stem,
        )
    w.insert("documents", new)
    if new:
        w.note(f"Documents waiting to be chunked and embedded ({len(new)}): `workbench doctor --fix`.")


def write_datasets(w: Writer, rows: list[dict], natural: dict[tuple, int] | None, read: int) -> None:
    """Datasets (`_file` holds the legacy file's name and bytes) get a copy of their file in the
    organisation's dataset folder, named by the new id and the legacy suffix only: the legacy path
    itself is never stored, as it could name any file of the server."""
    new = w.place("datasets", "datasets", rows, natural, read=read)
    folder = tabular.dataset_folder(w.settings, w.ctx.org_id) / "legacy"
    for row in new:
        name, data = row["_file"]
        suffix = Path(name).suffix.lower()
        suffix = suffix if suffix[1:].isascii() and suffix[1:].isalnum() and len(suffix) <= 10 else ""
        target = folder / f"dataset-{int(row['id'])}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        w.files.append(target)
        row.update(file_path=str(target), file_format=DATASET_FORMATS.get(suffix))
    w.insert("datasets", new)
