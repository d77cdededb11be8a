"""Users & roles: the organisation's users; add a user, change a role, disable or enable."""

import polars as pl
import streamlit as st

from workbench import ui, users
from workbench.errors import WorkbenchError

ctx = ui.require("users:manage")
st.title("Users & roles")

with ui.connection() as con:
    rows = users.list_users(ctx, con)

table = pl.DataFrame(rows).with_columns(
    pl.col("roles").list.join(", "),
    pl.col("last_login").cast(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M").fill_null("never"),
    pl.col("full_name").fill_null(""),
)
st.dataframe(table.drop("uuid"), hide_index=True, width="stretch")
st.download_button("Download CSV", table.drop("uuid").write_csv(), "users.csv", "text/csv")

left, right = st.columns(2)
with left, st.form("add-user", clear_on_submit=True):
    st.subheader("Add a user")
    username = st.text_input("Username")
    email = st.text_input("Email")
    full_name = st.text_input("Full name")
    role = st.selectbox("Role", users.ROLES, index=len(users.ROLES) - 1)
    password = st.text_input("Initial password", type="password")
    if st.form_submit_button("Add user", type="primary"):
        try:
            with ui.connection(write=True) as con:
                users.add_user(ctx, con, username, email, password, role, full_name or None)
            st.success(f"Added {username}.")
            st.rerun()
        except WorkbenchError as exc:
            st.error(str(exc))

with right, st.form("set-role"):
    st.subheader("Change a role")
    who = st.selectbox("User", [r["username"] for r in rows])
    new_role = st.selectbox("New role", users.ROLES)
    active = st.toggle("Active", value=True)
    if st.form_submit_button("Save"):
        try:
            with ui.connection(write=True) as con:
                users.set_role(ctx, con, who, new_role)
                users.set_active(ctx, con, who, active)
            st.success(f"{who}: {new_role}, {'active' if active else 'disabled'}.")
            st.rerun()
        except WorkbenchError as exc:
            st.error(str(exc))
