"""Audit log (admins): every administrative change in the organisation, by area and by whom."""

from datetime import date, timedelta

import polars as pl
import streamlit as st

from workbench import ui
from workbench.accounts import audit, users

ctx = ui.require("admin:full")
st.title("Audit log")
st.caption("Users, roles, passwords, API keys, prices, budgets, prompts and models: who changed what, when.")

left, middle, right = st.columns(3)
since = left.date_input("Since", date.today() - timedelta(days=30), key="audit.since")
with ui.connection() as con:
    members = [u["username"] for u in users.list_users(ctx, con)]
    area = middle.selectbox("Area", ["all", *audit.actions(ctx, con), "model"], key="audit.area")
    actor = right.selectbox("By", ["anyone", *members], key="audit.actor")
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
    st.dataframe(log, hide_index=True, width="stretch", column_config={
        "ts": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm:ss"), "actor": "By",
        "action": "Change", "target": "Of", "detail": "Detail"})
    ui.exports(log, "audit-log", "admin.audit")
