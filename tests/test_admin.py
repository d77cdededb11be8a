"""Administration: the business profile, API keys, agents and stages, and the audit log that
records every administrative change in the same transaction, per organisation."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, ctx_of
from tests.test_pages import app, logged_in  # noqa: F401
from workbench import home
from workbench.accounts import api_keys, audit, auth, organisations, users
from workbench.chat import prompts
from workbench.documents import records
from workbench.errors import InvalidInput, NotAllowed, NotFound
from workbench.usage import budgets, price_catalogue


@pytest.fixture
def admin_store(demo_copy):
    return home.open_store(demo_copy)


def entries(store, username="alice", **filters):
    ctx = ctx_of(store, username)
    with store.connect() as con:
        return audit.events(ctx, con, **filters)


def test_every_user_change_is_recorded_with_who_what_and_when(admin_store):
    alice = ctx_of(admin_store, "alice")
    with admin_store.transaction() as con:
        users.add_user(alice, con, "zoe", "zoe@northwind.example", "a-long-secret-1", "analyst")
        users.set_role(alice, con, "zoe", "manager")
        users.set_active(alice, con, "zoe", False)
        users.reset_password(alice, con, "zoe", "another-secret-2")
        records.delete_user(alice, con, "zoe")
    log = entries(admin_store, action="user.")
    assert [e["action"] for e in log] == [
        "user.delete",
        "user.password",
        "user.disable",
        "user.role",
        "user.add",
    ]
    assert {e["actor"] for e in log} == {"alice"} and {e["target"] for e in log} == {"zoe"}
    assert json.loads(log[3]["detail"]) == {"before": ["analyst"], "after": ["manager"]}
    assert json.loads(log[1]["detail"]) == {"by": "admin reset"}
    text = json.dumps(log, default=str)
    assert "a-long-secret-1" not in text and "another-secret-2" not in text and "argon2" not in text


def test_a_refused_change_records_nothing(admin_store):
    alice = ctx_of(admin_store, "alice")
    with admin_store.connect() as con, pytest.raises(InvalidInput, match="taken"):
        users.add_user(alice, con, "dan", "someone@northwind.example", "a-long-secret-1")
    with admin_store.connect() as con, pytest.raises(InvalidInput, match="8 characters"):
        users.reset_password(alice, con, "dan", "short")
    assert entries(admin_store) == []


def test_keys_are_recorded_by_prefix_never_by_secret(admin_store):
    alice = ctx_of(admin_store, "alice")
    with admin_store.transaction() as con:
        key = api_keys.create_api_key(alice, con, "support-bot")
        api_keys.revoke_api_key(alice, con, key["uuid"])
        api_keys.revoke_api_key(alice, con, key["uuid"])  # a second revoke changes nothing
    log = entries(admin_store, action="key.")
    assert [e["action"] for e in log] == ["key.revoke", "key.create"]
    assert log[0]["target"] == f"support-bot ({key['prefix']}…)"
    assert key["key"] not in json.dumps(log, default=str)
    with admin_store.connect() as con, pytest.raises(auth.AuthFailed):
        api_keys.verify_api_key(con, key["key"])


def test_business_profile_edits_are_checked_and_recorded(admin_store):
    alice = ctx_of(admin_store, "alice")
    with admin_store.transaction() as con:
        org = organisations.update_organization(
            alice, con, owner="mike", website="https://northwind.example/support", phone_number=""
        )
    assert org["owner"] == "mike" and org["website"] == "https://northwind.example/support"
    assert org["phone_number"] is None
    (entry,) = entries(admin_store, action="org.")
    assert json.loads(entry["detail"]) == {"owner": "mike", "website": "https://northwind.example/support"}
    with admin_store.connect() as con:
        with pytest.raises(InvalidInput, match="needs a name"):
            organisations.update_organization(alice, con, name="  ")
        with pytest.raises(InvalidInput, match="already exists"):
            organisations.update_organization(
                alice, con, name=organisations.organization(ctx_of(admin_store, "hannah"), con)["name"]
            )
        with pytest.raises(NotFound):
            organisations.update_organization(alice, con, owner="hannah")  # another organisation's user
        with pytest.raises(NotAllowed):
            organisations.update_organization(ctx_of(admin_store, "mike"), con, website="https://evil.example")
    assert len(entries(admin_store, action="org.")) == 1


def test_agents_stages_templates_prices_and_budgets_are_recorded(admin_store):
    alice = ctx_of(admin_store, "alice")
    with admin_store.connect() as con:
        agent = next(a for a in prompts.list_agents(alice, con) if a["agent_type"] == "rag")
        stage = prompts.stage_settings(alice, con)[0]
        template = next(t for t in prompts.list_templates(alice, con) if t["name"] == "answer-from-sources")
    with admin_store.transaction() as con:
        prompts.update_agent(
            alice, con, agent["uuid"], name="Policy helper", description="Answers policy questions."
        )
        prompts.update_stage(
            alice,
            con,
            stage["uuid"],
            description="Policies and manuals.",
            position=5,
            response_template="answer-about-code",
        )
        prompts.update_template(alice, con, template["uuid"], content=template["content"] + "\nBe brief.")
        price = price_catalogue.add_price(
            alice,
            con,
            provider="acme",
            model="acme-1",
            input_per_million=1.0,
            output_per_million=2.0,
            source="contract",
        )
        budget_id = budgets.set_budget(alice, con, scope="user", user="anna", monthly_usd=25)
        budgets.delete_budget(alice, con, budget_id)
        price_catalogue.delete_price(alice, con, price["id"])
    assert [e["action"] for e in entries(admin_store)] == [
        "price.delete",
        "budget.delete",
        "budget.set",
        "price.add",
        "template.edit",
        "stage.edit",
        "agent.edit",
    ]
    with admin_store.connect() as con:
        assert prompts.stage_settings(alice, con)[-1]["response_template"] == "answer-about-code"
        with pytest.raises(InvalidInput, match="response templates"):
            prompts.update_stage(
                alice, con, stage["uuid"], description="x", position=0, response_template="system"
            )
        with pytest.raises(NotAllowed):
            prompts.update_agent(
                ctx_of(admin_store, "anna"), con, agent["uuid"], name="Mine", description=None
            )


def test_only_admins_read_the_log_and_only_their_own_organisation(admin_store):
    alice, hannah = ctx_of(admin_store, "alice"), ctx_of(admin_store, "hannah")
    with admin_store.transaction() as con:
        users.set_role(alice, con, "vera", "analyst")
        users.set_role(hannah, con, "victor", "analyst")
    assert [e["target"] for e in entries(admin_store, "alice")] == ["vera"]
    assert [e["target"] for e in entries(admin_store, "hannah")] == ["victor"]
    with admin_store.connect() as con, pytest.raises(NotAllowed):
        audit.events(ctx_of(admin_store, "mike"), con)


def test_the_record_outlives_the_actor_and_goes_with_the_organisation(admin_store):
    alice = ctx_of(admin_store, "alice")
    with admin_store.transaction() as con:
        users.add_user(alice, con, "ops", "ops@northwind.example", "a-long-secret-1", "admin")
    ops = ctx_of(admin_store, "ops")
    with admin_store.transaction() as con:
        users.set_role(ops, con, "vera", "analyst")
        records.delete_user(alice, con, "ops")
    log = entries(admin_store)
    assert ("ops", "user.role", "vera") in [(e["actor"], e["action"], e["target"]) for e in log]
    with admin_store.connect() as con:
        assert (
            con.execute("SELECT count(*) FROM audit_log WHERE actor = 'ops' AND actor_id IS NULL").fetchone()[
                0
            ]
            == 1
        )


def test_model_stage_changes_appear_in_the_log(admin_store):
    alice = ctx_of(admin_store, "alice")
    with admin_store.transaction() as con:
        org_id = alice.org_id
        artifact = con.execute(
            "INSERT INTO model_artifacts (org_id, name, version, stage, created_by) VALUES (?, 'churn', '1',"
            " 'production', ?) RETURNING id",
            [org_id, alice.user_id],
        ).fetchone()[0]
        con.execute(
            "INSERT INTO model_stage_transitions (model_artifact_id, from_stage, to_stage, changed_by,"
            " reason, action) VALUES (?, 'staging', 'production', ?, 'beats v0', 'promote')",
            [artifact, alice.user_id],
        )
    (entry,) = entries(admin_store, action="model.")
    assert entry["target"] == "churn v1" and entry["action"] == "model.promote"
    assert json.loads(entry["detail"])["reason"] == "beats v0"


def test_administration_page_creates_a_key_shown_once_then_revokes_it(app):  # noqa: F811
    at = logged_in(app, "alice", "pages/admin/api_keys.py")
    assert at.title[0].value == "API keys" and not at.error
    name = next(t for t in at.text_input if t.label == "Name of a new key")
    name.input("support-bot")
    next(s for s in at.selectbox if s.label == "Role").set_value("reporter")
    next(b for b in at.button if b.label == "Create key").click().run()
    shown = [c.value for c in at.code if c.value.startswith(api_keys.API_KEY_PREFIX)]
    assert len(shown) == 1 and not at.exception
    with app.connect() as con:
        acting = api_keys.verify_api_key(con, shown[0])
        assert acting.org_name == "Northwind Mobile" and acting.permissions == {"usage:ingest"}
    at.run()
    assert not [c.value for c in at.code if c.value.startswith(api_keys.API_KEY_PREFIX)]  # shown once
    assert any("support-bot · reporter · created" in m.value and "by alice" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Revoke").click().run()
    assert any("Revoked support-bot" in s.value for s in at.success)
    at.switch_page("pages/admin/audit.py").run()
    log = at.dataframe[0].value
    assert list(log["action"][:2]) == ["key.revoke", "key.create"]


def test_administration_page_is_absent_for_a_manager_and_refuses_if_reached(app):  # noqa: F811
    at = logged_in(app, "mike")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/admin/organisation.py")
    for page in ("organisation.py", "api_keys.py", "audit.py"):
        direct = AppTest.from_file(str(ROOT / "pages" / "admin" / page), default_timeout=30)
        direct.session_state["ctx"] = ctx_of(app, "mike")
        direct.run()
        assert direct.error and "admin:full" in direct.error[0].value, page
        assert not direct.code and not direct.dataframe and not direct.text_input, page
