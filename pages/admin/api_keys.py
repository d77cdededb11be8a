"""API keys (admins): the keys that let a program use the workbench's HTTP API as this
organisation; create one with a role (shown once) or revoke one."""

import streamlit as st

from workbench import ui
from workbench.accounts import api_keys
from workbench.errors import WorkbenchError

ctx = ui.require("admin:full")
st.title("API keys")
ui.show_flash("admin.done")
state = st.session_state

with ui.connection() as con:
    keys = api_keys.list_api_keys(ctx, con)

if created := state.pop("admin.new_key", None):
    st.success("Copy the key now: it is shown this once and stored only as a hash.")
    st.code(created, language=None)
with st.form("new-key", clear_on_submit=True):
    left, right = st.columns([3, 2])
    name = left.text_input("Name of a new key", placeholder="support-bot")
    role = right.selectbox("Role", api_keys.KEY_ROLES, index=api_keys.KEY_ROLES.index("viewer"),
                           format_func=lambda r: r.replace("_", " "),
                           help="What the key may do: it acts as you, with this role's rights, never"
                                " more than yours. A reporter only reports LLM calls (OpenTelemetry, JSON).")
    if st.form_submit_button("Create key"):
        try:
            with ui.connection(write=True, reraise=True) as con:
                state["admin.new_key"] = api_keys.create_api_key(ctx, con, name, role)["key"]
            st.rerun()
        except WorkbenchError as exc:
            st.error(str(exc))

if not keys:
    st.info("No API keys yet. A key lets a program use the workbench's HTTP API as this organisation:"
            " name one above.")
for key in keys:
    left, right = st.columns([5, 1])
    used = f"last used {key['last_used_at']:%Y-%m-%d %H:%M}" if key["last_used_at"] else "never used"
    revoked = f" · **revoked {key['revoked_at']:%Y-%m-%d}**" if key["revoked_at"] else ""
    left.markdown(
        f"`{key['prefix']}…` {key['name']} · {(key['role'] or 'viewer').replace('_', ' ')} · created"
        f" {key['created_at']:%Y-%m-%d} by {key['created_by'] or 'a deleted user'} · {used}{revoked}"
    )
    if not key["revoked_at"] and right.button("Revoke", key=f"revoke.{key['uuid']}"):
        ui.apply(
            lambda c, k=key: api_keys.revoke_api_key(ctx, c, k["uuid"]),
            f"Revoked {key['name']}.",
            "admin.done",
        )
ui.link(ctx, "audit", "Who created and revoked which key: the audit log")
