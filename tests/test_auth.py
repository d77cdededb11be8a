"""Logins, lockout, legacy pbkdf2 hashes, and organisation API keys."""

import pytest

from workbench.accounts import api_keys, auth, organisations, users
from workbench.errors import AuthFailed, InvalidInput, NotAllowed, NotFound
from workbench.ops.demo.people import legacy_pbkdf2_hash


@pytest.fixture
def org(store):
    with store.transaction() as con:
        org_id = organisations.create_organization(con, "Acme")
        other = organisations.create_organization(con, "Globex")
        users.insert_user(con, org_id, "boss", "boss@acme.test",
                          auth.hash_password("correct horse"), "admin")
        users.insert_user(con, org_id, "ana", "ana@acme.test",
                          auth.hash_password("analyst pass"), "analyst")
        users.insert_user(con, other, "gadmin", "g@globex.test",
                          auth.hash_password("globex pass"), "admin")
        users.insert_user(con, org_id, "old", "old@acme.test",
                          legacy_pbkdf2_hash("legacy pass", b"0123456789abcdef"), "analyst")
    return store


def test_passwords_are_stored_as_argon2id(org):
    with org.connect() as con:
        stored = con.execute("SELECT password_hash FROM users WHERE username = 'boss'").fetchone()
    assert stored[0].startswith("$argon2id$")
    assert "correct horse" not in stored[0]


def test_wrong_user_and_wrong_password_give_the_same_message(org):
    with org.connect() as con:
        with pytest.raises(AuthFailed) as wrong_user:
            auth.login(con, "nobody", "correct horse")
        with pytest.raises(AuthFailed) as wrong_password:
            auth.login(con, "boss", "incorrect")
    assert str(wrong_user.value) == str(wrong_password.value) == auth.LOGIN_FAILED


def test_login_returns_the_users_context(org):
    with org.connect() as con:
        ctx = auth.login(con, "ana", "analyst pass")
    assert ctx.username == "ana" and ctx.org_name == "Acme"
    assert ctx.roles == {"analyst"} and ctx.can("calls:import") and not ctx.can("usage:read")


def test_repeated_failures_lock_the_account_even_with_the_right_password(org):
    with org.connect() as con:
        for _ in range(2):
            with pytest.raises(AuthFailed, match="Wrong"):
                auth.login(con, "ana", "nope", max_failures=3)
        with pytest.raises(AuthFailed, match="Wrong"):
            auth.login(con, "ana", "nope", max_failures=3)
        with pytest.raises(AuthFailed, match="Wrong"):
            auth.login(con, "ana", "analyst pass", max_failures=3)
        locked = con.execute("SELECT locked_until FROM users WHERE username = 'ana'").fetchone()[0]
    assert locked is not None


def test_a_locked_account_answers_as_an_unknown_name_does(org):
    """Neither the message nor a shortcut tells a locked account (so an existing name) apart."""
    with org.connect() as con:
        for _ in range(3):
            with pytest.raises(AuthFailed):
                auth.login(con, "ana", "nope", max_failures=3)
        answers = set()
        for username, password in [("ana", "nope"), ("ana", "analyst pass"), ("nobody", "nope")]:
            with pytest.raises(AuthFailed) as failed:
                auth.login(con, username, password, max_failures=3)
            answers.add(str(failed.value))
    assert answers == {auth.LOGIN_FAILED}


def test_every_password_check_does_the_same_work(monkeypatch):
    """An argon2 account, a legacy pbkdf2 one and an unknown name each cost one argon2 verification
    and one pbkdf2 derivation at the legacy rounds, so a failed login's time tells nothing."""
    import hashlib

    work = []
    real_verify, real_pbkdf2 = auth._argon2_verify, hashlib.pbkdf2_hmac
    monkeypatch.setattr(auth, "_argon2_verify", lambda *a: work.append("argon2") or real_verify(*a))
    monkeypatch.setattr(hashlib, "pbkdf2_hmac",
                        lambda name, pw, salt, n: work.append(n) or real_pbkdf2(name, pw, salt, n))
    argon2_hash = auth.hash_password("some password")
    legacy = legacy_pbkdf2_hash("legacy pass", b"0123456789abcdef")
    seen = {}
    for kind, stored in [("argon2", argon2_hash), ("legacy", legacy), ("unknown", None)]:
        work.clear()
        assert not auth.verify_password("a wrong guess", stored)
        seen[kind] = sorted(map(str, work))
    assert seen["argon2"] == seen["legacy"] == seen["unknown"] == ["29000", "argon2"]


def test_usernames_are_normalised_once_at_the_boundary(org):
    with org.connect() as con:
        for typed in (" ana", "ana ", "\tana\n", "\uff41na"):  # fullwidth a: NFKC makes it 'a'
            assert auth.login(con, typed, "analyst pass").username == "ana"
        assert auth.context_for(con, " ana ").username == "ana"


def test_password_reset_lifts_the_lock(org):
    with org.connect() as con:
        for _ in range(3):
            with pytest.raises(AuthFailed):
                auth.login(con, "ana", "nope", max_failures=3)
        admin = auth.context_for(con, "boss")
        users.reset_password(admin, con, "ana", "a new password")
        assert auth.login(con, "ana", "a new password").username == "ana"


def test_legacy_pbkdf2_login_rehashes_to_argon2(org):
    with org.connect() as con:
        assert con.execute("SELECT password_hash FROM users WHERE username = 'old'"
                           ).fetchone()[0].startswith("$pbkdf2-sha256$")
        with pytest.raises(AuthFailed):
            auth.login(con, "old", "wrong pass")
        assert auth.login(con, "old", "legacy pass").username == "old"
        stored = con.execute("SELECT password_hash FROM users WHERE username = 'old'").fetchone()[0]
        assert stored.startswith("$argon2id$")
        assert auth.login(con, "old", "legacy pass").username == "old"


def test_werkzeug_style_pbkdf2_verifies():
    import hashlib
    digest = hashlib.pbkdf2_hmac("sha256", b"secret", b"salty", 1000).hex()
    assert auth.verify_password("secret", f"pbkdf2:sha256:1000$salty${digest}")
    assert not auth.verify_password("Secret", f"pbkdf2:sha256:1000$salty${digest}")


def test_disabled_user_cannot_log_in(org):
    with org.connect() as con:
        users.set_active(auth.context_for(con, "boss"), con, "ana", False)
        with pytest.raises(AuthFailed, match="disabled"):
            auth.login(con, "ana", "analyst pass")


def test_short_password_is_refused():
    with pytest.raises(InvalidInput, match="8 characters"):
        auth.hash_password("short")


def test_api_key_lifecycle(org):
    with org.connect() as con:
        admin = auth.context_for(con, "boss")
        created = api_keys.create_api_key(admin, con, "support-bot")
        key = created["key"]
        stored = con.execute("SELECT key_hash, key_prefix FROM api_keys").fetchall()
        assert all(key not in row[0] for row in stored)  # only the hash is kept
        assert api_keys.verify_api_key(con, key).org_name == "Acme"
        listed = api_keys.list_api_keys(admin, con)
        assert [k["name"] for k in listed] == ["support-bot"] and listed[0]["last_used_at"]
        assert "key" not in listed[0]
        other = auth.context_for(con, "gadmin")
        with pytest.raises(NotFound):
            api_keys.revoke_api_key(other, con, created["uuid"])
        assert api_keys.list_api_keys(other, con) == []
        api_keys.revoke_api_key(admin, con, created["uuid"])
        with pytest.raises(AuthFailed, match="revoked"):
            api_keys.verify_api_key(con, key)
        with pytest.raises(AuthFailed):
            api_keys.verify_api_key(con, key + "x")


def test_api_keys_need_keys_manage(org):
    with org.connect() as con:
        with pytest.raises(NotAllowed, match="keys:manage"):
            api_keys.create_api_key(auth.context_for(con, "ana"), con, "mine")


def test_the_same_account_logging_in_from_six_tabs_at_once_succeeds_everywhere(org):
    from concurrent.futures import ThreadPoolExecutor

    def log_in(_):
        with org.connect() as con:
            return auth.login(con, "boss", "correct horse").username

    with org.connect(), ThreadPoolExecutor(6) as pool:  # the file stays open, as in the busy app
        assert list(pool.map(log_in, range(6))) == ["boss"] * 6
