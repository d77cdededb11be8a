"""Backup and restore of a whole data home: a restore into a new folder (the old one gone) gives the
same answers, from the database, the vectors, the uploads and the MLflow registry; a damaged backup,
a non-empty target, a home with data and a held database are refused and change nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import ctx_of
from tests.test_lock import hold
from tests.test_registry import customers
from workbench import db, home
from workbench.errors import InvalidInput, NotInitialised
from workbench.models import promotion, registry, tabular
from workbench.models.churn import service as churn_service
from workbench.models.churn import training as churn_training
from workbench.ops import backup
from workbench.search import vectors
from workbench.search.embed import HashEmbedder
from workbench.settings import Settings

pytestmark = pytest.mark.embedded_only  # the DuckDB file's own behaviour

WORKBENCH = str(Path(sys.executable).parent / "workbench")
QUESTION = "How do I reset my password?"


def answers(cfg: Settings) -> dict:
    """What users of a home would see: every table's rows, a search, the uploads, the registry and
    the production model's predictions, a registered dataset."""
    store = home.open_store(cfg)
    alice, dan = ctx_of(store, "alice"), ctx_of(store, "dan")
    hits = vectors.search(alice, home.open_vectors(cfg), HashEmbedder(), QUESTION, k=8)
    with store.connect() as con:
        tables = backup._table_counts(con)
        uploads = con.execute("SELECT file_path FROM documents ORDER BY file_path").fetchall()
        production = registry.production(dan, con, "churn")
        mirror = [(v["version"], v["stage"]) for v in registry.versions(dan, con, "churn")]
        dataset = tabular.load_frame(dan, con, "customers")
    client = MlflowClient(cfg.mlflow_tracking_uri)
    name = registry.registered_name(dan.org_id, "churn")
    model = churn_training.load(cfg, production["artifact_uri"])
    sample = customers(n=20, seed=7).to_pandas()[list(model.feature_names_in_)]
    return {
        "tables": tables,
        "hits": [(h.chunk_id, h.document_uuid, round(h.score, 9)) for h in hits],
        "uploads": {path: hashlib.sha256((cfg.home / path).read_bytes()).hexdigest() for (path,) in uploads},
        "mirror": mirror,
        "versions": sorted(
            (v.version, v.tags.get("stage")) for v in client.search_model_versions(f"name = '{name}'")
        ),
        "aliases": dict(client.get_registered_model(name).aliases),
        "run_files": sorted(f.path for f in client.list_artifacts(production["run_id"], "evaluation")),
        "predictions": model.predict_proba(sample)[:, 1].round(12).tolist(),
        "dataset": dataset.to_dicts(),
    }


@pytest.fixture(scope="module")
def round_trip(demo_home, tmp_path_factory):
    """A demo home with a production churn model and a dataset, backed up, deleted, and restored
    into a new folder: (answers before, answers after, backup result, restore result, backup folder)."""
    root = tmp_path_factory.mktemp("backup")
    original = Settings(home=root / "original", lock_wait_s=1.0, embedding_backend="hash")
    shutil.copytree(demo_home.home, original.home)
    wb = home.Workbench(original)
    dan = ctx_of(wb.store, "dan")
    trained = churn_service.train(dan, wb, frame=customers(), source="customers.csv", target="churned",
                                  algorithms=("logistic_regression",))
    with wb.store.connect() as con:
        promotion.promote(dan, con, original, "churn", trained["version"])
        tabular.register_file(
            dan, con, original, customers(n=50).write_csv().encode(), "customers", filename="customers.csv"
        )
    before = answers(original)
    made = backup.backup(original, root / "backup")
    shutil.rmtree(original.home)  # the restored home must not lean on the old one
    restored = Settings(home=root / "elsewhere" / "restored", lock_wait_s=1.0, embedding_backend="hash")
    result = backup.restore(restored, root / "backup")
    return before, answers(restored), made, result, root / "backup"


def test_a_restore_into_a_new_home_gives_the_same_rows_and_files(round_trip):
    before, after, _made, result, _folder = round_trip
    assert after["tables"] == before["tables"] and before["tables"]["document_chunks"] > 0
    assert after["uploads"] == before["uploads"] and len(before["uploads"]) > 0
    assert after["dataset"] == before["dataset"]  # its absolute path was rewritten to the new home
    assert result["paths_rewritten"] > 0 and result["replaced"] is False


def test_a_restore_into_a_new_home_gives_the_same_search_hits(round_trip):
    before, after, *_ = round_trip
    assert after["hits"] == before["hits"] and len(before["hits"]) == 8


def test_the_restored_registry_lists_the_versions_and_loads_the_production_model(round_trip):
    before, after, *_ = round_trip
    assert after["mirror"] == before["mirror"] == [(1, "production")]
    assert after["versions"] == before["versions"] == [(1, "production")]
    assert after["aliases"] == before["aliases"] and str(after["aliases"]["production"]) == "1"
    assert after["run_files"] == before["run_files"] and "evaluation/roc.png" in after["run_files"]
    assert after["predictions"] == before["predictions"]


def test_the_manifest_describes_every_part(round_trip):
    before, _after, made, _result, folder = round_trip
    manifest = json.loads((folder / "manifest.json").read_text())
    database = folder / "home" / "workbench.duckdb"
    assert manifest["parts"]["database"]["sha256"] == hashlib.sha256(database.read_bytes()).hexdigest()
    assert manifest["schema_version"] == max(p.name[:3] for p in db.SQL_DIR.glob("[0-9]*.sql"))
    assert manifest["tables"] == before["tables"] and manifest["workbench_version"]
    for part in ("database", "vectors", "uploads", "mlflow"):
        assert manifest["parts"][part]["files"] > 0 and manifest["parts"][part]["bytes"] > 0
    assert made["parts"] == manifest["parts"] and "files" not in made
    assert sum(p["files"] for p in manifest["parts"].values()) == len(manifest["files"])
    assert not list(folder.parent.glob(".backup.*"))  # no partial folder left beside it


def test_backup_refuses_a_folder_that_is_not_empty_and_accepts_an_empty_one(demo_copy, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("keep me")
    with pytest.raises(InvalidInput, match="not an empty folder"):
        backup.backup(demo_copy, full)
    assert [p.name for p in full.iterdir()] == ["notes.txt"]
    with pytest.raises(InvalidInput, match="inside the data home"):
        backup.backup(demo_copy, demo_copy.home / "backup")
    (tmp_path / "empty").mkdir()
    assert backup.backup(demo_copy, tmp_path / "empty")["tables"]["users"] > 0
    with pytest.raises(NotInitialised):
        backup.backup(Settings(home=tmp_path / "none", embedding_backend="hash"), tmp_path / "b2")
    assert not (tmp_path / "b2").exists()


def test_a_failed_backup_leaves_nothing_and_releases_the_database(demo_copy, tmp_path, monkeypatch):
    real_copy, copied = shutil.copy2, []

    def failing_copy(src, dst, *args, **kwargs):
        if len(copied) == 20:
            raise OSError("No space left on device")
        copied.append(src)
        return real_copy(src, dst, *args, **kwargs)

    monkeypatch.setattr(shutil, "copy2", failing_copy)
    with pytest.raises(OSError, match="No space"):
        backup.backup(demo_copy, tmp_path / "backups" / "monday")
    assert list((tmp_path / "backups").iterdir()) == []
    monkeypatch.setattr(shutil, "copy2", real_copy)
    assert backup.backup(demo_copy, tmp_path / "backups" / "monday")["parts"]["vectors"]["files"] > 0


def home_state(cfg: Settings) -> dict[str, str]:
    return {
        str(p.relative_to(cfg.home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(cfg.home.rglob("*"))
        if p.is_file()
    }


def test_a_tampered_backup_is_refused_and_changes_nothing(round_trip, demo_copy, tmp_path):
    folder = tmp_path / "tampered"
    shutil.copytree(round_trip[4], folder)
    with open(folder / "home" / "workbench.duckdb", "r+b") as f:
        f.seek(5_000_000)
        byte = f.read(1)
        f.seek(5_000_000)
        f.write(bytes([byte[0] ^ 0xFF]))
    state = home_state(demo_copy)
    with pytest.raises(backup.BackupInvalid, match="workbench.duckdb .* does not match its checksum"):
        backup.restore(demo_copy, folder, force=True)
    assert home_state(demo_copy) == state
    assert sorted(p.name for p in demo_copy.home.parent.iterdir()) == sorted(["home", "tampered"])
    fresh = Settings(home=tmp_path / "fresh", embedding_backend="hash")
    with pytest.raises(backup.BackupInvalid, match="altered or damaged"):
        backup.restore(fresh, folder)
    assert not fresh.home.exists()


def test_a_backup_without_a_manifest_or_from_a_newer_schema_is_refused(round_trip, tmp_path):
    fresh = Settings(home=tmp_path / "fresh", embedding_backend="hash")
    with pytest.raises(backup.BackupInvalid, match="not a workbench backup"):
        backup.restore(fresh, tmp_path)
    newer = tmp_path / "newer"
    newer.mkdir()
    manifest = json.loads((round_trip[4] / "manifest.json").read_text()) | {"schema_version": "999"}
    (newer / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(backup.BackupInvalid, match="schema 999, newer than"):
        backup.restore(fresh, newer)
    (newer / "manifest.json").write_text("{not json")
    with pytest.raises(backup.BackupInvalid, match="unreadable"):
        backup.restore(fresh, newer)
    assert not fresh.home.exists()


def test_restore_over_a_home_with_data_needs_force(round_trip, demo_copy):
    before, _after, _made, _result, folder = round_trip
    state = home_state(demo_copy)
    with pytest.raises(InvalidInput, match="already holds data.*--force"):
        backup.restore(demo_copy, folder)
    assert home_state(demo_copy) == state
    result = backup.restore(demo_copy, folder, force=True)
    assert result["replaced"] is True
    assert answers(demo_copy) == before
    assert sorted(p.name for p in demo_copy.home.parent.iterdir()) == ["home"]  # nothing left aside


def test_a_server_reads_the_restored_home_not_the_file_it_had_open(round_trip, demo_copy):
    server = home.open_store(demo_copy, linger_s=60)  # the app's store keeps its connection open
    with server.transaction() as con:
        con.execute("UPDATE users SET full_name = 'before the restore' WHERE username = 'mike'")
    backup.restore(demo_copy, round_trip[4], force=True)
    with server.connect() as con:
        name = con.execute("SELECT full_name FROM users WHERE username = 'mike'").fetchone()[0]
    assert name != "before the restore"
    assert server.opens == 2  # the swap closed the old file; the next read opened the new one


def test_a_failed_restore_leaves_the_old_home_as_it_was(round_trip, demo_copy, monkeypatch):
    def failing(*args):
        raise OSError("No space left on device")

    monkeypatch.setattr(backup, "_rewrite_paths", failing)
    state = home_state(demo_copy)
    with pytest.raises(OSError, match="No space"):
        backup.restore(demo_copy, round_trip[4], force=True)
    assert home_state(demo_copy) == state
    assert sorted(p.name for p in demo_copy.home.parent.iterdir()) == ["home"]


def run(env, *args):
    return subprocess.run([WORKBENCH, *args], env=env, capture_output=True, text=True, timeout=120)


def test_the_cli_round_trip(cli_env, tmp_path):
    made = run(cli_env, "backup", str(tmp_path / "b"))
    assert made.returncode == 0, made.stderr
    assert "Backed up" in made.stdout and "vectors" in made.stderr and "mlflow" in made.stderr
    target = {**cli_env, "WORKBENCH_HOME": str(tmp_path / "new")}
    restored = run(target, "restore", str(tmp_path / "b"), "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["home"] == str(tmp_path / "new") and restored.stderr == ""
    listed = [run(env, "user", "list", "--as", "alice", "--json") for env in (cli_env, target)]
    assert listed[0].returncode == 0 and listed[0].stdout == listed[1].stdout
    again = run(target, "restore", str(tmp_path / "b"))
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert again.stderr.splitlines()[-1].startswith("error: ") and "--force" in again.stderr


def test_backup_while_another_process_holds_the_database_names_it(cli_env, tmp_path):
    holder = hold(cli_env, 20)
    try:
        result = run(cli_env, "backup", str(tmp_path / "b"))
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert "in use by" in result.stderr and f"pid {holder.pid}" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "b").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".b.")]


def test_restore_into_a_held_home_names_the_holder(round_trip, cli_env):
    holder = hold(cli_env, 20)
    try:
        result = run(cli_env, "restore", str(round_trip[4]), "--force")
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1 and f"pid {holder.pid}" in result.stderr
    assert "Traceback" not in result.stderr


def _rewrite_a_file_and_its_manifest(folder: Path) -> None:
    """A deliberate change: an upload replaced and the manifest's checksum rewritten to match."""
    manifest = json.loads((folder / "manifest.json").read_text())
    rel = next(rel for rel in manifest["files"] if rel.startswith("uploads/"))
    changed = folder / "home" / rel
    changed.write_bytes(b"planted by someone with access to the backups\n")
    manifest["files"][rel] = {"bytes": changed.stat().st_size,
                              "sha256": hashlib.sha256(changed.read_bytes()).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def test_a_signed_backup_refuses_a_rewritten_manifest_an_unsigned_one_cannot(demo_copy, tmp_path):
    """The manifest's checksums catch damage only: whoever rewrites a file can rewrite its checksum.
    With WORKBENCH_BACKUP_KEY the manifest is signed, and such a change (or a missing signature, or
    another key) is refused before anything changes."""
    key = "k" * 32
    signed = Settings(home=demo_copy.home, embedding_backend="hash", backup_key=key)
    made = backup.backup(signed, tmp_path / "signed")
    assert made["signed"] is True and (tmp_path / "signed" / "manifest.sig").is_file()
    assert key not in (tmp_path / "signed" / "manifest.sig").read_text()
    backup.backup(demo_copy, tmp_path / "unsigned")
    for name in ("signed", "unsigned"):
        shutil.copytree(tmp_path / name, tmp_path / f"{name}-changed")
        _rewrite_a_file_and_its_manifest(tmp_path / f"{name}-changed")

    def restore(folder: str, backup_key: str = "") -> dict:
        target = Settings(home=tmp_path / f"into-{folder}-{len(backup_key)}", embedding_backend="hash",
                          backup_key=backup_key)
        return backup.restore(target, tmp_path / folder)

    for folder, backup_key, refusal in [
        ("signed-changed", key, "does not match its signature"),
        ("signed", "x" * 32, "does not match its signature"),
        ("unsigned", key, "is not signed"),
    ]:
        with pytest.raises(backup.BackupInvalid, match=refusal):
            restore(folder, backup_key)
        assert not (tmp_path / f"into-{folder}-{len(backup_key)}").exists()
    assert restore("signed", key)["signature_checked"] is True
    assert restore("unsigned-changed")["signature_checked"] is False  # the honest limit, unsigned
