"""Real processes killed with SIGKILL in the middle of their work: a document ingest (the CLI and
the served app), a calls import (in its write transaction and while embedding). After the kill,
`workbench doctor` reports what was left, `--fix` repairs it, nothing half-written remains and no
row committed before the kill is lost. And the lock message in both directions: the app started
or used while a CLI command holds the database, a CLI command while the app holds it.

A process is stopped at an exact point by a `sitecustomize` put on its PYTHONPATH: it wraps one
function, and after its Nth call writes a marker file and sleeps, so the test kills it there
(inside the write transaction, say), where a random kill would land only now and then."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ctx_of
from tests.test_browser import CHROMIUM, free_port
from workbench import home
from workbench.search import vectors
from workbench.search.embed import HashEmbedder

WORKBENCH = str(Path(sys.executable).parent / "workbench")
PROJECT = "Customer care line"
PAUSE = """
import os
if os.environ.get("WORKBENCH_PAUSE"):
    import importlib, time
    module_name, attribute, nth = os.environ["WORKBENCH_PAUSE"].split(":")
    owner = importlib.import_module(module_name)
    *path, name = attribute.split(".")  # a function, or a class's method
    for part in path:
        owner = getattr(owner, part)
    original, seen = getattr(owner, name), []

    def paused(*args, **kwargs):
        result = original(*args, **kwargs)
        seen.append(1)
        if len(seen) == int(nth):
            with open(os.environ["WORKBENCH_PAUSE_MARKER"], "w") as marker:
                marker.write(str(os.getpid()))
            time.sleep(600)
        return result

    setattr(owner, name, paused)
"""


@pytest.fixture
def env(cli_env, tmp_path):
    """The CLI's environment, with the pausing sitecustomize on the path (inert until asked)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(PAUSE)
    return {**cli_env, "PYTHONPATH": str(site), "WORKBENCH_LOCK_WAIT_S": "2"}


def run(env, *args, timeout: float = 120):
    return subprocess.run([WORKBENCH, *args], env=env, capture_output=True, text=True, timeout=timeout)


def start_paused(env, where: str, marker: Path, *args, log: Path | None = None) -> subprocess.Popen:
    """Start `workbench ARGS` and return once it sits at the Nth call of module:function."""
    out = log.open("w") if log else subprocess.PIPE
    proc = subprocess.Popen([WORKBENCH, *args], env={**env, "WORKBENCH_PAUSE": where,
                                                     "WORKBENCH_PAUSE_MARKER": str(marker)},
                            stdout=out, stderr=subprocess.STDOUT if log else subprocess.PIPE, text=True)
    wait_for(marker, proc)
    return proc


def wait_for(marker: Path, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not marker.exists():
        if proc.poll() is not None:
            out = proc.stdout.read() + proc.stderr.read() if proc.stdout else ""
            pytest.fail(f"the process ended before its pause point: {out[-2000:]}")
        assert time.monotonic() < deadline, "the process never reached its pause point"
        time.sleep(0.1)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def doctor(env, *flags):
    result = run(env, "doctor", "--json", *flags)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def documents(cfg) -> dict[str, tuple]:
    """uuid -> (status, chunks, title, vectors stored) of every document."""
    with home.open_store(cfg).connect() as con:
        rows = con.execute(
            "SELECT uuid::VARCHAR, processing_status, num_chunks, title FROM documents"
        ).fetchall()
    store_vectors = home.open_vectors(cfg)
    return {u: (s, n, t, store_vectors.count(f"document_uuid = '{u}'")) for u, s, n, t in rows}


def calls_of(cfg, prefix: str) -> dict[str, tuple]:
    """external id -> (utterances, embedded) of the calls whose id starts with prefix."""
    with home.open_store(cfg).connect() as con:
        rows = con.execute(
            "SELECT c.external_id, count(u.id), c.embedded_at IS NOT NULL FROM calls c"
            " LEFT JOIN utterances u ON u.call_id = c.id WHERE c.external_id LIKE ? GROUP BY ALL",
            [prefix + "%"],
        ).fetchall()
    return {e: (n, done) for e, n, done in rows}


def calls_csv(path: Path, prefix: str, count: int, turns: int = 4) -> Path:
    lines = ["call_id,transcript,timestamp,metadata"]
    for i in range(count):
        said = "\\n".join(f"{'Agent' if t % 2 == 0 else 'Customer'}: line {t} of call {prefix}{i} about"
                          f" {'my router' if i % 2 else 'a late parcel'}" for t in range(turns))
        lines.append(f'{prefix}{i},"{said}",2026-11-{1 + i % 28:02d}T10:00:00,')
    path.write_text("\n".join(lines).replace("\\n", "\n") + "\n")
    return path


def note(folder: Path, name: str, subject: str, paragraphs: int = 3) -> Path:
    text = f"# {subject.title()}\n\n" + "\n\n".join(
        f"## Part {i}\n\nThe {subject} rule number {i} says the {subject} applies to every customer"
        f" who asks about the {subject} before the end of the month." for i in range(paragraphs))
    path = folder / name
    path.write_text(text)
    return path


def searchable(cfg, subject: str, document_uuid: str) -> bool:
    hits = vectors.search(ctx_of(home.open_store(cfg), "anna"), home.open_vectors(cfg), HashEmbedder(),
                          f"{subject} rule", k=5)
    return document_uuid in {h.document_uuid for h in hits}


def assert_kept(before: dict, after: dict) -> None:
    """Every document committed before the kill is still there, whole: row, chunks, vectors."""
    lost = {u: row for u, row in before.items() if after.get(u) != row}
    assert not lost, f"changed or lost: {lost}"


@pytest.mark.slow
def test_kill_mid_ingest_then_doctor_reports_and_repairs(env, demo_copy, tmp_path):
    committed = documents(demo_copy)
    files = [note(tmp_path, f"{s}.md", s) for s in ("kettle", "toaster", "blender")]
    marker = tmp_path / "paused"
    # the second document's vectors are in LanceDB, its chunks not yet in DuckDB
    proc = start_paused(env, "workbench.search.vectors:VectorStore.add_chunks:2", marker, "ingest",
                        *map(str, files), "--as", "anna")
    try:  # work in progress is not damage: doctor leaves it alone
        code, report = doctor(env, "--fix")
        assert code == 0 and report["healthy"] and report["work_in_progress"] and not report["repaired"]
    finally:
        kill(proc)
    now = documents(demo_copy)
    new = {t.split()[0].lower(): (u, row) for u, row in now.items() if u not in committed for t in [row[2]]}
    assert new["kettle"][1][0] == "completed" and new["kettle"][1][1] == new["kettle"][1][3] > 0
    assert new["toaster"][1][:2] == ("processing", 0) and new["toaster"][1][3] > 0  # vectors only
    assert new["blender"][1][:2] == ("processing", 0)
    assert_kept(committed, now)

    code, report = doctor(env)  # seconds after the kill: no process works, so they are stuck
    assert code == 1 and not report["healthy"] and not report["work_in_progress"]
    assert sorted(report["stuck_documents"]) == sorted([new["toaster"][0], new["blender"][0]])
    assert report["orphan_vectors"] == new["toaster"][1][3]
    assert report["missing_vectors"] == 0 and report["orphan_files"] == [] and report["missing_files"] == []

    code, fixed = doctor(env, "--fix")
    assert code == 0 and fixed["repaired"], fixed
    code, again = doctor(env)
    assert code == 0 and again["healthy"], again
    after = documents(demo_copy)
    assert_kept(committed, after)
    for subject, (uuid, _row) in new.items():
        status, chunks, _title, stored = after[uuid]
        assert status == "completed" and chunks == stored > 0
        assert searchable(demo_copy, subject, uuid)


@pytest.mark.slow
def test_kill_while_embedding_a_document_is_found_at_once(env, demo_copy, tmp_path):
    """An unpatched `workbench ingest` of a big document, killed while it embeds."""
    committed = documents(demo_copy)
    big = note(tmp_path, "manual.md", "warranty", paragraphs=2500)
    proc = subprocess.Popen([WORKBENCH, "ingest", str(big), "--as", "anna"], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for line in proc.stderr:
        if "embedding 0/" in line:
            break
    time.sleep(0.3)
    assert proc.poll() is None, "the ingest finished before it could be killed"
    kill(proc)
    code, report = doctor(env)  # seconds after the kill, not ten minutes: no process is working
    assert code == 1 and len(report["stuck_documents"]) == 1
    [uuid] = report["stuck_documents"]
    assert doctor(env, "--fix")[0] == 0
    after = documents(demo_copy)
    assert_kept(committed, after)
    assert after[uuid][0] == "completed" and after[uuid][1] == after[uuid][3] > 300


@pytest.mark.slow
def test_kill_inside_a_calls_import_writes_nothing_and_keeps_earlier_calls(env, demo_copy, tmp_path):
    earlier = calls_csv(tmp_path / "earlier.csv", "E-", 5)
    assert run(env, "calls", "import", str(earlier), "--project", PROJECT, "--as", "anna").returncode == 0
    kept = calls_of(demo_copy, "E-")
    assert len(kept) == 5 and all(n == 4 and done for n, done in kept.values())
    big = calls_csv(tmp_path / "big.csv", "K-", 3000)
    marker = tmp_path / "paused"
    # inside the write transaction, every call and utterance inserted, the commit not reached
    proc = start_paused(env, "workbench.calls.metrics:refresh:1", marker, "calls", "import", str(big),
                        "--project", PROJECT, "--as", "anna")
    kill(proc)
    assert calls_of(demo_copy, "K-") == {} and calls_of(demo_copy, "E-") == kept
    # and an unpatched import killed at some moment of its run: all of the file or none of it
    proc = subprocess.Popen([WORKBENCH, "calls", "import", str(big), "--project", PROJECT, "--as", "anna",
                             "--no-embed"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2.5)
    if proc.poll() is None:
        kill(proc)
    landed = calls_of(demo_copy, "K-")
    assert len(landed) in (0, 3000) and all(n == 4 for n, _done in landed.values())
    assert calls_of(demo_copy, "E-") == kept
    code, report = doctor(env)
    assert report["unembedded_calls"] == len(landed) and code == (1 if landed else 0)


@pytest.mark.slow
def test_kill_while_embedding_calls_leaves_them_for_doctor(env, demo_copy, tmp_path):
    batch = calls_csv(tmp_path / "batch.csv", "M-", 120)
    marker = tmp_path / "paused"
    # the utterance vectors are appended, the calls not yet marked embedded
    proc = start_paused(env, "workbench.calls.search:_replace:1", marker, "calls", "import", str(batch),
                        "--project", PROJECT, "--as", "anna")
    kill(proc)
    imported = calls_of(demo_copy, "M-")
    assert len(imported) == 120 and not any(done for _n, done in imported.values())  # committed, unembedded
    code, report = doctor(env)
    assert code == 1 and report["unembedded_calls"] == 120
    code, fixed = doctor(env, "--fix")
    assert code == 0 and any("120 calls" in line for line in fixed["repaired"]), fixed
    assert all(done for _n, done in calls_of(demo_copy, "M-").values())
    utterances = home.open_vectors(demo_copy).table("utterances")
    with home.open_store(demo_copy).connect() as con:
        ids = [r[0] for r in con.execute("SELECT id FROM calls WHERE external_id LIKE 'M-%'").fetchall()]
    assert utterances.count_rows(f"call_id IN ({', '.join(map(str, ids))})") == 120 * 4  # no duplicates
    hits = json.loads(run(env, "calls", "search", "late parcel", "--mode", "semantic", "--project", PROJECT,
                          "--as", "anna", "--json", "-k", "50").stdout)
    assert any(h["external_id"].startswith("M-") for h in hits)


@pytest.mark.embedded_only
def test_a_held_database_names_the_cli_command_not_the_interpreter(env, tmp_path):
    marker = tmp_path / "paused"
    holder = start_paused(env, "workbench.calls.metrics:refresh:1", marker, "calls", "import",
                          str(calls_csv(tmp_path / "few.csv", "H-", 3)), "--project", PROJECT, "--as", "anna")
    try:
        result = run(env, "user", "list", "--as", "alice")
    finally:
        kill(holder)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: The database")
    assert f"in use by a workbench command (pid {holder.pid}: workbench calls import /" in last
    assert "bin/python" not in last


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.embedded_only
def test_app_and_cli_lock_messages_and_a_kill_during_an_ingest_in_the_app(env, demo_copy, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    committed = documents(demo_copy)
    small = calls_csv(tmp_path / "few.csv", "H-", 3)
    holding = ["calls", "import", str(small), "--project", PROJECT, "--as", "anna"]
    port = free_port()

    # 1. `workbench serve` while a CLI import holds the database: the message, then exit 1
    holder = start_paused(env, "workbench.calls.metrics:refresh:1", tmp_path / "held-1", *holding)
    started = run(env, "serve", "--no-api", "--port", str(port), timeout=60)
    kill(holder)
    assert started.returncode == 1 and "Traceback" not in started.stderr
    assert f"in use by a workbench command (pid {holder.pid}: workbench calls import" in started.stderr

    # 2. the app, its first ingest to pause inside its write transaction
    app_env = {**env, "WORKBENCH_PAUSE": "workbench.documents.ingest:_meter:1",
               "WORKBENCH_PAUSE_MARKER": str(tmp_path / "app-paused")}
    app = subprocess.Popen([WORKBENCH, "serve", "--no-api", "--port", str(port)], env=app_env,
                           stdout=(tmp_path / "app.log").open("w"), stderr=subprocess.STDOUT)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            deadline = time.monotonic() + 60
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}")
                    break
                except playwright.Error:
                    assert time.monotonic() < deadline and app.poll() is None, "the app did not start"
                    time.sleep(0.5)

            # 3. log in while a CLI import holds the database: the page says who holds it
            holder = start_paused(env, "workbench.calls.metrics:refresh:1", tmp_path / "held-2", *holding)
            log_in(page, "anna")
            message = page.get_by_test_id("stAlertContentError").first
            message.wait_for(timeout=30_000)
            text = message.inner_text()
            kill(holder)
            assert f"in use by a workbench command (pid {holder.pid}: workbench calls import" in text

            # 4. logged in, upload a document: the app's worker pauses inside its write
            log_in(page, "anna")
            page.get_by_test_id("stMetric").first.wait_for(timeout=30_000)
            page.get_by_test_id("stSidebarNav").get_by_role("link", name="Upload documents").click()
            page.locator("input[type=file]").set_input_files([str(note(tmp_path, "kettle.md", "kettle"))])
            page.get_by_text("kettle.md").first.wait_for(timeout=20_000)
            submit = page.get_by_role("button", name="Upload and process", exact=True)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not submit.is_enabled():
                page.wait_for_timeout(200)
            submit.click()
            wait_for(tmp_path / "app-paused", app)

            # 5. a CLI write while the app holds the database: the message names the app
            result = run(env, "calls", "import", str(small), "--project", PROJECT, "--as", "anna")
            assert result.returncode == 1 and "Traceback" not in result.stderr
            assert f"in use by the Workbench app (pid {app.pid})" in result.stderr
            browser.close()

        # 6. kill -9 the app mid-ingest; doctor reports, repairs, and the document is found
        kill(app)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    code, report = doctor(env)
    assert code == 1 and len(report["stuck_documents"]) == 1 and report["orphan_vectors"] > 0, report
    assert doctor(env, "--fix")[0] == 0 and doctor(env)[1]["healthy"]
    after = documents(demo_copy)
    assert_kept(committed, after)
    [uuid] = report["stuck_documents"]
    assert after[uuid][0] == "completed" and searchable(demo_copy, "kettle", uuid)
    assert calls_of(demo_copy, "H-") == {}  # each killed import left none of its calls


def log_in(page, username: str) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill("workbench-demo")
    page.get_by_role("button", name="Log in").click()
