"""An open session acts as the user is now, not as they were at login: a role change applies at the
next click, a deleted, disabled or reset user is logged out, and only their own password change
keeps the session that made it."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, ctx_of
from tests.test_pages import APP, app, logged_in  # noqa: F401
from workbench import ui
from workbench.accounts import auth, organisations, users
from workbench.documents import records
from workbench.errors import AuthFailed, InvalidInput


def test_refresh_reads_the_user_again(store):
    with store.transaction() as con:
        org = organisations.create_organization(con, "Acme")
        users.insert_user(con, org, "boss", "boss@acme.test", auth.hash_password("boss password"), "admin")
        users.insert_user(con, org, "ana", "ana@acme.test", auth.hash_password("ana password"), "admin")
    with store.connect() as con:
        boss, ana = auth.context_for(con, "boss"), auth.context_for(con, "ana")
        users.set_role(boss, con, "ana", "viewer")
        demoted = auth.refresh(con, ana)
        assert demoted.roles == {"viewer"} and not demoted.can("users:manage")
        users.reset_password(boss, con, "ana", "a new password")
        with pytest.raises(AuthFailed, match="password was changed"):
            auth.refresh(con, demoted)
        fresh = auth.context_for(con, "ana")
        users.set_active(boss, con, "ana", False)
        with pytest.raises(AuthFailed, match="disabled"):
            auth.refresh(con, fresh)
        records.delete_user(boss, con, "ana")
        with pytest.raises(AuthFailed, match="no longer exists"):
            auth.refresh(con, fresh)


def test_changing_ones_own_password_needs_the_current_one(store):
    with store.transaction() as con:
        org = organisations.create_organization(con, "Acme")
        users.insert_user(con, org, "boss", "boss@acme.test", auth.hash_password("boss password"), "admin")
    with store.connect() as con:
        boss = auth.context_for(con, "boss")
        with pytest.raises(InvalidInput, match="current password is not right"):
            users.change_password(boss, con, "a guess", "a new password")
        with pytest.raises(InvalidInput, match="My account"):  # no way around it through the admin reset
            users.reset_password(boss, con, "boss", "a new password")
        assert auth.login(con, "boss", "boss password").username == "boss"
        kept = users.change_password(boss, con, "boss password", "a new password")
        assert auth.refresh(con, kept) == kept  # the session that changed it goes on
        with pytest.raises(AuthFailed, match="password was changed"):
            auth.refresh(con, boss)  # every other session ends
        assert auth.login(con, "boss", "a new password").username == "boss"


def _second_admin(store) -> None:
    with store.transaction() as con:
        alice = auth.context_for(con, "alice")
        users.add_user(alice, con, "root2", "root2@northwind.example", "root2-password", "admin")


def _alice_does(store, change) -> None:
    with store.transaction() as con:
        change(auth.context_for(con, "alice"), con)


def test_a_disabled_admin_is_logged_out_at_the_next_click_and_adds_no_one(app):  # noqa: F811
    _second_admin(app)
    at = logged_in(app, "root2", "pages/admin/users.py")
    assert at.title[0].value == "Users & roles"
    _alice_does(app, lambda alice, con: users.set_active(alice, con, "root2", False))
    inputs = at.text_input  # the add-user form, filled in the still-open tab
    inputs[0].input("intruder")
    inputs[1].input("intruder@northwind.example")
    inputs[3].input("password-123")
    at.button[0].click().run()
    assert not at.exception
    assert "ctx" not in at.session_state
    assert any("disabled" in w.value for w in at.warning)  # the login page says why
    with app.connect() as con:
        assert con.execute("SELECT count(*) FROM users WHERE username = 'intruder'").fetchone()[0] == 0


def test_a_demoted_user_sees_the_smaller_navigation_and_is_refused_the_old_pages(app):  # noqa: F811
    at = logged_in(app, "dan", "pages/models/churn.py")
    assert at.title[0].value == "Churn"
    _alice_does(app, lambda alice, con: users.set_role(alice, con, "dan", "viewer"))
    at.run()
    assert not at.exception
    assert at.session_state["ctx"].roles == {"viewer"}
    # Churn is no longer in their navigation: the next click lands on Home, not on the training page
    assert [t.value for t in at.title] == ["Northwind Mobile"]
    assert not any(b.key == "churn.train" for b in at.button)
    assert [p.title for p in ui.visible_pages(at.session_state["ctx"])] == [
        "Home", "Chat", "Projects", "Documents", "Search documents", "Code repositories", "Calls",
        "Search calls", "QA pairs", "My account"]
    stale = ctx_of(app, "dan")
    direct = AppTest.from_file(str(ROOT / "pages" / "models" / "churn.py"), default_timeout=30)
    direct.session_state["ctx"] = stale.__class__(**{**stale.__dict__, "roles": frozenset({"data_scientist"}),
                                                     "permissions": frozenset({"models:train"})})
    direct.run()  # a session holding the old rights is refused by the page itself
    assert direct.error and "models:train" in direct.error[0].value


@pytest.mark.parametrize("change", ["delete", "reset"])
def test_a_deleted_or_reset_user_is_logged_out(app, change):  # noqa: F811
    at = logged_in(app, "anna", "pages/calls/browse.py")
    if change == "delete":
        _alice_does(app, lambda alice, con: records.delete_user(alice, con, "anna"))
    else:
        _alice_does(app, lambda alice, con: users.reset_password(alice, con, "anna", "reset-by-alice"))
    at.run()
    assert not at.exception
    assert "ctx" not in at.session_state
    reason = "no longer exists" if change == "delete" else "password was changed"
    assert any(reason in w.value for w in at.warning)


def test_the_account_page_changes_the_password_and_keeps_this_session(app):  # noqa: F811
    at = logged_in(app, "mike", "pages/account/my_account.py")
    other = logged_in(app, "mike")  # the same user in a second tab
    current, new, again = at.text_input
    current.input("not-my-password")
    new.input("mikes-new-password")
    again.input("mikes-new-password")
    at.button[0].click().run()
    assert at.error and "current password is not right" in at.error[0].value
    current, new, again = at.text_input
    current.input("workbench-demo")
    new.input("mikes-new-password")
    again.input("mikes-new-password")
    at.button[0].click().run()
    assert not at.error and "Password changed" in at.success[0].value
    at.run()
    assert "ctx" in at.session_state
    other.run()
    assert "ctx" not in other.session_state


def test_a_page_run_reads_the_user_once_and_every_run_again(app, monkeypatch):  # noqa: F811
    at = logged_in(app, "dan", "pages/models/churn.py")
    reads = []
    refresh = auth.refresh
    monkeypatch.setattr(auth, "refresh", lambda con, ctx: reads.append(ctx.username) or refresh(con, ctx))
    at.run()
    assert reads == ["dan"]  # app.py's read serves the page too
    _alice_does(app, lambda alice, con: users.set_role(alice, con, "dan", "viewer"))
    at.run()
    assert reads == ["dan", "dan"] and at.session_state["ctx"].roles == {"viewer"}
    assert "_ctx_checked_this_run" not in at.session_state  # nothing of the run is left for the next
