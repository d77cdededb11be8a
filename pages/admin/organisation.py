"""Administration (admins): the organisation's business profile, the one the chat's model is told."""

import streamlit as st

from workbench import ui
from workbench.accounts import organisations, users

ctx = ui.require("admin:full")
st.title("Administration")
ui.show_flash("admin.done")

with ui.connection() as con:
    org = organisations.organization(ctx, con)
    members = [u["username"] for u in users.list_users(ctx, con)]

st.subheader("Organisation")
st.caption(
    f"Slug `{org['slug']}` · created {org['created_at']:%Y-%m-%d}. The name is shown to the chat's model."
)
with st.form("org-profile"):
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

st.caption("Users, agents and prompts, prices, budgets, API keys and the audit log have their own pages:")
for url in ("users", "prompts", "prices", "budgets", "api-keys", "audit"):
    ui.link(ctx, url)
