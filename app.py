"""Workbench entry point: login, then a navigation built from the user's permissions."""

import streamlit as st

from workbench import ui

st.set_page_config(page_title="Workbench", page_icon=":material/analytics:", layout="wide")

ui.warm_imports()
ctx = ui.current_context()
if ctx is None:
    nav = st.navigation([st.Page(ui.login_form, title="Log in", icon=":material/login:")])
else:
    ui.sidebar(ctx)
    ui.indexing_banner()
    ui.warm_up()
    nav = st.navigation(ui.navigation(ctx), expanded=True)
nav.run()
