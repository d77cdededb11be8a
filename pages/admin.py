"""Administration (admins): the organisation's business profile, its API keys and the audit log of
every administrative change. Users, prompts and prices have their own pages."""

from datetime import date, timedelta

import polars as pl
import streamlit as st

from workbench import ui
from workbench.accounts import api_keys, audit, organisations, users
from workbench.errors import WorkbenchError

ctx = ui.require("admin:full")
st.title("Administration")
ui.show_flash("admin.done")
state = st.session_state
profile_tab, keys_tab, log_tab = st.tabs(["Organisation", "API keys", "Audit log"])

with ui.connection() as con:
    org = organisations.organization(ctx, con)
    members = [u["username"] for u in users.list_users(ctx, con)]
    keys = api_keys.list_api_keys(ctx, con)

with profile_tab, st.form("org-profile"):
    st.caption(
        f"Slug `{org['slug']}` · created {org['created_at']:%Y-%m-%d}. The name is shown to the chat's model."
    )
    fields = {
        "name": st.text_input("Business name", org["name"]),
        "business_description": st.text_area("What the business does", org["business_description"] or ""),
        "address": st.text_input("Address", org["address"] or ""),
        "phone_number": st.text_input("Phone", org["phone_number"] or ""),
        "website": st.text_input("Website", org["website"] or ""),
    }
    owner = st.selectbox(
        "Owner", members, index=members.index(org["owner"]) if org["owner"] in members else None
    )
    if st.form_submit_button("Save profile", type="primary"):
        ui.apply(
            lambda c: organisations.update_organization(ctx, c, owner=owner, **fields), "Profile saved.",
            "admin.done"
        )

with keys_tab:
    if created := state.pop("admin.new_key", None):
        st.success("Copy the key now: it is shown this once and stored only as a hash.")
        st.code(created, language=None)
    with st.form("new-key", clear_on_submit=True):
        name = st.text_input("Name of a new key", placeholder="support-bot")
        if st.form_submit_button("Create key"):
            try:
                with ui.connection(write=True, reraise=True) as con:
                    state["admin.new_key"] = api_keys.create_api_key(ctx, con, name)["key"]
                st.rerun()
            except WorkbenchError as exc:
                st.error(str(exc))
    if not keys:
        st.info("No API keys yet. A key lets a program use the workbench as this organisation.")
    for key in keys:
        left, right = st.columns([5, 1])
        used = f"last used {key['last_used_at']:%Y-%m-%d %H:%M}" if key["last_used_at"] else "never used"
        revoked = f" · **revoked {key['revoked_at']:%Y-%m-%d}**" if key["revoked_at"] else ""
        left.markdown(
            f"`{key['prefix']}…` {key['name']} · created {key['created_at']:%Y-%m-%d} · {used}{revoked}"
        )
        if not key["revoked_at"] and right.button("Revoke", key=f"revoke.{key['uuid']}"):
            ui.apply(
                lambda c, k=key: api_keys.revoke_api_key(ctx, c, k["uuid"]),
                f"Revoked {key['name']}.",
                "admin.done",
            )

with log_tab:
    left, middle, right = st.columns(3)
    since = left.date_input("Since", date.today() - timedelta(days=30))
    with ui.connection() as con:
        area = middle.selectbox("Area", ["all", *audit.actions(ctx, con), "model"])
        actor = right.selectbox("By", ["anyone", *members])
        rows = audit.events(
            ctx,
            con,
            since=since,
            action=None if area == "all" else area + ".",
            actor=None if actor == "anyone" else actor,
        )
    if not rows:
        st.info("No changes recorded for this filter. Adding a user, a key or a price records one here.")
    else:
        log = pl.DataFrame(rows, infer_schema_length=None)
        st.dataframe(
            log,
            hide_index=True,
            width="stretch",
            column_config={"ts": st.column_config.DatetimeColumn("when", format="YYYY-MM-DD HH:mm:ss")},
        )
        ui.exports(log, "audit-log", "admin.audit")
