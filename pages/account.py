"""My account: who I am, what my role allows, and a password change."""

import streamlit as st

from workbench import ui, users
from workbench.errors import WorkbenchError

ctx = ui.require()
st.title("My account")
st.markdown(f"**{ctx.full_name}** (`{ctx.username}`) in **{ctx.org_name}**")
st.markdown("Roles: " + ", ".join(sorted(ctx.roles)))
with st.expander(f"What my roles allow ({len(ctx.permissions)} permissions)"):
    st.write(sorted(ctx.permissions))

with st.form("password", clear_on_submit=True):
    st.subheader("Change password")
    new = st.text_input("New password", type="password")
    again = st.text_input("Repeat it", type="password")
    if st.form_submit_button("Change password"):
        if new != again:
            st.error("The two passwords differ.")
        else:
            try:
                with ui.connection(write=True) as con:
                    users.reset_password(ctx, con, ctx.username, new)
                st.success("Password changed.")
            except WorkbenchError as exc:
                st.error(str(exc))
