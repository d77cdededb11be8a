"""Passwords, logins, the acting user's context, and organisation API keys."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import time
import unicodedata
from datetime import datetime, timedelta

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from workbench.accounts.context import Context
from workbench.db import fetch_dicts, fetch_one
from workbench.errors import AuthFailed, Conflict, InvalidInput, NotFound

_hasher = PasswordHasher()  # argon2id with argon2-cffi's recommended parameters
# Every failed login answers this, whatever failed (unknown name, wrong password, locked account),
# so that the answer never tells which usernames exist or which accounts are locked.
# The login form says how locks work instead (ui.login_form).
LOGIN_FAILED = "Wrong username or password."
# The work of one password check is the same for every account and for unknown names: one argon2
# verification and one pbkdf2_sha256 derivation at seed 000's (passlib's) rounds, one of them against
# a dummy when the account does not need it. So the time of a failed login tells nothing either.
_LEGACY_ROUNDS = 29000


def normalise_username(username: str | None) -> str:
    """A username as typed, in the one form it is stored and looked up in (NFKC, no surrounding
    space): every boundary (login form, CLI --as, API) passes names through here once."""
    return unicodedata.normalize("NFKC", username or "").strip()


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    if len(password) < 8:
        raise InvalidInput("A password needs at least 8 characters.")
    return _hasher.hash(password)


def _ab64_decode(text: str) -> bytes:
    """passlib's adapted base64: '.' for '+', no padding."""
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def verify_legacy_pbkdf2(password: str, stored: str) -> bool:
    """Verify seed 000's pbkdf2_sha256 hashes (passlib or werkzeug format)."""
    if stored.startswith("$pbkdf2-sha256$"):
        _, _, rounds, salt, checksum = stored.split("$")
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), _ab64_decode(salt), int(rounds))
        return hmac.compare_digest(digest, _ab64_decode(checksum))
    if stored.startswith("pbkdf2:sha256"):
        method, salt, hexhash = stored.split("$")
        rounds = int(method.split(":")[2]) if method.count(":") == 2 else 260000
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds)
        return hmac.compare_digest(digest.hex(), hexhash)
    return False


def is_legacy_hash(stored: str) -> bool:
    return stored.startswith(("$pbkdf2-sha256$", "pbkdf2:sha256"))


def verify_password(password: str, stored: str | None) -> bool:
    """True when the password matches an argon2 or legacy pbkdf2_sha256 hash. The check costs the
    same whatever the hash (or None, for a user that does not exist): see _dummy_argon2."""
    legacy = stored is not None and is_legacy_hash(stored)
    argon2_ok = _argon2_verify(stored if stored is not None and not legacy else _dummy_argon2(), password)
    if legacy:
        return verify_legacy_pbkdf2(password, stored)
    hashlib.pbkdf2_hmac("sha256", password.encode(), b"dummy salt", _LEGACY_ROUNDS)
    return stored is not None and argon2_ok


@functools.cache
def _dummy_argon2() -> str:
    """The hash failed logins of unknown names are checked against (made once, on first need)."""
    return _hasher.hash("not a password of anyone")


def _argon2_verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def login(con: duckdb.DuckDBPyConnection, username: str, password: str, *,
          max_failures: int = 5, lock_minutes: int = 15) -> Context:
    """Check a username and password; on success return the user's context.

    Every failure (unknown user, wrong password, a locked account even with the right password)
    gives the same message after the same work. After `max_failures` failures in a row the account
    is locked for `lock_minutes`. Legacy pbkdf2 hashes are rehashed to argon2id.
    """
    username = normalise_username(username)
    user = fetch_one(con, "SELECT u.id, u.password_hash, u.is_active, u.failed_logins,"
                          " u.locked_until, o.is_active AS org_active FROM users u"
                          " JOIN organizations o ON o.id = u.org_id WHERE u.username = ?",
                     [username])
    now = datetime.now()
    matches = verify_password(password or "", user["password_hash"] if user else None)
    if user is None:
        raise AuthFailed(LOGIN_FAILED)
    if user["locked_until"] is not None and user["locked_until"] > now:
        raise AuthFailed(LOGIN_FAILED)  # even with the right password: a lock holds, silently
    if not matches:
        failures = user["failed_logins"] + 1
        locked = now + timedelta(minutes=lock_minutes) if failures >= max_failures else None
        _record_login(con, "UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?",
                      [0 if locked else failures, locked, user["id"]])
        raise AuthFailed(LOGIN_FAILED)
    if not user["is_active"] or not user["org_active"]:
        raise AuthFailed("This account is disabled. Ask an admin of your organisation.")
    new_hash = _hasher.hash(password) if (is_legacy_hash(user["password_hash"])
                                          or _hasher.check_needs_rehash(user["password_hash"])) \
        else user["password_hash"]
    _record_login(con, "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login = ?,"
                       " password_hash = ? WHERE id = ?", [now, new_hash, user["id"]])
    return context_for(con, username)


def _record_login(con: duckdb.DuckDBPyConnection, sql: str, params: list, attempts: int = 5) -> None:
    """Write a login's outcome; two logins of one account at the same moment conflict in DuckDB,
    so the later one tries again shortly instead of failing the login."""
    for attempt in range(1, attempts + 1):
        try:
            con.execute(sql, params)
            return
        except duckdb.TransactionException:
            if attempt == attempts:
                raise Conflict("Another login of this account was being recorded at the same moment."
                               " Try again.") from None
            time.sleep(0.02 * attempt)


def context_for(con: duckdb.DuckDBPyConnection, username: str) -> Context:
    """The context of an active user, as the CLI's --as and a new login use it."""
    username = normalise_username(username)
    row = _user_row(con, "u.username = ?", username)
    if row is None:
        raise NotFound(f"No user named {username!r}. `workbench user list --as ADMIN` lists them.")
    if not row["is_active"] or not row["org_active"]:
        raise AuthFailed(f"The user {username!r} is disabled.")
    return _context(con, row)


def refresh(con: duckdb.DuckDBPyConnection, ctx: Context) -> Context:
    """The acting user as they are now: current roles and permissions. A session (or any holder of
    an old context) calls this before acting; a user who was deleted, disabled (or whose
    organisation was), or whose password was changed elsewhere is refused with AuthFailed."""
    row = _user_row(con, "u.id = ? AND u.uuid::VARCHAR = ?", ctx.user_id, ctx.user_uuid)
    if row is None:
        raise AuthFailed("Your account no longer exists. Ask an admin of your organisation.")
    if not row["is_active"] or not row["org_active"]:
        raise AuthFailed("Your account was disabled. Ask an admin of your organisation.")
    if _stamp(row["password_hash"]) != ctx.session_stamp:
        raise AuthFailed("Your password was changed, so please log in again.")
    return _context(con, row)


def _user_row(con: duckdb.DuckDBPyConnection, where: str, *params) -> dict | None:
    return fetch_one(con, "SELECT u.id, u.uuid::VARCHAR AS uuid, u.username, u.password_hash,"
                          " coalesce(u.full_name, u.username) AS full_name, u.is_active,"
                          " o.is_active AS org_active, o.id AS org_id, o.uuid::VARCHAR AS org_uuid,"
                          " o.name AS org_name FROM users u JOIN organizations o ON o.id = u.org_id"
                          f" WHERE {where}", list(params))


def _context(con: duckdb.DuckDBPyConnection, row: dict) -> Context:
    grants = fetch_dicts(con, "SELECT r.name AS role, p.name AS permission FROM user_roles ur"
                              " JOIN roles r ON r.id = ur.role_id"
                              " LEFT JOIN role_permissions rp ON rp.role_id = r.id"
                              " LEFT JOIN permissions p ON p.id = rp.permission_id"
                              " WHERE ur.user_id = ?", [row["id"]])
    return Context(
        user_id=row["id"], user_uuid=row["uuid"], username=row["username"],
        full_name=row["full_name"], org_id=row["org_id"], org_uuid=row["org_uuid"],
        org_name=row["org_name"],
        roles=frozenset(g["role"] for g in grants),
        permissions=frozenset(g["permission"] for g in grants if g["permission"]),
        session_stamp=_stamp(row["password_hash"]),
    )


def _stamp(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


