"""Code (seed 001): index a local git repository into `git_repositories`, `code_files`, chunks
and vectors. Re-indexing touches only files whose content changed, and drops deleted ones."""

from __future__ import annotations

import hashlib
import subprocess
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

from workbench.accounts import cascade as relations
from workbench.accounts.context import Context
from workbench.db import fetch_dicts, fetch_one
from workbench.documents.chunking import Chunk, chunk_code, language_for
from workbench.errors import InvalidInput, NotFound
from workbench.search.embed import content_hash, embed_texts
from workbench.search.vectors import VectorStore
from workbench.usage import metering

if TYPE_CHECKING:
    from workbench.home import Workbench

MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the repository root, '/'-separated
    language: str
    text: str
    sha256: str
    commit: str | None

    @property
    def loc(self) -> int:
        return sum(1 for line in self.text.splitlines() if line.strip())


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InvalidInput(f"{root}: git {' '.join(args[:2])} failed: {result.stderr.strip()[:200]}")
    return result.stdout


def read_repository(path: Path) -> tuple[Path, str, str, list[SourceFile]]:
    """(root, url, branch, tracked source files) of a local git repository."""
    path = Path(path).expanduser().resolve()
    if not path.is_dir():
        raise InvalidInput(f"{path}: not a folder.")
    root = Path(_git(path, "rev-parse", "--show-toplevel").strip())
    try:
        url = _git(root, "remote", "get-url", "origin").strip()
    except InvalidInput:
        url = root.as_uri()
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD").strip() if _has_commits(root) else "main"
    commits = _last_commits(root)
    files = []
    for rel in sorted(filter(None, _git(root, "ls-files", "-z").split("\0"))):
        language, full = language_for(rel), root / rel
        if language is None or not full.is_file() or full.stat().st_size > MAX_FILE_BYTES:
            continue
        data = full.read_bytes()
        if b"\0" in data[:8192]:
            continue
        files.append(
            SourceFile(
                rel,
                language,
                data.decode("utf-8", errors="replace"),
                hashlib.sha256(data).hexdigest(),
                commits.get(rel),
            )
        )
    return root, url, branch, files


def _has_commits(root: Path) -> bool:
    return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True).returncode == 0


def _last_commits(root: Path) -> dict[str, str]:
    """The latest commit touching each file, from one `git log` pass."""
    if not _has_commits(root):
        return {}
    latest: dict[str, str] = {}
    commit = None
    for line in _git(root, "log", "--format=%x00%H", "--name-only").splitlines():
        if line.startswith("\0"):
            commit = line[1:]
        elif line and commit:
            latest.setdefault(line, commit)
    return latest


def index_repository(
    ctx: Context,
    wb: Workbench,
    path: Path,
    progress: Callable[[str, float], None] | None = None,
) -> dict:
    """Index or re-index a repository into `wb`'s store and vectors; returns counts of added,
    changed, removed, unchanged files. Reading the files and embedding hold no lock; the writes
    are one transaction."""
    ctx.require("documents:create")
    say = progress or (lambda _stage, _fraction: None)
    root, url, branch, files = read_repository(path)
    settings, store, vectors, embedder = wb.settings, wb.store, wb.vectors, wb.embedder
    with store.connect() as con:
        repo = fetch_one(
            con, "SELECT id FROM git_repositories WHERE org_id = ? AND repo_url = ?", [ctx.org_id, url]
        )
        known = {
            r["file_path"]: r
            for r in fetch_dicts(
                con,
                "SELECT id, file_path, sha256 FROM code_files WHERE repo_id = ?",
                [repo["id"] if repo else -1],
            )
        }
        repo_id = (
            repo["id"] if repo else con.execute("SELECT nextval('git_repositories_id_seq')").fetchone()[0]
        )
        changed = [f for f in files if f.path not in known or known[f.path]["sha256"] != f.sha256]
        new_ids = [
            r[0]
            for r in con.execute(
                "SELECT nextval('code_files_id_seq') FROM range(?)",
                [sum(f.path not in known for f in changed)],
            ).fetchall()
        ]
    removed = [known[p]["id"] for p in set(known) - {f.path for f in files}]
    file_ids = {f.path: known[f.path]["id"] if f.path in known else new_ids.pop() for f in changed}
    pieces = [(f, c) for f in changed for c in chunk_code(f.text, f.path, settings.chunk_size)]
    say(f"embedding {len(pieces)} chunks of {len(changed)} files", 0.1)
    texts = [c.text for _f, c in pieces]
    matrix, batches = embed_texts(
        embedder,
        texts,
        vectors,
        progress=lambda d, t: say(f"embedding {d}/{t} chunks", 0.1 + 0.8 * d / max(t, 1)),
    )
    tokens = embedder.count_tokens(texts) if texts else []
    stale = [file_ids[f.path] for f in changed if f.path in known] + removed
    if stale:
        vectors.delete(f"code_file_id IN ({', '.join(str(int(i)) for i in stale)})")
    chunk_ids = [str(uuidlib.uuid4()) for _ in pieces]
    vectors.add_chunks(_vector_rows(ctx, repo_id, root.name, pieces, file_ids, chunk_ids, matrix))
    try:
        with store.transaction() as con:
            if repo is None:
                con.execute(
                    "INSERT INTO git_repositories (id, org_id, repo_url, default_branch, local_path,"
                    " created_by, fetched_at) VALUES (?, ?, ?, ?, ?, ?, current_localtimestamp())",
                    [repo_id, ctx.org_id, url, branch, str(root), ctx.user_id],
                )
            else:
                con.execute(
                    "UPDATE git_repositories SET fetched_at = current_localtimestamp(),"
                    " default_branch = ?, local_path = ? WHERE id = ?",
                    [branch, str(root), repo_id],
                )
            if removed:
                relations.delete_cascade(
                    con, "code_files", f"id IN ({', '.join('?' * len(removed))})", removed
                )
            _write_files(con, repo_id, changed, known, file_ids)
            _write_chunks(con, pieces, file_ids, chunk_ids, tokens)
            for batch in batches:
                call = metering.Call("local", embedder.model_name, "embedding", embedding_tokens=batch.tokens,
                                     latency_ms=batch.latency_ms)
                metering.record(con, call, org_id=ctx.org_id, user_id=ctx.user_id)
    except BaseException:
        vectors.delete_ids(chunk_ids)
        raise
    say("completed", 1.0)
    return {
        "repository": url,
        "files": len(files),
        "added": sum(f.path not in known for f in changed),
        "changed": sum(f.path in known for f in changed),
        "removed": len(removed),
        "unchanged": len(files) - len(changed),
        "chunks": len(pieces),
    }


def _write_files(
    con: duckdb.DuckDBPyConnection,
    repo_id: int,
    changed: list[SourceFile],
    known: dict,
    file_ids: dict[str, int],
) -> None:
    for f in changed:
        if f.path in known:
            con.execute("DELETE FROM document_chunks WHERE code_file_id = ?", [file_ids[f.path]])
            con.execute(
                "UPDATE code_files SET language = ?, latest_commit = ?, loc = ?, sha256 = ? WHERE id = ?",
                [f.language, f.commit, f.loc, f.sha256, file_ids[f.path]],
            )
        else:
            con.execute(
                "INSERT INTO code_files (id, repo_id, file_path, language, latest_commit, loc, sha256)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [file_ids[f.path], repo_id, f.path, f.language, f.commit, f.loc, f.sha256],
            )


def _write_chunks(
    con: duckdb.DuckDBPyConnection,
    pieces: list[tuple[SourceFile, Chunk]],
    file_ids: dict,
    chunk_ids: list[str],
    tokens: list[int],
) -> None:
    frame = pa.table(
        {
            "uuid": chunk_ids,
            "code_file_id": pa.array([file_ids[f.path] for f, _c in pieces], pa.int32()),
            "content": [c.text for _f, c in pieces],
            "chunk_index": pa.array([c.index for _f, c in pieces], pa.int32()),
            "num_tokens": pa.array(tokens, pa.int32()),
            "section": [c.section for _f, c in pieces],
            "start_line": pa.array([c.start_line for _f, c in pieces], pa.int32()),
            "end_line": pa.array([c.end_line for _f, c in pieces], pa.int32()),
            "content_hash": [content_hash(c.text) for _f, c in pieces],
        }
    )
    con.register("new_chunks", frame)
    try:
        con.execute(
            "INSERT INTO document_chunks (uuid, code_file_id, content, chunk_index, num_tokens, section,"
            " start_line, end_line, content_hash, embedding_id) SELECT uuid::UUID, code_file_id, content,"
            " chunk_index, num_tokens, section, start_line, end_line, content_hash, uuid FROM new_chunks"
        )
    finally:
        con.unregister("new_chunks")


def _vector_rows(
    ctx: Context,
    repo_id: int,
    name: str,
    pieces: list[tuple[SourceFile, Chunk]],
    file_ids: dict,
    chunk_ids: list[str],
    matrix: np.ndarray,
) -> pa.Table:
    n, dim = len(pieces), (matrix.shape[1] if len(pieces) else 1)
    nulls = pa.nulls(n, pa.int32())
    return pa.table(
        {
            "id": chunk_ids,
            "org_id": pa.array([ctx.org_id] * n, pa.int32()),
            "owner_id": pa.array([ctx.user_id] * n, pa.int32()),
            "scope": ["global"] * n,
            "project_id": nulls,
            "conversation_id": nulls,
            "document_id": nulls,
            "document_uuid": pa.nulls(n, pa.string()),
            "code_file_id": pa.array([file_ids[f.path] for f, _c in pieces], pa.int32()),
            "repo_id": pa.array([repo_id] * n, pa.int32()),
            "chunk_index": pa.array([c.index for _f, c in pieces], pa.int32()),
            "doc_type": ["code"] * n,
            "page_number": nulls,
            "section": [c.section for _f, c in pieces],
            "title": [name] * n,
            "filename": [f.path for f, _c in pieces],
            "start_line": pa.array([c.start_line for _f, c in pieces], pa.int32()),
            "end_line": pa.array([c.end_line for _f, c in pieces], pa.int32()),
            "text": [c.text for _f, c in pieces],
            "content_hash": [content_hash(c.text) for _f, c in pieces],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.astype(np.float32).ravel()), dim),
        }
    )


def list_repositories(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Indexed repositories of the organisation, with file and chunk counts."""
    ctx.require("documents:read")
    return fetch_dicts(
        con,
        "SELECT r.uuid::VARCHAR AS uuid, r.repo_url, r.default_branch, r.fetched_at,"
        " count(DISTINCT f.id) AS files, sum(f.loc) AS loc, count(c.id) AS chunks"
        " FROM git_repositories r LEFT JOIN code_files f ON f.repo_id = r.id"
        " LEFT JOIN document_chunks c ON c.code_file_id = f.id WHERE r.org_id = ?"
        " GROUP BY ALL ORDER BY r.repo_url",
        [ctx.org_id],
    )


def delete_repository(
    ctx: Context, con: duckdb.DuckDBPyConnection, vectors: VectorStore | None, repo_uuid: str
) -> dict[str, int]:
    """Delete a repository's files, chunks and vectors in one operation."""
    ctx.require("documents:delete")
    row = fetch_one(con, "SELECT id, org_id FROM git_repositories WHERE uuid::VARCHAR = ?", [str(repo_uuid)])
    if row is None or row["org_id"] != ctx.org_id:
        raise NotFound(f"No repository {repo_uuid}.")
    if vectors is not None:
        vectors.delete(f"repo_id = {int(row['id'])}")
    return relations.delete_cascade(con, "git_repositories", "id = ?", [row["id"]])
