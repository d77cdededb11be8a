"""Each default role against each permission, and the checks inside service functions."""

import pytest

from workbench import home
from workbench.accounts import auth, organisations, users
from workbench.documents import records
from workbench.errors import NotAllowed
from workbench.settings import Settings

SEED_004 = {"chat:use", "documents:create", "documents:read", "documents:update",
            "documents:delete", "agents:execute", "agents:read", "explain:view", "metering:read",
            "admin:full", "users:manage", "roles:manage", "system:config"}
WORKBENCH = {"projects:read", "projects:write", "calls:read", "calls:import", "qa:read",
             "qa:write", "datasets:read", "datasets:write", "usage:read", "models:read",
             "models:train", "models:promote", "sql:query", "prompts:manage", "prices:manage",
             "keys:manage", "org:manage", "usage:ingest"}
ALL = SEED_004 | WORKBENCH

EXPECTED = {
    "admin": ALL,
    "data_scientist": {"chat:use", "documents:read", "agents:execute", "agents:read",
                       "explain:view", "metering:read", "usage:read", "projects:read",
                       "calls:read", "qa:read", "datasets:read", "datasets:write", "models:read",
                       "models:train", "models:promote", "sql:query"},
    "analyst": {"chat:use", "documents:create", "documents:read", "documents:update",
                "documents:delete", "agents:execute", "agents:read", "explain:view",
                "projects:read", "projects:write", "calls:read", "calls:import", "qa:read",
                "qa:write", "datasets:read", "datasets:write", "sql:query"},
    "manager": {"chat:use", "documents:read", "explain:view", "metering:read", "usage:read",
                "projects:read", "calls:read", "qa:read", "models:read"},
    "viewer": {"chat:use", "documents:read", "projects:read", "calls:read", "qa:read"},
    "reporter": {"usage:ingest"},  # an API key's role only
}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    cfg = Settings(home=tmp_path_factory.mktemp("rbac") / "home")
    home.init(cfg)
    return home.open_store(cfg)


@pytest.fixture(scope="module")
def contexts(store):
    with store.transaction() as con:
        org_id = organisations.create_organization(con, "Acme")
        pw = auth.hash_password("password1")
        for role in users.ROLES:
            users.insert_user(con, org_id, f"u-{role}", f"{role}@acme.test", pw, role)
    with store.connect() as con:
        return {role: auth.context_for(con, f"u-{role}") for role in users.ROLES}


def test_permission_names_are_resource_action(store):
    with store.connect() as con:
        names = {r[0] for r in con.execute("SELECT name FROM permissions").fetchall()}
    assert names == ALL
    assert all(len(n.split(":")) == 2 for n in names)


@pytest.mark.parametrize("role", users.ROLES)
@pytest.mark.parametrize("permission", sorted(ALL))
def test_role_permission_matrix(contexts, role, permission):
    assert contexts[role].can(permission) == (permission in EXPECTED[role])


def test_an_api_keys_reporter_role_may_only_report_calls(store):
    with store.connect() as con:
        granted = {r[0] for r in con.execute(
            "SELECT p.name FROM role_permissions rp JOIN roles r ON r.id = rp.role_id"
            " JOIN permissions p ON p.id = rp.permission_id WHERE r.name = 'reporter'").fetchall()}
    assert granted == EXPECTED["reporter"]


@pytest.mark.parametrize("role", ["data_scientist", "analyst", "manager", "viewer"])
def test_only_admins_manage_users(store, contexts, role):
    with store.connect() as con:
        with pytest.raises(NotAllowed, match="users:manage"):
            users.list_users(contexts[role], con)
        with pytest.raises(NotAllowed):
            users.add_user(contexts[role], con, "intruder", "i@acme.test", "password1", "admin")
        with pytest.raises(NotAllowed):
            users.set_role(contexts[role], con, "u-viewer", "admin")
        assert len(users.list_users(contexts["admin"], con)) == len(users.ROLES)


def test_admin_adds_and_changes_roles(store, contexts):
    admin = contexts["admin"]
    with store.connect() as con:
        row = users.add_user(admin, con, "newbie", "newbie@acme.test", "password1", "viewer")
        assert row["roles"] == ["viewer"] and row["organization"] == "Acme"
        assert users.set_role(admin, con, "newbie", "manager")["roles"] == ["manager"]
        ctx = auth.context_for(con, "newbie")
        assert ctx.can("usage:read") and not ctx.can("calls:import")
        records.delete_user(admin, con, "newbie")
