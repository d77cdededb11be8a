"""The Usage and Prices pages say what their figures divide and count: the cost per conversation
is the conversations' cost over the conversations, each unpriced count names its period, the user
list is searchable, and the browser's icon is a file in the repository."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import streamlit as st
from streamlit.commands.page_config import _get_favicon_string
from streamlit.testing.v1 import AppTest

from tests.conftest import DEMO_TODAY, ROOT, ctx_of
from tests.test_pages import app, logged_in  # noqa: F401  (the fixture)
from workbench.accounts import users
from workbench.ui import admin
from workbench.ui import usage as usage_ui
from workbench.usage import queries as usage

LAST_30 = usage.Filters(*usage.period("Last 30 days", DEMO_TODAY.date()))


@pytest.mark.parametrize(
    ("usd", "shown"),
    [(None, "unknown"), (0, "$0.00"), (12345.678, "$12,345.68"), (0.01, "$0.01"), (0.0045, "$0.0045"),
     (0.0009, "$0.00090"), (0.000017, "$0.000017")],
)
def test_a_cost_below_a_cent_keeps_two_significant_digits(usd, shown):
    """A cost per conversation of $0.000017 read "$0.0000", which looks like free."""
    assert usage_ui.money(usd) == shown


def test_the_usage_charts_carry_what_the_drill_down_reads(demo_store):
    """The Usage page's figures (plotly graph objects): a trace per stacked value with that value
    on each bar (a click drills into the day and the value), the cost bars the costliest first with
    their names as categories (a model named "7" is not a number), and the token types' ring."""
    mike = ctx_of(demo_store, "mike")
    with demo_store.connect() as con:
        shown = usage.charts(mike, con, LAST_30, by="model", measure="tokens")
    series = shown["time"]
    fig = usage_ui.stacked_bars(series, "tokens", "model", "Tokens per day by model")
    assert [t.name for t in fig.data] == series["model"].unique(maintain_order=True).to_list()
    for trace in fig.data:
        part = series.filter(series["model"] == trace.name)
        assert {c[0] for c in trace.customdata} == {trace.name} and list(trace.y) == part["tokens"].to_list()
    assert fig.layout.barmode == "relative" and sum(len(t.x) for t in fig.data) == len(series)
    by_model = shown["model"]
    bars = usage_ui.cost_bars(by_model, "model").data[0]
    assert list(bars.y) == by_model["model"].to_list() and list(bars.x) == by_model["cost_usd"].to_list()
    counts = by_model.select(usage_ui.HOVER_COUNTS).rows()
    assert [list(c) for c in bars.customdata] == [list(r) for r in counts]
    seven = {"model": ["7"], "cost_usd": [1.0], "calls": [1], "total_tokens": [2], "unpriced_calls": [0]}
    numeric = usage_ui.cost_bars(pl.DataFrame(seven), "model")
    assert numeric.layout.yaxis.type == "category"
    ring = usage_ui.token_pie(shown["token_types"]).data[0]
    assert list(ring.values) == shown["token_types"]["tokens"].to_list() and ring.hole == 0.5


def test_cost_per_conversation_divides_the_conversations_cost_by_the_conversations(demo_store):
    mike = ctx_of(demo_store, "mike")
    with demo_store.connect() as con:
        calls, n, cost = con.execute(
            "SELECT count(*), count(DISTINCT conversation_id), sum(cost_usd) FROM llm_calls"
            " WHERE org_id = ? AND conversation_id IS NOT NULL AND created_at >= ? AND created_at < ?",
            [mike.org_id, LAST_30.start, LAST_30.end],
        ).fetchone()
        now = usage.totals(mike, con, LAST_30)["current"]
    assert n > 0 and calls < now["calls"] / 100  # the demo: a few of the period's calls are in a conversation
    assert (now["conversations"], now["conversation_calls"]) == (n, calls)
    assert now["conversation_cost"] == pytest.approx(cost)
    assert now["cost_per_conversation"] == pytest.approx(cost / n)
    assert now["cost_per_conversation"] < now["cost"] / n / 100  # not the period's whole cost
    words = usage_ui.conversation_words(now)
    assert f"{calls:,} calls made in conversations" in words and f"{now['calls']:,} calls" in words
    # the total spent is named as a total, not as the card's per-conversation figure
    assert words.startswith(f"Cost per conversation: the {usage_ui.money(cost)} spent on ")


def test_a_cards_count_fits_the_card_and_its_help_gives_it_in_full():
    assert [usage_ui.count(n) for n in (0, 2_155_226, 9_999_999)] == ["0", "2,155,226", "9,999,999"]
    assert [usage_ui.count(n) for n in (10_000_000, 123_456_789, 4_890_665_123)] == [
        "10.00M", "123.46M", "4.89B"]
    big = {"tokens": 4_890_665_123, "calls": 2_155_226, "unpriced_calls": 0}
    assert usage_ui._card_help("tokens", big) == "4,890,665,123 in all."
    assert usage_ui._card_help("calls", big) is None


def test_usage_page_says_what_the_cost_per_conversation_divides(app):  # noqa: F811
    at = logged_in(app, "mike", "pages/usage/overview.py")
    card = next(m for m in at.metric if m.label == "Cost per conversation")
    assert "divided by the number of conversations" in card.proto.help
    said = next(c.value for c in at.caption if c.value.startswith("Cost per conversation: "))
    assert "calls made in conversations" in said and "of the period's" in said and "divided by" in said


def test_both_unpriced_counts_say_their_period(app):  # noqa: F811
    at = logged_in(app, "mike", "pages/usage/overview.py")
    f = usage.Filters(*usage.period("Last 30 days"))
    warning = next(w.value for w in at.warning if "have no price" in w.value)
    assert warning.startswith(f"In this period ({usage_ui.period_words(f)}), ")
    at = logged_in(app, "alice", "pages/admin/prices.py")
    warning = next(w.value for w in at.warning if "have no price" in w.value)
    assert warning.startswith("All time (since ") and "only its period's" in warning


def test_user_list_filters_by_search_text_and_role(app):  # noqa: F811
    with app.connect() as con:
        rows = users.list_users(ctx_of(app, "alice"), con)
    assert [r["username"] for r in admin.find_users(rows, "OKAFOR")] == ["dan"]  # full name, any case
    assert [r["username"] for r in admin.find_users(rows, "dan@northwind")] == ["dan"]  # email
    assert [r["username"] for r in admin.find_users(rows, role="data_scientist")] == ["dan"]
    assert admin.find_users(rows, "member-35", role="admin") == []
    assert len(admin.find_users(rows)) == len(rows) > 300

    at = logged_in(app, "alice", "pages/admin/users.py")
    assert len(at.dataframe[0].value) == len(rows)
    at.text_input(key="users.search").input("member-35").run()
    shown = at.dataframe[0].value
    assert 0 < len(shown) < 20 and all("member-35" in u for u in shown["username"])
    at.text_input(key="users.search").input("").run()
    at.selectbox(key="users.role").set_value("data_scientist").run()
    shown = at.dataframe[0].value
    assert list(shown["username"]) == ["dan"] and list(shown["roles"]) == ["data scientist"]
    assert any(c.value == f"1 of {len(rows):,} users match." for c in at.caption)


def test_the_page_icon_is_a_local_file_inlined_not_fetched(app, monkeypatch):  # noqa: F811
    seen = {}
    real = st.set_page_config
    monkeypatch.setattr(st, "set_page_config", lambda **kw: (seen.update(kw), real(**kw))[1])
    AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    icon = Path(seen["page_icon"])
    assert icon.is_file() and ROOT in icon.resolve().parents
    assert _get_favicon_string(str(icon)).startswith("data:image/svg+xml;base64,")  # no URL to fetch
