"""`workbench ingest`, `search`, `documents`, `index-repo` and `doctor` as a user runs them."""

import json
import subprocess

from tests.conftest import ctx_of
from tests.test_cli import run
from workbench import home
from workbench.search import vectors
from workbench.search.embed import HashEmbedder


def test_ingest_a_folder_reports_each_file_and_fails_only_the_bad_one(cli_env, tmp_path):
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    (folder / "returns.md").write_text("# Returns\n\nParcels can be returned within 30 days of delivery.")
    (folder / "sub" / "empty.txt").write_text("")
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    result = run(cli_env, "ingest", str(folder), "--as", "anna", "--doc-type", "policy", "--json")
    assert result.returncode == 1  # one file failed: the exit code says so
    data = json.loads(result.stdout)
    status = {r["filename"]: r for r in data["results"]}
    assert status["returns.md"]["status"] == "completed" and status["returns.md"]["num_chunks"] == 1
    assert status["empty.txt"]["status"] == "refused" and "empty" in status["empty.txt"]["message"]
    assert data["skipped_unsupported"] == 1
    again = run(cli_env, "ingest", str(folder / "returns.md"), "--as", "anna")
    assert again.returncode == 0 and "duplicate" in again.stdout


def test_search_json_matches_the_library_function(cli_env, demo_copy):
    store = home.open_store(demo_copy)
    with store.connect() as con:
        before = con.execute("SELECT max(id) FROM llm_calls").fetchone()[0]
    result = run(cli_env, "search", "refund for a faulty phone", "--as", "anna", "--k", "4", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    with store.connect() as con:  # the query's embedding is metered like any other
        metered = con.execute(
            "SELECT operation_type, provider, embedding_tokens > 0 FROM llm_calls WHERE id > ?", [before]
        ).fetchall()
    assert metered == [("embedding", "local", True)]
    expected = vectors.search(
        ctx_of(store, "anna"), home.open_vectors(demo_copy), HashEmbedder(), "refund for a faulty phone", k=4
    )
    assert [h["chunk_id"] for h in hits] == [h.chunk_id for h in expected]
    assert {"title", "page_number", "section", "score", "text"} <= set(hits[0])


def test_documents_list_and_delete_then_doctor_is_healthy(cli_env):
    listed = json.loads(run(cli_env, "documents", "list", "--as", "anna", "--json").stdout)
    own = [d for d in listed if d["uploaded_by"] == "anna"]
    deleted = run(cli_env, "documents", "delete", own[0]["uuid"], "--as", "anna", "--json")
    assert deleted.returncode == 0 and json.loads(deleted.stdout)["documents"] == 1
    doctor = run(cli_env, "doctor", "--json")
    assert doctor.returncode == 0 and json.loads(doctor.stdout)["healthy"] is True


def test_a_viewer_cannot_ingest_and_is_told_why(cli_env, tmp_path):
    note = tmp_path / "note.txt"
    note.write_text("A note.")
    result = run(cli_env, "ingest", str(note), "--as", "vera")
    assert result.returncode == 1 and "documents:create" in result.stderr


def test_doctor_reports_then_fixes_an_orphan_file(cli_env, demo_copy):
    (demo_copy.uploads_dir / "left-over.pdf").write_bytes(b"%PDF")
    report = run(cli_env, "doctor")
    assert report.returncode == 1 and "left-over.pdf" in report.stdout and "--fix" in report.stdout
    fixed = run(cli_env, "doctor", "--fix", "--json")
    assert fixed.returncode == 0 and json.loads(fixed.stdout)["repaired"]
    assert run(cli_env, "doctor").returncode == 0


def test_index_repo_then_search_finds_code_with_lines(cli_env, tmp_path):
    repo = tmp_path / "tools"
    repo.mkdir()
    (repo / "billing.py").write_text("def late_fee(days):\n    return 5 * days\n")
    env = {
        **cli_env,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@x",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@x",
    }
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env)
    result = run(cli_env, "index-repo", str(repo), "--as", "anna", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["added"] == 1
    found = run(cli_env, "search", "late_fee days", "--as", "anna", "--json")
    assert any(h["filename"] == "billing.py" and h["start_line"] == 1 for h in json.loads(found.stdout))
