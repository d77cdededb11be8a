"""Projects: create, rename, archive and delete (with what they hold, vectors and files included),
by the rules of who may; in the service, the `workbench project` commands and the Projects page."""

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ctx_of
from tests.test_cli import run
from tests.test_pages import app, logged_in  # noqa: F401 (the page tests' fixture)
from workbench import home
from workbench.accounts import audit, auth, organisations, projects, users
from workbench.accounts import cascade as relations
from workbench.calls import datasets, qa
from workbench.calls import imports as calls
from workbench.calls import search as call_search
from workbench.cli.main import main
from workbench.documents import records
from workbench.errors import Conflict, InvalidInput, NotAllowed, NotFound
from workbench.ops import doctor

CARE, RETENTION = "Customer care line", "Retention desk"  # anna's projects in the demo
ONE_CALL = b'[{"call_id": "N-1", "transcript": "Agent: Hello.\\nCustomer: My parcel is late."}]'


@pytest.fixture
def wb(demo_copy):
    return home.Workbench(demo_copy)


def project_log(store) -> list[tuple[str, str, str]]:
    with store.connect() as con:
        entries = audit.events(ctx_of(store, "alice"), con, action="project.")
    return [(e["actor"], e["action"], e["target"]) for e in reversed(entries)]


def held(wb, name: str) -> dict:
    """What a project holds: its rows, vectors and files."""
    with wb.store.connect() as con:
        pid = con.execute("SELECT id FROM projects WHERE name = ?", [name]).fetchone()[0]
        rows = {t: con.execute(f"SELECT count(*) FROM {t} WHERE project_id = ?", [pid]).fetchone()[0]
                for t in ("calls", "utterances", "intents", "qa_pairs", "documents", "budgets")}
        files = [r[0] for r in con.execute("SELECT file_path FROM documents WHERE project_id = ?",
                                           [pid]).fetchall()]
    utterances = wb.vectors.table(call_search.UTTERANCES)
    return rows | {"chunk_vectors": wb.vectors.count(f"project_id = {pid}"),
                   "utterance_vectors": utterances.count_rows(f"project_id = {pid}"),
                   "files": sum((wb.settings.home / f).is_file() for f in files), "id": pid}


# --- the service ----------------------------------------------------------------------------------
def test_who_may_list_create_and_change(demo_store):
    with demo_store.connect() as con:
        for reader in ("vera", "mike", "dan"):  # viewer, manager, data scientist: the list only
            ctx = ctx_of(demo_store, reader)
            rows = projects.list_projects(ctx, con)
            assert [r["name"] for r in rows] == [CARE, RETENTION] and not any(r["can_manage"] for r in rows)
            with pytest.raises(NotAllowed, match="projects:write"):
                projects.create_project(ctx, con, "Mine")
        care = projects.get_project(ctx_of(demo_store, "anna"), con, CARE)
        assert (care["owner"], care["calls"], care["documents"], care["qa_pairs"], care["archived"]) == (
            "anna", 100, 12, 84, False)
        assert care["can_manage"]
        assert projects.get_project(ctx_of(demo_store, "alice"), con, CARE)["can_manage"]
        assert not projects.get_project(ctx_of(demo_store, "arthur"), con, CARE)["can_manage"]


def test_create_is_audited_and_names_are_unique_per_owner(wb):
    arthur, anna = ctx_of(wb.store, "arthur"), ctx_of(wb.store, "anna")
    with wb.store.connect() as con:
        made = projects.create_project(arthur, con, f"  {CARE} ", " Second line ")
        assert made["name"] == CARE  # anna has one by that name; names are unique per owner
        with pytest.raises(Conflict, match="You already have a project named"):
            projects.create_project(anna, con, CARE)
        with pytest.raises(InvalidInput, match="needs a name"):
            projects.create_project(anna, con, "   ")
        assert projects.get_project(arthur, con, made["uuid"])["description"] == "Second line"
    assert project_log(wb.store) == [("arthur", "project.create", CARE)]


def test_rename_by_owner_or_admin_only_and_never_onto_a_name_the_owner_has(wb):
    anna, arthur, alice = (ctx_of(wb.store, u) for u in ("anna", "arthur", "alice"))
    with wb.store.connect() as con:
        with pytest.raises(NotAllowed, match="Only anna, who owns 'Retention desk', or an admin"):
            projects.rename_project(arthur, con, RETENTION, "Mine now")
        with pytest.raises(Conflict, match="You already have a project named 'Customer care line'"):
            projects.rename_project(anna, con, RETENTION, CARE)
        with pytest.raises(Conflict, match="anna already has a project named 'Customer care line'"):
            projects.rename_project(alice, con, RETENTION, CARE)
        assert projects.rename_project(anna, con, RETENTION, "Retention")["name"] == "Retention"
        assert projects.rename_project(alice, con, "Retention", "Win-back")["name"] == "Win-back"
        assert [r["name"] for r in projects.list_projects(alice, con)] == [CARE, "Win-back"]
        # the calls followed their project
        assert len(calls.list_calls(anna, con, "Win-back")) == 80
    assert project_log(wb.store) == [("anna", "project.rename", "Retention"),
                                     ("alice", "project.rename", "Win-back")]


def test_another_organisations_project_reads_as_unknown(wb, demo_copy):
    hannah = ctx_of(wb.store, "hannah")  # Helio Cloud's admin
    with wb.store.connect() as con:
        care_uuid = projects.get_project(ctx_of(wb.store, "anna"), con, CARE)["uuid"]
        for name in (CARE, care_uuid, "No such project"):
            for change in (lambda n: projects.rename_project(hannah, con, n, "Taken"),
                           lambda n: projects.archive_project(hannah, con, n),
                           lambda n: projects.get_project(hannah, con, n),
                           lambda n: records.delete_project(hannah, con, n)):
                with pytest.raises(NotFound) as found:
                    change(name)
                assert str(found.value) == f"No project {name!r} in your organisation."
    assert held(wb, CARE)["calls"] == 100 and project_log(wb.store) == []


def test_an_admin_naming_a_project_two_colleagues_own_is_asked_for_its_uuid(wb):
    alice = ctx_of(wb.store, "alice")
    with wb.store.connect() as con:
        made = projects.create_project(ctx_of(wb.store, "arthur"), con, CARE)
        with pytest.raises(InvalidInput, match="2 projects are named 'Customer care line' .* UUID"):
            projects.archive_project(alice, con, CARE)
        assert projects.archive_project(alice, con, made["uuid"])["archived"]
        rows = projects.list_projects(alice, con, include_archived=True)
        assert {(r["owner"], r["archived"]) for r in rows if r["name"] == CARE} == {("anna", False),
                                                                                  ("arthur", True)}


def test_an_archived_project_takes_no_calls_or_qa_pairs_until_unarchived(wb):
    anna = ctx_of(wb.store, "anna")
    with wb.store.connect() as con:
        assert projects.archive_project(anna, con, RETENTION) == {
            "uuid": projects.get_project(anna, con, RETENTION)["uuid"], "name": RETENTION, "archived": True}
        projects.archive_project(anna, con, RETENTION)  # already archived: nothing changes, nothing logged
        assert [r["name"] for r in projects.list_projects(anna, con)] == [CARE]
        every = projects.list_projects(anna, con, include_archived=True)
        assert [(r["name"], r["archived"]) for r in every] == [(CARE, False), (RETENTION, True)]
        assert len(calls.list_calls(anna, con, RETENTION)) == 80  # still readable
    refusal = "Project 'Retention desk' is archived.*workbench project unarchive 'Retention desk'"
    with pytest.raises(InvalidInput, match=refusal):
        calls.import_calls(anna, wb, "new.json", ONE_CALL, RETENTION)
    (outcome,), indexed = calls.import_files(anna, wb, [("new.json", ONE_CALL)], RETENTION)
    assert outcome.counts is None and "archived" in str(outcome.error) and indexed is None
    for write in (lambda: qa.create_pair(anna, wb, RETENTION, "Can I pause my plan?", "Yes, for a month."),
                  lambda: qa.import_pairs(anna, wb, RETENTION, "qa.csv", b"question,answer\nWhy?,Because.\n"),
                  lambda: qa.extract_from_calls(anna, wb, RETENTION)):
        with pytest.raises(InvalidInput, match=refusal):
            write()
    assert (held(wb, RETENTION)["calls"], held(wb, RETENTION)["qa_pairs"]) == (80, 29)
    with wb.store.connect() as con:
        projects.archive_project(ctx_of(wb.store, "alice"), con, RETENTION, archived=False)
    assert calls.import_calls(anna, wb, "new.json", ONE_CALL, RETENTION)["created"] == 1
    assert project_log(wb.store) == [("anna", "project.archive", RETENTION),
                                     ("alice", "project.unarchive", RETENTION)]


def test_delete_takes_rows_vectors_and_files_and_leaves_no_orphans(wb):
    with wb.store.connect() as con:
        dataset = datasets.export_qa(ctx_of(wb.store, "anna"), con, wb.settings, CARE)
    before = held(wb, CARE)
    assert before["chunk_vectors"] and before["utterance_vectors"] and before["files"] and before["budgets"]
    other = held(wb, RETENTION)
    with wb.store.connect() as con:
        with pytest.raises(NotAllowed):
            records.delete_project(ctx_of(wb.store, "arthur"), con, CARE, settings=wb.settings,
                                   vectors=wb.vectors)
        with pytest.raises(NotAllowed):  # a manager reads projects, never deletes one
            records.delete_project(ctx_of(wb.store, "mike"), con, CARE, settings=wb.settings,
                                   vectors=wb.vectors)
        with pytest.raises(NotAllowed, match="holds 10 documents that others uploaded: only an admin"):
            records.delete_project(ctx_of(wb.store, "anna"), con, CARE, settings=wb.settings,  # her own,
                                   vectors=wb.vectors)  # but not what others put in it
        assert held(wb, CARE) == before
        deleted = records.delete_project(ctx_of(wb.store, "alice"), con, CARE, settings=wb.settings,
                                         vectors=wb.vectors)
        gone = ("projects", "calls", "utterances", "qa_pairs", "documents", "datasets", "budgets")
        assert [deleted[t] for t in gone] == [1, 100, before["utterances"], 84, 12, 1, 1]
        assert con.execute("SELECT count(*) FROM projects WHERE id = ?", [before["id"]]).fetchone()[0] == 0
        assert relations.orphans(con) == {}
        # conversations and metering stay, without the link
        linked = con.execute("SELECT count(*) FROM llm_calls WHERE project_id = ?", [before["id"]]).fetchone()
        assert linked == (0,) and con.execute("SELECT count(*) FROM llm_calls").fetchone()[0] > 0
    assert wb.vectors.count(f"project_id = {before['id']}") == 0 and not Path(dataset["file_path"]).exists()
    assert wb.vectors.table(call_search.UTTERANCES).count_rows(f"project_id = {before['id']}") == 0
    report = doctor.check(wb.settings, wb.store, wb.vectors)
    assert report.healthy, report.summary()
    assert held(wb, RETENTION) == other
    entry = json.loads(next(e for e in _events(wb) if e["action"] == "project.delete")["detail"])
    assert (entry["owner"], entry["calls"], entry["documents"], entry["qa_pairs"], entry["datasets"]) == (
        "anna", 100, 12, 84, 1)


def _events(wb):
    with wb.store.connect() as con:
        return audit.events(ctx_of(wb.store, "alice"), con, action="project.")


def test_a_failing_delete_changes_nothing(wb, monkeypatch):
    before = held(wb, CARE)
    real = relations._delete

    def fail_at_documents(con, table, where, params, counts):
        if table == "documents":
            raise RuntimeError("disk full")
        return real(con, table, where, params, counts)

    monkeypatch.setattr(relations, "_delete", fail_at_documents)
    with wb.store.connect() as con, pytest.raises(RuntimeError):
        records.delete_project(ctx_of(wb.store, "alice"), con, CARE, settings=wb.settings, vectors=wb.vectors)
    assert held(wb, CARE) == before and project_log(wb.store) == []


def test_deletion_warning_names_what_goes():
    row = {"name": "Support desk", "calls": 120, "documents": 3, "qa_pairs": 40, "datasets": 0}
    assert projects.deletion_warning(row) == (
        "Delete 'Support desk' and its 120 calls, 3 documents and 40 QA pairs? This cannot be undone.")
    assert projects.contents_in_words(row | {"calls": 1, "documents": 0, "qa_pairs": 0, "datasets": 1}) == (
        "1 call and 1 dataset")
    assert projects.deletion_warning(row | {"calls": 0, "documents": 0, "qa_pairs": 0}) == (
        "Delete 'Support desk'? It holds no calls, documents, QA pairs or datasets.")


# --- the CLI --------------------------------------------------------------------------------------
def cli(demo_copy, *args, stdin=None):
    env = {"WORKBENCH_HOME": str(demo_copy.home), "WORKBENCH_LOCK_WAIT_S": "1",
           "WORKBENCH_EMBEDDING_BACKEND": "hash"}
    return CliRunner().invoke(main, list(args), input=stdin, env=env)


@pytest.mark.parametrize("command", ["list", "create", "rename", "archive", "unarchive", "delete"])
def test_every_project_command_has_help(command):
    shown = CliRunner().invoke(main, ["project", command, "--help"])
    assert shown.exit_code == 0 and "--as USERNAME" in shown.stdout


def test_project_commands(demo_copy):
    listed = cli(demo_copy, "project", "list", "--as", "vera")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[0].split()[:3] == ["Project", "Owner", "Status"]
    assert "Customer care line           anna         active          100" in listed.stdout
    refused = cli(demo_copy, "project", "create", "Mine", "--as", "vera")
    assert refused.exit_code == 1 and refused.stderr.startswith("error: vera may not do this")
    made = cli(demo_copy, "project", "create", "Field sales", "--description", "Outbound", "--as", "arthur",
               "--json")
    assert made.exit_code == 0 and json.loads(made.stdout)["name"] == "Field sales"
    assert "Renamed 'Field sales' to 'Field team'." in cli(
        demo_copy, "project", "rename", "Field sales", "Field team", "--as", "arthur").stdout
    clash = cli(demo_copy, "project", "rename", "Field team", CARE, "--as", "alice")
    assert clash.exit_code == 0  # arthur has no project by that name; anna's does not count
    taken = cli(demo_copy, "project", "rename", RETENTION, CARE, "--as", "anna")
    assert taken.exit_code == 1 and "You already have a project named" in taken.stderr
    archived = cli(demo_copy, "project", "archive", RETENTION, "--as", "anna")
    assert archived.exit_code == 0 and "is archived" in archived.stdout
    rows = json.loads(cli(demo_copy, "project", "list", "--as", "anna", "--json").stdout)
    assert {r["name"]: r["archived"] for r in rows} == {CARE: False, RETENTION: True}
    assert "active again" in cli(demo_copy, "project", "unarchive", RETENTION, "--as", "anna").stdout
    other = cli(demo_copy, "project", "archive", CARE, "--as", "hannah")
    assert other.exit_code == 1 and other.stderr == f"error: No project {CARE!r} in your organisation.\n"


def test_project_delete_asks_first(demo_copy):
    declined = cli(demo_copy, "project", "delete", CARE, "--as", "anna", stdin="n\n")
    assert declined.exit_code == 1
    assert ("Delete 'Customer care line' and its 100 calls, 12 documents and 84 QA pairs? This cannot be"
            " undone.") in declined.stderr and "Nothing deleted." in declined.stderr
    not_owner = cli(demo_copy, "project", "delete", CARE, "--as", "arthur", "--yes")
    assert not_owner.exit_code == 1 and "Only anna" in not_owner.stderr
    theirs = cli(demo_copy, "project", "delete", CARE, "--as", "anna", "--yes")  # others' documents in it
    assert theirs.exit_code == 1 and "only an admin may delete it with them" in theirs.stderr
    done = cli(demo_copy, "project", "delete", CARE, "--as", "alice", stdin="y\n")
    assert done.exit_code == 0, done.output
    assert done.stdout == "Deleted 'Customer care line' and its 100 calls, 12 documents and 84 QA pairs.\n"
    quiet = cli(demo_copy, "project", "delete", RETENTION, "--as", "alice", "--yes", "--json")
    assert quiet.exit_code == 0 and json.loads(quiet.stdout)["deleted"]["calls"] == 80
    assert json.loads(cli(demo_copy, "project", "list", "--as", "alice", "--json").stdout) == []
    assert "No projects yet" in cli(demo_copy, "project", "list", "--as", "alice").stdout


def test_a_new_organisation_creates_a_project_and_imports_calls(tmp_path):
    """The journey the commands were missing: `init --org`, then a project, then calls."""
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "home"), "WORKBENCH_LOCK_WAIT_S": "1",
           "WORKBENCH_EMBEDDING_BACKEND": "hash"}
    made = run(env, "init", "--org", "Acme", "--admin", "root", "--email", "root@acme.example",
               "--password-stdin", stdin="a-long-password\n")
    assert made.returncode == 0, made.stderr
    assert run(env, "project", "create", "Support", "--as", "root").returncode == 0
    (tmp_path / "calls.json").write_bytes(ONE_CALL)
    imported = run(env, "calls", "import", str(tmp_path / "calls.json"), "--project", "Support",
                   "--as", "root", "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["created"] == 1


# --- the page -------------------------------------------------------------------------------------
PAGE = "pages/workbench/projects.py"


def test_projects_page_lists_creates_renames_and_archives(app):  # noqa: F811
    at = logged_in(app, "anna", PAGE)
    assert at.title[0].value == "Projects" and not at.error
    frame = at.dataframe[0].value
    assert list(frame["name"]) == [CARE, RETENTION] and list(frame["status"]) == ["Active", "Active"]
    headers = {k: v["label"] for k, v in json.loads(at.dataframe[0].proto.columns).items() if "label" in v}
    assert list(headers.values()) == ["Project", "Description", "Owner", "Created", "Status", "Calls",
                                      "Documents", "QA pairs", "Datasets"]
    next(t for t in at.text_input if t.label == "Name").input("Field sales")
    next(b for b in at.button if b.label == "Create project").click().run()
    assert not at.exception and "Created 'Field sales'" in at.success[0].value
    assert "Field sales" in list(at.dataframe[0].value["name"])
    at.selectbox(key="projects.chosen").set_value(
        next(r["uuid"] for r in _rows(app, "anna") if r["name"] == RETENTION)).run()
    next(t for t in at.text_input if t.label == "New name").input("Win-back")
    next(b for b in at.button if b.label == "Rename").click().run()
    assert not at.exception and at.success[0].value == "Renamed 'Retention desk' to 'Win-back'."
    at.selectbox(key="projects.chosen").set_value(next(r["uuid"] for r in _rows(app, "anna")
                                                       if r["name"] == "Win-back")).run()
    at.button(key="projects.archive").click().run()
    assert not at.exception and at.success[0].value == "'Win-back' is archived."
    frame = at.dataframe[0].value
    assert dict(zip(frame["name"], frame["status"], strict=True))["Win-back"] == "Archived"


def _rows(store, username):
    with store.connect() as con:
        return projects.list_projects(ctx_of(store, username), con, include_archived=True)


def test_projects_page_deletes_behind_a_confirmation_that_says_what_goes(app):  # noqa: F811
    at = logged_in(app, "alice", PAGE)
    care = next(r for r in _rows(app, "alice") if r["name"] == CARE)
    at.selectbox(key="projects.chosen").set_value(care["uuid"]).run()
    warning = ("Delete 'Customer care line' and its 100 calls, 12 documents and 84 QA pairs? This cannot be"
               " undone.")
    assert warning in [m.value for m in at.markdown]
    at.button(key="projects.delete").click().run()
    assert not at.exception
    assert at.success[0].value == f"Deleted {CARE!r} and its 100 calls, 12 documents and 84 QA pairs."
    assert [r["name"] for r in _rows(app, "alice")] == [RETENTION]


def test_projects_page_for_a_viewer_is_the_list_only(app):  # noqa: F811
    at = logged_in(app, "vera", PAGE)
    assert not at.exception and not at.error
    assert len(at.dataframe[0].value) == 2
    assert not [b for b in at.button if b.label in ("Create project", "Rename", "Archive", "Delete for good")]
    assert not at.text_input


def test_projects_page_of_a_new_organisation_says_what_to_do(app):  # noqa: F811
    with app.transaction() as con:
        org_id = organisations.create_organization(con, "Acme")
        users.insert_user(con, org_id, "root", "root@acme.example", auth.hash_password("a-long-password"),
                          "admin")
    at = logged_in(app, "root", PAGE)
    assert not at.exception and not at.dataframe
    assert at.info[0].value == "No projects yet. Create the first one below, then import calls into it."
    assert any(c.value.startswith("You own no project yet") for c in at.caption)


def test_calls_pickers_leave_archived_projects_out_unless_chosen(app):  # noqa: F811
    with app.connect() as con:
        projects.archive_project(ctx_of(app, "anna"), con, RETENTION)
    at = logged_in(app, "anna", "pages/calls/browse.py")
    assert at.selectbox(key="calls.project").options == ["all projects", CARE]
    at = logged_in(app, "anna")
    at.session_state["calls.kept_project"] = RETENTION  # chosen before it was archived
    at.switch_page("pages/calls/browse.py").run()
    assert not at.exception
    assert at.selectbox(key="calls.project").options == ["all projects", CARE, RETENTION]
    assert at.selectbox(key="calls.project").value == RETENTION
