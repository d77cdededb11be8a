"""The Usage pages' widgets: the period and filters that stay the same from one usage page to the
next, the charts whose bars drill down to the LLM calls behind them, the KPI cards, budget alerts
and the money format."""

from __future__ import annotations

import math
from datetime import date, timedelta

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from workbench import ui
from workbench.errors import WorkbenchError
from workbench.usage import queries as usage

CALLS_PAGE = "pages/usage/calls.py"
FILTERS = ("projects", "users", "providers", "models", "operations")
def count(value: float) -> str:
    """A card's count: 4,890,665 in full; from 10 million on, 4.89B (a card shows about 10 figures)."""
    for size, unit in ((1e9, "B"), (1e6, "M")):
        if value >= 10_000_000 and value >= size:
            return f"{value / size:,.2f}{unit}"
    return f"{value:,.0f}"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


CARDS = [  # label, key, format: None for money (which shows a missing cost in words)
    ("Tokens", "tokens", count),
    ("Cost", "cost", None),
    ("Calls", "calls", count),
    ("Mean latency", "mean_latency_ms", _ms),
    ("p95 latency", "p95_latency_ms", _ms),
    ("Cost per conversation", "cost_per_conversation", None),
    ("Active users", "active_users", count),
]


COUNT = "%,d"  # thousands separated: 11,023,391, not 11023391
USD = "$%,.4f"  # the tables' costs, small ones included: $0.0007
# The chart's axes, legends and hovers, in words.
LABELS = {
    "day": "Day", "cost": "Cost (USD)", "tokens": "Tokens", "calls": "Calls", "provider": "Provider",
    "model": "Model", "operation": "Operation", "project": "Project", "user": "User",
    "cost_usd": "Cost (USD)", "total_tokens": "Tokens", "unpriced_calls": "Unpriced calls",
    "token_type": "Token type", "ms": "Latency (ms)", "percentile": "Percentile",
}
# The cost-by bars' hover: the counts beside the cost
HOVER_COUNTS = ("calls", "total_tokens", "unpriced_calls")

# The LLM calls table's headings (the exports keep the column names, for scripts).
CALL_COLUMNS = {
    "created_at": st.column_config.DatetimeColumn("When", format="YYYY-MM-DD HH:mm:ss"), "user": "User",
    "project": "Project", "provider": "Provider", "model": "Model", "operation": "Operation",
    **{
        f"{kind}_tokens": st.column_config.NumberColumn(f"{kind.title()} tokens", format=COUNT)
        for kind in ("prompt", "cached", "completion", "embedding", "total")
    },
    "tokens_estimated": st.column_config.CheckboxColumn("Tokens estimated"),
    "cost_usd": st.column_config.NumberColumn("Cost (USD)", format=USD),
    "latency_ms": st.column_config.NumberColumn("Latency (ms)", format=COUNT), "status": "Status",
    "conversation": "Conversation", "call": "Call",
}
# Top users and top conversations: words for the columns; a conversation's id stays in the export.
TOP_COLUMNS = {
    "user": "User", "plan": "Plan", "title": st.column_config.TextColumn("Conversation", width="medium"),
    "first_day": st.column_config.DateColumn("First day", format="YYYY-MM-DD"),
    "calls": st.column_config.NumberColumn("Calls", format=COUNT),
    "tokens": st.column_config.NumberColumn("Tokens", format=COUNT),
    "cost_usd": st.column_config.NumberColumn("Cost (USD)", format=USD),
    "unpriced_calls": st.column_config.NumberColumn("Unpriced calls", format=COUNT),
}
# Each user's use of their plan's limits: (column, heading, number format or None), in order
PLAN_COLUMNS = [
    ("username", "User", None), ("plan", "Plan", None), ("status", "Status", None),
    ("tokens_today", "Tokens today", COUNT), ("daily_limit", "Daily token limit", None),
    ("daily_share", "Of the daily limit", "percent"),
    ("tokens_month", "Tokens this month", COUNT), ("monthly_limit", "Monthly token limit", None),
    ("monthly_share", "Of the monthly limit", "percent"), ("total_tokens", "Tokens in all", COUNT),
    ("documents", "Documents", COUNT), ("documents_limit", "Document limit", None),
    ("sessions", "Sessions", COUNT), ("sessions_limit", "Session limit", None),
]

def period_words(f: usage.Filters) -> str:
    """The period of `f` as people say it: "22 Oct 2026 to 20 Nov 2026"."""
    return f"{f.start:%d %b %Y} to {f.end - timedelta(days=1):%d %b %Y}"


def share_words(part: int, whole: int) -> str:
    """`part` of `whole` as a percentage that never reads 0% or 100% when it is not."""
    share = part / whole if whole else 0.0
    if 0 < share < 0.001:
        return "under 0.1%"
    if 0.999 < share < 1:
        return "over 99.9%"
    return f"{share:.1%}" if share < 0.1 else f"{share:.0%}"


def money(v) -> str:
    """Dollars; below a cent with two significant digits ($0.0045, $0.000017), so that a small
    cost never reads $0.0000; "unknown" where no price makes a cost."""
    if v is None:
        return "unknown"
    if v >= 0.01 or v <= 0:
        return f"${v:,.2f}"
    return f"${v:.{max(4, 1 - math.floor(math.log10(v)))}f}"


def remembered(widget, *args, key: str, default, **kwargs):
    """`widget(*args, key=key, **kwargs)` whose value outlives a page switch, so that the usage pages
    share it: a widget on another page is another widget, which starts from its default, so a plain
    copy of the value (`key` + ".kept", updated by each change) seeds it on every run."""
    state = st.session_state
    state[key] = state.setdefault(f"{key}.kept", default)
    return widget(*args, key=key, on_change=_keep, args=(key,), **kwargs)


def _keep(key: str) -> None:
    st.session_state[f"{key}.kept"] = st.session_state[key]


def filters(ctx) -> tuple[usage.Filters, dict]:
    """The period and the project, user, provider, model and operation filters, shared by the usage
    pages, with the caption of the period; returns them and their totals (this period and the one
    before). Stops the page with what to do next when neither period has a call."""
    if st.session_state.pop("usage.drill.open", False):  # a bar was clicked on the last run
        st.switch_page(CALLS_PAGE)
    with ui.connection() as con:
        usage.refresh(con)
        choices = usage.options(ctx, con)
    left, mid, _ = st.columns([2, 2, 1])
    name = remembered(left.selectbox, "Period", usage.PERIODS, key="usage.period", default="Last 30 days")
    custom = None
    if name == "Custom":
        month = (date.today() - timedelta(days=29), date.today())
        picked = remembered(mid.date_input, "From - to", key="usage.range", default=month)
        custom = tuple(picked) if len(picked) == 2 else None
    with st.expander("Filters: project, user, provider, model, operation"):
        chosen = {
            key: remembered(col.multiselect, key.title(), choices[key], key=f"usage.f.{key}", default=[])
            for col, key in zip(st.columns(5), FILTERS, strict=True)
        }
    try:
        start, end = (
            usage.period(name, custom=custom) if name != "Custom" or custom else usage.period("Last 30 days")
        )
    except WorkbenchError as exc:
        st.error(str(exc))
        st.stop()
    f = usage.Filters(start, end, **{k: tuple(v) for k, v in chosen.items()})
    st.caption(f"{period_words(f)}, compared with the {f.days} days before.")
    with ui.connection() as con:
        kpi = usage.totals(ctx, con, f)
    if not kpi["current"]["calls"] and not kpi["previous"]["calls"]:
        st.info(
            "No LLM calls in this period. Chat or upload documents, widen the period, or import a usage log"
            " with `workbench usage import FILE --as ADMIN`."
        )
        st.stop()
    return f, kpi


def budget_alerts(alerts: list[dict]) -> None:
    """A warning for each budget at risk this month, an error for each exceeded (or projected to be)."""
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


def unpriced_warning(ctx, f: usage.Filters, missing: pl.DataFrame | None = None) -> None:
    """The models of the period whose calls have no price (their cost is unknown, never $0), with a
    link to add the prices for those who may; `missing` is `usage.unpriced`'s answer when known."""
    if missing is None:
        with ui.connection() as con:
            missing = usage.unpriced(ctx, con, f)
    if missing.is_empty():
        return
    with st.container(border=True):
        st.warning(
            f"In this period ({period_words(f)}), {missing['calls'].sum():,} calls of {len(missing)}"
            f" model{'s' if len(missing) > 1 else ''} have no price: their cost is unknown and not counted"
            " below, never shown as $0: "
            + ", ".join(f"{r['provider']} {r['model']}" for r in missing.iter_rows(named=True))
            + "."
        )
        if ui.page_at(ctx, "prices"):
            ui.link(ctx, "prices", "Add the missing prices")
        else:
            st.caption("An admin can add their prices on the Prices page.")


def kpi_cards(kpi: dict) -> None:
    """The period's figures against the period before, in two rows of four so that large figures
    ($12,345.67, 1,234,567,890) are not cut off."""
    now, before = kpi["current"], kpi["previous"]
    cells = [col for _ in range(2) for col in st.columns(4)]
    for col, (label, key, fmt) in zip(cells, CARDS, strict=False):
        value, prior = now.get(key), before.get(key)
        shown = money(value) if fmt is None else "-" if value is None else fmt(value)
        col.metric(
            label,
            shown,
            None if value is None or not prior else f"{(value - prior) / prior:+.0%}",
            delta_color="inverse" if key in ("cost", "mean_latency_ms", "p95_latency_ms") else "normal",
            help=_card_help(key, now),
            border=True,
        )
    if now["calls"]:
        st.caption(conversation_words(now))


def _card_help(key: str, now: dict) -> str | None:
    if key in ("tokens", "calls") and (now[key] or 0) >= 10_000_000:
        return f"{now[key]:,} in all."
    if key == "cost" and now["unpriced_calls"]:
        return "Priced calls only: the calls without a price are counted apart, never as $0."
    if key == "cost_per_conversation":
        return (
            "The cost of the calls made in a conversation divided by the number of conversations; not the"
            " period's whole cost, which includes the calls outside any conversation (document indexing,"
            " search, imported logs)."
        )
    return None


def conversation_words(now: dict) -> str:
    """What the cost per conversation divides, in figures: the conversations' calls and cost, their
    share of the period's calls, and the number of conversations."""
    n, calls = now.get("conversations", 0), now.get("conversation_calls", 0)
    if not n:
        return "Cost per conversation: no call in this period belongs to a conversation."
    cost = now.get("conversation_cost")
    spent = "an unknown cost (a call has no price)" if cost is None else f"the {money(cost)}"
    return (
        f"Cost per conversation: {spent} spent on the {calls:,} calls made in conversations"
        f" ({share_words(calls, now['calls'])} of the period's {now['calls']:,} calls), divided by {n:,}"
        f" conversation{'s' if n != 1 else ''}. The other calls belong to no conversation."
    )


def _drill_from(key: str, to_drill, f: usage.Filters) -> None:
    """on_select callback (runs before the page): a chart selection becomes the drill-down, made
    under the filters `f`, and the next run opens the LLM calls page."""
    state = st.session_state
    sel = state[key].selection
    if sel.points or sel.box:
        state["usage.drill"], state["usage.drill.for"], state["usage.drill.open"] = to_drill(sel), f, True


def chart(fig, data: pl.DataFrame, key: str, f: usage.Filters, to_drill, box: bool = False) -> None:
    """A chart whose selected bar (or box over days, with `box`) opens the calls behind it, by
    `to_drill(selection)` -> {dimension: value}; and its data's exports."""
    fig.update_layout(margin=dict(l=0, r=0, t=30, b=0), height=fig.layout.height or 300, legend_title=None)
    st.plotly_chart(
        fig,
        key=key,
        on_select=lambda: _drill_from(key, to_drill, f),
        selection_mode=("points", "box") if box else "points",
    )
    ui.exports(data, key.replace(".", "-"), key=f"{key}.x")


# The Usage page's figures are plotly's graph objects, not plotly express: express took 17-66 ms a
# figure here (its data-frame machinery), most of the page's render; these take a few.
def stacked_bars(frame: pl.DataFrame, measure: str, stack: str, title: str) -> go.Figure:
    """The measure per day, stacked by `stack` (a trace per value, in order of appearance), each
    bar carrying its `stack` value (customdata) for the drill-down."""
    hover = (f"{LABELS[stack]}=%{{customdata[0]}}<br>{LABELS['day']}=%{{x|%d %b %Y}}<br>"
             f"{LABELS[measure]}=%{{y:{'$,.4f' if measure == 'cost' else ','}}}<extra></extra>")
    fig = go.Figure()
    for part in frame.partition_by(stack, maintain_order=True):
        value = part[stack][0]
        fig.add_trace(go.Bar(x=part["day"].to_list(), y=part[measure].to_list(), name=str(value),
                             customdata=[[value]] * len(part), hovertemplate=hover))
    return fig.update_layout(barmode="relative", title=title, xaxis_title=LABELS["day"],
                             yaxis_title=LABELS[measure])


def cost_bars(frame: pl.DataFrame, by: str) -> go.Figure:
    """Cost per `by` value as horizontal bars, the costliest on top, with calls, tokens and
    unpriced calls in the hover."""
    hover = (f"{LABELS[by]}=%{{y}}<br>{LABELS['cost_usd']}=%{{x:$,.4f}}<br>"
             + "<br>".join(f"{LABELS[c]}=%{{customdata[{i}]:,}}" for i, c in enumerate(HOVER_COUNTS))
             + "<extra></extra>")
    bars = go.Bar(x=frame["cost_usd"].to_list(), y=[str(v) for v in frame[by].to_list()], orientation="h",
                  customdata=frame.select(HOVER_COUNTS).rows(), hovertemplate=hover)
    return go.Figure(bars).update_layout(title=f"Cost by {by}", xaxis_title=LABELS["cost_usd"]).update_yaxes(
        title=None, autorange="reversed", type="category")


def token_pie(kinds: pl.DataFrame) -> go.Figure:
    """Tokens by type as a ring."""
    ring = go.Pie(labels=kinds["token_type"].to_list(), values=kinds["tokens"].to_list(), hole=0.5,
                  hovertemplate=f"{LABELS['token_type']}=%{{label}}<br>{LABELS['tokens']}=%{{value:,}}"
                  "<extra></extra>")
    return go.Figure(ring).update_layout(title="Tokens by type", legend_title=None)


def by_day(stack: str):
    """The drill-down of a bar of the chart over days (a day and its `stack` value) or of a box
    drawn over days (their range)."""

    def to_drill(sel) -> dict:
        if sel.box:
            x0, x1 = sorted(str(x)[:10] for x in sel.box[0]["x"])
            return {"range": (date.fromisoformat(x0), date.fromisoformat(x1))}
        point = sel.points[0]
        return {"day": date.fromisoformat(str(point["x"])[:10]), stack: point["customdata"][0]}

    return to_drill


def by_bar(by: str):
    """The drill-down of a cost bar: its `by` value."""
    return lambda sel: {by: sel.points[0]["y"]}


def drill(f: usage.Filters) -> dict:
    """The drill-down a chart click made, with its info line and a button to clear it; a drill-down
    belongs to the filters it was made under, so changing them clears it."""
    state = st.session_state
    if state.get("usage.drill.for") != f:
        state["usage.drill"], state["usage.drill.for"] = {}, f
    chosen = state["usage.drill"]
    if chosen:
        shown = {k: (f"{v[0]} to {v[1]}" if k == "range" else v) for k, v in chosen.items()}
        st.info("Drill-down: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
        if st.button("Clear drill-down", icon=":material/filter_alt_off:"):
            state["usage.drill"] = {}
            st.rerun()
    return chosen


def top_table(frame: pl.DataFrame) -> None:
    """Top users or top conversations, with their columns in words (the conversation's id hidden)."""
    order = [c for c in frame.columns if c != "conversation"]
    st.dataframe(frame, hide_index=True, width="stretch", column_config=TOP_COLUMNS, column_order=order)


def month_projection(outlook: dict) -> None:
    """This month's cumulative spend so far and projected to the month's end, with its 90% interval
    as a band; and the series' exports."""
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


def plan_table(plans: list[dict]) -> pl.DataFrame:
    """Each user's usage against their plan's limits (a plan without a limit reads "no limit");
    returns the frame to export."""
    frame = pl.DataFrame(plans, infer_schema_length=None)
    limits = [c for c in frame.columns if c.endswith("_limit")]
    # Plain Python, not map_elements: a Python function on polars' thread pool deadlocks against
    # another session's to_pandas (the GIL)
    shown = frame.with_columns(
        pl.Series(c, ["no limit" if v is None else f"{v:,}" for v in frame[c]], dtype=pl.String)
        for c in limits
    )
    config = {
        name: (
            st.column_config.ProgressColumn(label, format="percent", min_value=0, max_value=1)
            if fmt == "percent"
            else st.column_config.NumberColumn(label, format=fmt) if fmt else label
        )
        for name, label, fmt in PLAN_COLUMNS
    }
    config["username"] = st.column_config.TextColumn("User", width="medium")
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config=config,
        column_order=[name for name, _label, _fmt in PLAN_COLUMNS if name in shown.columns],
    )
    return frame
