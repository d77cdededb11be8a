"""Budgets (admins): the organisation's, projects' and users' monthly budgets in USD."""

import streamlit as st

from workbench import ui
from workbench.usage import budgets

ctx = ui.require("prices:manage")
st.title("Budgets")
st.caption(
    "Monthly budgets in USD: warning at 80%, exceeded at 100%, shown on Home and Usage with the"
    " month-end projection."
)
ui.show_flash("budgets.done")

with ui.connection() as con:
    status = budgets.budget_status(ctx, con)
if status:
    ui.budget_table(status)
    gone = st.selectbox(
        "Budget to delete", status, format_func=lambda b: f"{b['scope']} {b['target']}", key="budgets.del"
    )
    ui.confirm_delete(
        f"Delete the budget of {gone['target']}",
        lambda con: budgets.delete_budget(ctx, con, gone["id"]),
        key=f"budget-{gone['id']}",
    )
    ui.link(ctx, "usage-budgets", "Spend against these budgets, with the month-end projection")
else:
    st.info("No budget yet. Set one below: for the whole organisation, a project or a user.")

with st.form("budgets.set"):
    a, b, c = st.columns(3)
    scope = a.selectbox("For", ["organization", "project", "user"])
    target = b.text_input("Project or username", help="Empty for the whole organisation.")
    amount = c.number_input("Monthly USD", min_value=0.0, value=100.0, step=10.0)
    if st.form_submit_button("Set budget", type="primary"):
        ui.apply(
            lambda con: budgets.set_budget(ctx, con, scope=scope, monthly_usd=amount,
                                           project=target if scope == "project" else None,
                                           user=target if scope == "user" else None),
            f"Budget set: ${amount:,.0f} a month for the {scope}" + (f" {target}." if target else "."),
            "budgets.done",
        )
