"""Indexing a local git repository (seed 001): code files with language, commit and lines of code;
chunks with line ranges; re-runs touch only what changed; deleting takes the vectors too."""

import subprocess

import pytest

from tests.conftest import ctx_of
from workbench import home
from workbench.documents import repos
from workbench.errors import InvalidInput
from workbench.ops import doctor
from workbench.search import vectors
from workbench.search.embed import HashEmbedder

REFUNDS = '''"""Refund rules."""


def refund_amount(order, days_since_delivery):
    """Full refund within 30 days, nothing after."""
    if days_since_delivery <= 30:
        return order.total
    return 0


class RefundQueue:
    def push(self, order):
        self.items.append(order)
'''
CART = "export function cartTotal(items) {\n  return items.reduce((a, b) => a + b.price, 0);\n}\n"


def git(root, *args):
    subprocess.run(
        ["git", "-C", str(root), *args],
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@x",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@x",
            "PATH": "/usr/bin:/bin",
        },
    )


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "shop"
    (root / "web").mkdir(parents=True)
    (root / "refunds.py").write_text(REFUNDS)
    (root / "web" / "cart.js").write_text(CART)
    (root / "logo.png").write_bytes(b"\x89PNG\0\0binary")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


@pytest.fixture
def env(demo_copy):
    wb = home.Workbench(demo_copy)
    assert isinstance(wb.embedder, HashEmbedder)  # the test settings' embedder
    return wb


def parts(wb):
    """(settings, store, vectors, embedder) of the handle, for the checks."""
    return wb.settings, wb.store, wb.vectors, wb.embedder


def index(env, repo, username="anna"):
    return repos.index_repository(ctx_of(env.store, username), env, repo)


def test_a_repository_is_indexed_with_files_chunks_and_line_ranges(env, repo):
    result = index(env, repo)
    assert (result["files"], result["added"], result["unchanged"]) == (2, 2, 0)  # the PNG is skipped
    _cfg, store, vecs, emb = parts(env)
    with store.connect() as con:
        files = dict(
            con.execute(
                "SELECT file_path, language || ':' || loc || ':' || length(latest_commit) FROM code_files"
            ).fetchall()
        )
    assert files == {"refunds.py": "python:9:40", "web/cart.js": "javascript:3:40"}
    [hit, *_] = vectors.search(ctx_of(store, "arthur"), vecs, emb, "refund amount within 30 days", k=3)
    assert hit.filename == "refunds.py" and hit.start_line == 1 and hit.end_line >= 8
    assert hit.doc_type == "code" and hit.title == "shop"


def test_re_indexing_touches_only_changed_files(env, repo):
    index(env, repo)
    (repo / "web" / "cart.js").write_text(CART.replace("0);", "0) * 1.2;"))
    (repo / "refunds.py").unlink()
    (repo / "notes.md").write_text("# Notes\n\nShipping is free over fifty euros.")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "second")
    result = index(env, repo)
    assert (result["added"], result["changed"], result["removed"], result["unchanged"]) == (1, 1, 1, 0)
    again = index(env, repo)
    assert again["unchanged"] == 2 and again["chunks"] == 0
    cfg, store, vecs, emb = parts(env)
    anna = ctx_of(store, "anna")
    assert not [
        h for h in vectors.search(anna, vecs, emb, "refund amount", k=20) if h.filename == "refunds.py"
    ]
    assert doctor.check(cfg, store, vecs).healthy


def test_code_of_one_organisation_is_invisible_to_the_other(env, repo):
    index(env, repo)
    _cfg, store, vecs, emb = parts(env)
    hits = vectors.search(ctx_of(store, "amir"), vecs, emb, "refund_amount days_since_delivery", k=50)
    assert not [h for h in hits if h.doc_type == "code"]
    with store.connect() as con:
        assert repos.list_repositories(ctx_of(store, "amir"), con) == []


def test_deleting_a_repository_removes_files_chunks_and_vectors(env, repo):
    index(env, repo)
    cfg, store, vecs, _emb = parts(env)
    anna = ctx_of(store, "anna")
    with store.transaction() as con:
        [listed] = repos.list_repositories(anna, con)
        assert listed["files"] == 2 and listed["chunks"] >= 2
        deleted = repos.delete_repository(anna, con, vecs, listed["uuid"])
    assert deleted["code_files"] == 2 and vecs.count("doc_type = 'code'") == 0
    assert doctor.check(cfg, store, vecs).healthy


def test_a_folder_that_is_not_a_repository_is_refused(env, tmp_path):
    with pytest.raises(InvalidInput, match="git"):
        index(env, tmp_path)
