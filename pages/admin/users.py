"""Users & roles: the organisation's users; add a user, change a role, disable or enable."""

import streamlit as st

from workbench import ui
from workbench.accounts import users
from workbench.documents import records
from workbench.ui import admin

ctx = ui.require("users:manage")
st.title("Users & roles")
ui.show_flash("users.done")

with ui.connection() as con:
    rows = users.list_users(ctx, con)
names = [r["username"] for r in rows]
by_name = {r["username"]: r for r in rows}
admin.user_list(rows, users.ROLES)

left, right = st.columns(2)
with left, st.form("add-user", clear_on_submit=True):
    st.subheader("Add a user")
    username = st.text_input("Username")
    email = st.text_input("Email")
    full_name = st.text_input("Full name")
    role = st.selectbox("Role", users.ROLES, index=len(users.ROLES) - 1, format_func=admin.role_words)
    password = st.text_input("Initial password", type="password")
    if st.form_submit_button("Add user", type="primary"):
        ui.apply(
            lambda c: users.add_user(ctx, c, username, email, password, role, full_name or None),
            f"Added {username}: they can log in now.",
            "users.done",
        )

with right:
    st.subheader("Change a role")
    who = st.selectbox("User", names)
    current = by_name[who]
    role_now = (current["roles"] or ["viewer"])[0]
with right, st.form(f"set-role.{who}"):
    new_role = st.selectbox("New role", users.ROLES, index=users.ROLES.index(role_now),
                            format_func=admin.role_words)
    active = st.toggle("Active", value=current["is_active"])
    if st.form_submit_button("Save"):
        ui.apply(
            lambda c: (users.set_role(ctx, c, who, new_role), users.set_active(ctx, c, who, active)),
            f"{who}: {admin.role_words(new_role)}, {'active' if active else 'disabled'}.",
            "users.done",
        )

left, right = st.columns(2)
with left, st.form("reset-password", clear_on_submit=True):
    st.subheader("Reset a password")
    target = st.selectbox("User", [n for n in names if n != ctx.username], key="reset.user")
    password = st.text_input("New password", type="password", key="reset.password")
    st.caption("Also lifts a lock after too many failed logins and ends the user's open sessions. Tell "
               "them the new password yourself. Your own password is changed in My account.")
    if st.form_submit_button("Reset password"):
        ui.apply(
            lambda c: users.reset_password(ctx, c, target, password),
            f"New password set for {target}.",
            "users.done",
        )
with right:
    st.subheader("Delete a user")
    gone = st.selectbox("User", [n for n in names if n != ctx.username], key="delete.user", index=None)
    st.caption("Deletes their conversations, documents and usage records too. Disabling keeps them.")
    if gone:
        ui.confirm_delete(
            f"Delete {gone} and everything they own",
            lambda c: records.delete_user(ctx, c, gone, settings=ui.settings(), vectors=ui.vectors()),
            f"user.{gone}",
        )
