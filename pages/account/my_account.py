"""My account: who I am, what my role allows, and a password change."""

import streamlit as st

from workbench import ui
from workbench.accounts import users
from workbench.errors import WorkbenchError

ctx = ui.require()
st.title("My account")
st.markdown(f"**{ctx.full_name}** (`{ctx.username}`) in **{ctx.org_name}**")
st.markdown("Roles: " + ", ".join(sorted(ctx.roles)))
with st.expander(f"What my roles allow ({len(ctx.permissions)} permissions)"):
    st.write(sorted(ctx.permissions))

with st.form("password", clear_on_submit=True):
    st.subheader("Change password")
    current = st.text_input("Current password", type="password")
    new = st.text_input("New password", type="password")
    again = st.text_input("Repeat it", type="password")
    if st.form_submit_button("Change password"):
        if new != again:
            st.error("The two new passwords differ.")
        else:
            try:
                with ui.connection(write=True, reraise=True) as con:
                    ui.keep_session(users.change_password(ctx, con, current, new))
                st.success("Password changed. Your other sessions end at their next click.")
            except WorkbenchError as exc:
                st.error(str(exc))
