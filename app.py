"""Workbench entry point: login, then a navigation built from the user's permissions."""

from pathlib import Path

import streamlit as st

from workbench import ui

# A file shipped here, not ":material/...:", which the browser fetches from a font CDN for the tab's
# icon: Streamlit inlines an SVG file as a data: URL, so nothing is fetched from outside.
ICON = Path(__file__).parent / "static" / "icon.svg"

st.set_page_config(page_title="Workbench", page_icon=str(ICON), layout="wide")

ui.warm_imports()
ctx = ui.current_context()
if ctx is None:
    nav = st.navigation([st.Page(ui.login_form, title="Log in", icon=":material/login:")])
else:
    ui.sidebar(ctx)
    ui.indexing_banner()
    ui.warm_up()
    nav = st.navigation(ui.navigation(ctx), expanded=True)
with ui.checked_this_run(ctx):
    nav.run()
