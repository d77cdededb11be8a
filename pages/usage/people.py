"""Users and conversations: who and which conversations cost the most, and each user's use of their
plan's limits."""

import streamlit as st

from workbench import ui
from workbench.ui import usage as usage_ui
from workbench.usage import budgets
from workbench.usage import queries as usage

ctx = ui.require("usage:read")
st.title("Users and conversations")
f, _ = usage_ui.filters(ctx)
usage_ui.unpriced_warning(ctx, f)

with ui.connection() as con:
    top = usage.top_users(ctx, con, f)
    conv = usage.top_conversations(ctx, con, f)
    plans = budgets.plan_usage(ctx, con)

one, two = st.columns(2)
with one:
    st.markdown("**Top users by cost**")
    usage_ui.top_table(top)
    ui.exports(top, "top-users", key="usage.users.x")
with two:
    st.markdown("**Top conversations by cost**")
    if conv.is_empty():
        st.caption("No conversations in this period: widen the period or clear a filter.")
    else:
        usage_ui.top_table(conv)
    ui.exports(conv, "top-conversations", key="usage.conv.x")

st.markdown("**Each user's use of their plan's limits**: tokens, documents and sessions")
st.caption("Today and this month, whatever the period and filters above. A plan without a limit reads"
           " \"no limit\".")
ui.exports(usage_ui.plan_table(plans), "plan-usage", key="usage.plans.x")
