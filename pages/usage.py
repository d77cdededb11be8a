"""Usage: tokens, cost and latency of the organisation's LLM calls, from the daily rollups. A click
on a bar (or a box drawn over days) drills down to the calls behind it; every chart exports."""

from datetime import date, timedelta

import plotly.express as px
import polars as pl
import streamlit as st

from workbench import ui
from workbench.errors import WorkbenchError
from workbench.usage import budgets
from workbench.usage import queries as usage

ctx = ui.require("usage:read")
state = st.session_state
st.title("Usage")

with ui.connection() as con:
    usage.refresh(con)
    choices = usage.options(ctx, con)

left, mid, right = st.columns([2, 2, 1])
name = left.selectbox("Period", usage.PERIODS, index=1, key="usage.period")
custom = None
if name == "Custom":
    picked = mid.date_input("From - to", (date.today() - timedelta(days=29), date.today()), key="usage.range")
    custom = tuple(picked) if len(picked) == 2 else None
stack = right.selectbox("Stack by", list(usage.DIMENSIONS), key="usage.stack")
with st.expander("Filters: project, user, provider, model, operation"):
    cols = st.columns(5)
    chosen = {
        key: cols[i].multiselect(key.title(), choices[key], key=f"usage.f.{key}")
        for i, key in enumerate(("projects", "users", "providers", "models", "operations"))
    }
try:
    start, end = (
        usage.period(name, custom=custom) if name != "Custom" or custom else usage.period("Last 30 days")
    )
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()
f = usage.Filters(start, end, **{k: tuple(v) for k, v in chosen.items()})
st.caption(
    f"{start:%d %b %Y} to {end - timedelta(days=1):%d %b %Y}, compared with the {f.days} days before."
    " Latency percentiles come from a log histogram (within 2.5%)."
)

with ui.connection() as con:
    kpi = usage.totals(ctx, con, f)
    missing = usage.unpriced(ctx, con, f)
    alerts = budgets.budget_status(ctx, con)

if not kpi["current"]["calls"] and not kpi["previous"]["calls"]:
    st.info(
        "No LLM calls in this period. Chat or upload documents, widen the period, or import a usage log"
        " with `workbench usage import FILE --as ADMIN`."
    )
    st.stop()

for b in alerts:
    if b["status"] != "ok" or b["projected_status"] != "ok":
        text = (
            f"Budget {b['target']}: ${b['spent_usd']:,.2f} of ${b['monthly_usd']:,.0f} this month"
            f" ({b['share']:.0%}), projected ${b['projected_usd']:,.0f}: {b['status']}"
            + (f", projected {b['projected_status']}" if b["projected_status"] != b["status"] else "")
            + "."
        )
        (st.error if "exceeded" in (b["status"], b["projected_status"]) else st.warning)(
            text, icon=":material/savings:"
        )
if not missing.is_empty():
    with st.container(border=True):
        st.warning(
            f"{missing['calls'].sum():,} calls of {len(missing)} model{'s' if len(missing) > 1 else ''}"
            " have no price: their cost is"
            " unknown and not counted below, never shown as $0: "
            + ", ".join(f"{r['provider']} {r['model']}" for r in missing.iter_rows(named=True))
            + "."
        )
        target = ui.page_for(ctx, "prices:manage")
        if target:
            st.page_link(target.path, label="Add the missing prices", icon=":material/payments:")
        else:
            st.caption("An admin can add their prices on the Prices & budgets page.")


def money(v) -> str:
    return "unknown" if v is None else f"${v:,.2f}" if v >= 0.01 or v == 0 else f"${v:,.4f}"


CARDS = [
    ("Tokens", "tokens", "{:,.0f}"),
    ("Cost", "cost", None),
    ("Calls", "calls", "{:,.0f}"),
    ("Mean latency", "mean_latency_ms", "{:,.0f} ms"),
    ("p95 latency", "p95_latency_ms", "{:,.0f} ms"),
    ("Cost per conversation", "cost_per_conversation", None),
    ("Active users", "active_users", "{:,.0f}"),
]
now, before = kpi["current"], kpi["previous"]
# Two rows of four so that large figures ($12,345.67, 1,234,567,890) are not cut off.
cells = [col for _ in range(2) for col in st.columns(4)]
for col, (label, key, fmt) in zip(cells, CARDS, strict=False):
    value, prior = now.get(key), before.get(key)
    shown = money(value) if fmt is None else ("-" if value is None else fmt.format(value))
    delta = None if value is None or not prior else f"{(value - prior) / prior:+.0%}"
    col.metric(
        label,
        shown,
        delta,
        delta_color="inverse" if key in ("cost", "mean_latency_ms", "p95_latency_ms") else "normal",
        help="Priced calls only." if key == "cost" and now["unpriced_calls"] else None,
        border=True,
    )

# A drill-down belongs to the filters it was made under: changing them clears it.
if state.get("usage.drill.for") != f:
    state["usage.drill"], state["usage.drill.for"] = {}, f
drill = state["usage.drill"]


def drill_from(key: str, to_drill) -> None:
    """on_select callback (runs before the page): a chart selection becomes the drill-down and
    the Calls tab opens."""
    sel = state[key].selection
    if sel.points or sel.box:
        state["usage.drill"], state["usage.tab"] = to_drill(sel), "Calls"


def chart(fig, data: pl.DataFrame, key: str, to_drill, box: bool = False) -> None:
    fig.update_layout(margin=dict(l=0, r=0, t=30, b=0), height=fig.layout.height or 300, legend_title=None)
    st.plotly_chart(
        fig,
        key=key,
        on_select=lambda: drill_from(key, to_drill),
        selection_mode=("points", "box") if box else "points",
    )
    ui.exports(data, key.replace(".", "-"), key=f"{key}.x")


def on_day(sel) -> dict:
    if sel.box:
        x0, x1 = sorted(str(x)[:10] for x in sel.box[0]["x"])
        return {"range": (date.fromisoformat(x0), date.fromisoformat(x1))}
    point = sel.points[0]
    return {"day": date.fromisoformat(str(point["x"])[:10]), stack: point["customdata"][0]}


overview, latency, tokens, people, spend, detail = st.tabs(
    [
        "Cost and tokens",
        "Latency",
        "Token types",
        "Users and conversations",
        "Budgets and anomalies",
        "Calls",
    ],
    key="usage.tab",
    on_change="rerun",
)
with ui.connection() as con:
    with overview:
        measure = st.radio("Show", ["cost", "tokens", "calls"], horizontal=True, key="usage.measure")
        series = usage.over_time(ctx, con, f, by=stack, measure=measure)
        chart(
            px.bar(
                series.to_pandas(),
                x="day",
                y=measure,
                color=stack,
                custom_data=[stack],
                title=f"{measure.title()} per day by {stack}: click a bar or draw a box over days",
            ),
            series,
            "usage.time",
            on_day,
            box=True,
        )
        for col, by in zip(st.columns(3), ("provider", "model", "operation"), strict=True):
            with col:
                frame = usage.breakdown(ctx, con, f, by=by)
                chart(
                    px.bar(
                        frame.to_pandas(),
                        x="cost_usd",
                        y=by,
                        orientation="h",
                        title=f"Cost by {by}",
                        hover_data=["calls", "total_tokens", "unpriced_calls"],
                    ).update_yaxes(title=None, autorange="reversed"),
                    frame,
                    f"usage.by.{by}",
                    lambda sel, by=by: {by: sel.points[0]["y"]},
                )
    with latency:
        lat = usage.latency_percentiles(ctx, con, f, by="model")
        long = lat.unpivot(["p50", "p95", "p99"], index="model", variable_name="percentile", value_name="ms")
        chart(
            px.bar(
                long.to_pandas(),
                x="ms",
                y="model",
                color="percentile",
                barmode="group",
                orientation="h",
                title="Latency by model (ms)",
            ).update_yaxes(title=None),
            lat,
            "usage.latency",
            lambda sel: {"model": sel.points[0]["y"]},
        )
    with tokens:
        kinds = usage.token_types(ctx, con, f)
        st.plotly_chart(
            px.pie(kinds.to_pandas(), names="token_type", values="tokens", hole=0.5, title="Tokens by type"),
            key="usage.kinds",
        )
        ui.exports(kinds, "token-types", key="usage.kinds.x")
    with people:
        one, two = st.columns(2)
        with one:
            st.markdown("**Top users by cost**")
            top = usage.top_users(ctx, con, f)
            st.dataframe(top, hide_index=True, width="stretch")
            ui.exports(top, "top-users", key="usage.users.x")
        with two:
            st.markdown("**Top conversations by cost**")
            conv = usage.top_conversations(ctx, con, f)
            if conv.is_empty():
                st.caption("No conversations in this period.")
            else:
                st.dataframe(conv, hide_index=True, width="stretch")
            ui.exports(conv, "top-conversations", key="usage.conv.x")
        st.markdown("**Per-user usage and plan limits** (today, this month; seed 002's stats)")
        plans = pl.DataFrame(budgets.plan_usage(ctx, con), infer_schema_length=None)
        limits = [c for c in plans.columns if c.endswith("_limit")]
        # a plan without a limit reads "no limit", not None. Plain Python, not map_elements: a Python
        # function on polars' thread pool deadlocks against another session's to_pandas (the GIL)
        shown = plans.with_columns(
            pl.Series(c, ["no limit" if v is None else f"{v:,}" for v in plans[c]], dtype=pl.String)
            for c in limits
        )
        st.dataframe(shown, hide_index=True, width="stretch")
        ui.exports(plans, "plan-usage", key="usage.plans.x")
    with spend:
        status = pl.DataFrame(alerts, infer_schema_length=None)
        if status.is_empty():
            st.caption(
                "No budgets yet."
                + (
                    " Set them on the Prices & budgets page."
                    if ctx.can("prices:manage")
                    else " An admin sets them on the Prices & budgets page."
                )
            )
        else:
            st.markdown("**Budgets this month**")
            ui.budget_table(alerts, detail=True)
            ui.exports(status, "budget-status", key="usage.budgets.x")
        outlook = budgets.projection(ctx, con)
        month = pl.DataFrame(outlook["series"], infer_schema_length=None)
        fig = px.line(
            month.to_pandas(),
            x="day",
            y="cumulative",
            color="kind",
            title=f"Month-end spend: ${outlook['projected']:,.2f} projected (90% interval"
            f" ${outlook['low']:,.2f} to ${outlook['high']:,.2f})",
        )
        ahead = month.filter(pl.col("kind") == "projected").to_pandas()
        fig.add_scatter(x=ahead["day"], y=ahead["high"], mode="lines", line_width=0, showlegend=False)
        fig.add_scatter(
            x=ahead["day"], y=ahead["low"], mode="lines", line_width=0, fill="tonexty", name="90% interval"
        )
        st.plotly_chart(fig.update_layout(margin=dict(l=0, r=0, t=30, b=0), height=300), key="usage.outlook")
        ui.exports(month, "month-projection", key="usage.outlook.x")
        st.markdown("**Unusual days** (last 90 days: cost far above the same weekday's usual)")
        odd = budgets.anomalies(ctx, con)
        if not odd:
            st.caption("None: every day's cost was close to what its weekday usually costs.")
        for a in reversed(odd):
            drivers = "; ".join(
                f"{d['name']} +${d['excess']:,.2f} ({d['share']:.0%})"
                for d in a["models"] + a["users"]
                if d["share"] >= 0.05
            )
            st.warning(
                f"{a['day']:%a %d %b}: ${a['cost']:,.2f} against ${a['expected']:,.2f} usual."
                f" Drivers: {drivers}",
                icon=":material/trending_up:",
            )
    with detail:
        drilled = usage.Filters(start, end, **{k: tuple(v) for k, v in chosen.items()}, extra=drill)
        try:
            rows = usage.calls(ctx, con, drilled)
        except WorkbenchError as exc:
            st.error(str(exc))
            rows = pl.DataFrame()

with detail:
    if drill:
        shown = {k: (f"{v[0]} to {v[1]}" if k == "range" else v) for k, v in drill.items()}
        st.info("Drill-down: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
        if st.button("Clear drill-down", icon=":material/filter_alt_off:"):
            state["usage.drill"] = {}
            st.rerun()
    st.caption(
        f"The {len(rows):,} newest calls"
        + (" (the first 500)" if len(rows) == 500 else "")
        + ". Cost is empty where the model has no price."
    )
    st.dataframe(rows, hide_index=True, width="stretch")
    ui.exports(rows, "llm-calls", key="usage.calls.x")
