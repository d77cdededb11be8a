"""Prices & budgets (admins): the price catalogue every cost is derived from (shared rows plus the
organisation's own), unpriced models to fix, LiteLLM imports, recompute, and monthly budgets."""

from datetime import date

import polars as pl
import streamlit as st

from workbench import ui
from workbench.errors import WorkbenchError
from workbench.usage import budgets, price_catalogue, price_import

ctx = ui.require("prices:manage")
st.title("Prices & budgets")
st.caption(
    "Cost of a call = (uncached prompt x input + cached x cached input + completion x output + embedding"
    " x embedding rate) / 1M, at the price in effect on the call's day. Your organisation's rows win over"
    " the shared catalogue for your calls only; every change reprices the calls it affects."
)


def run(action, done: str) -> None:
    """Run one write in a transaction and report it; errors leave everything as it was."""
    try:
        with ui.connection(write=True, reraise=True) as con:
            result = action(con)
    except WorkbenchError as exc:
        st.error(str(exc))
        return
    state["prices.done"] = done.format(**result)
    st.rerun()


state = st.session_state
if state.get("prices.done"):
    st.success(state.pop("prices.done"))

with ui.connection() as con:
    missing = price_catalogue.unpriced_models(ctx, con)
    rows = price_catalogue.list_prices(ctx, con)

RATE_FIELDS = [
    ("Input $/1M", "input_per_million"),
    ("Output $/1M", "output_per_million"),
    ("Cached input $/1M", "cached_input_per_million"),
    ("Embedding $/1M", "embedding_per_million"),
]


def rates_inputs(key: str, defaults: dict | None = None) -> dict:
    cols = st.columns(4)
    out = {}
    for col, (label, name) in zip(cols, RATE_FIELDS, strict=True):
        value = (defaults or {}).get(name)  # empty until typed: a price is never $0 by default
        optional = name in ("cached_input_per_million", "embedding_per_million")
        out[name] = col.number_input(
            label,
            min_value=0.0,
            value=value,
            format="%.4f",
            key=f"{key}.{name}",
            placeholder="= input rate" if optional else "required",
        )
    return out


# the catalogue's and the unpriced models' columns, in words
LABELS = {"id": "Id", "provider": "Provider", "model": "Model", "match_pattern": "Matches",
          "input_per_million": "Input per 1M", "output_per_million": "Output per 1M",
          "cached_input_per_million": "Cached input per 1M", "embedding_per_million": "Embedding per 1M",
          "currency": "Currency", "effective_from": "From", "effective_to": "Until", "source": "Source",
          "own": st.column_config.CheckboxColumn("Yours"), "in_effect": st.column_config.CheckboxColumn(
              "In effect"), "updated_at": "Updated", "calls": "Calls", "tokens": "Tokens",
          "first_seen": "First seen", "last_seen": "Last seen"}

catalogue, add, correct, litellm, spend = st.tabs(
    ["Catalogue", "Add or change a price", "Correct a price", "Import LiteLLM prices", "Budgets"]
)

with catalogue:
    if missing:
        st.warning(
            f"{sum(m['calls'] for m in missing):,} calls have no price (shown as unpriced, never $0). Add"
            " a price for these models in the next tab:",
            icon=":material/money_off:",
        )
        st.dataframe(missing, hide_index=True, width="stretch", column_config=LABELS)
    left, right = st.columns([3, 1])
    text = left.text_input("Search model or pattern", key="prices.text")
    current_only = right.toggle("In effect today only", value=True, key="prices.current")
    table = pl.DataFrame(rows, infer_schema_length=None)
    if text:
        table = table.filter(
            pl.concat_str("model", "match_pattern")
            .str.to_lowercase()
            .str.contains(text.lower(), literal=True)
        )
    if current_only and not table.is_empty():
        table = table.filter(pl.col("in_effect"))
    rates = [c for c in table.columns if c.endswith("_per_million")]
    shown = table.with_columns(pl.col(c).cast(pl.String).fill_null("—") for c in rates)  # no "None"
    st.dataframe(shown, hide_index=True, width="stretch", column_config=LABELS)
    ui.exports(table, "price-catalogue", key="prices.x")
    own = [r for r in rows if r["own"]]
    if own:
        pick = st.selectbox(
            "Delete one of your rows (its calls fall back to the shared price)",
            own,
            format_func=lambda r: f"#{r['id']} {r['provider']} {r['model']} from {r['effective_from']}",
            key="prices.del",
        )
        ui.confirm_delete(
            f"Delete price #{pick['id']} and reprice its calls",
            lambda con: price_catalogue.delete_price(ctx, con, pick["id"]),
            key=f"price-{pick['id']}",
        )

with add:
    st.caption(
        "A new rate from a date closes the current one the day before, so past calls keep their price;"
        " without a date it prices every call of the model."
    )
    suggestions = [f"{m['provider']} {m['model']}" for m in missing]
    chosen = st.selectbox(
        "Unpriced model",
        [None, *suggestions],
        key="prices.suggest",
        format_func=lambda v: v or "(type a model below)",
    )
    provider0, model0 = chosen.split(" ", 1) if chosen else ("", "")
    with st.form("prices.add"):
        a, b, c, d = st.columns(4)
        provider = a.text_input("Provider", provider0)
        model = b.text_input("Model", model0)
        pattern = c.text_input("Match pattern (glob)", placeholder="exactly the model name")
        since = d.date_input("Applies from", None, help="Empty: every call of the model.")
        rates = rates_inputs("prices.add")
        if st.form_submit_button("Save price", type="primary"):
            run(
                lambda con: price_catalogue.set_price(
                    ctx,
                    con,
                    provider=provider,
                    model=model,
                    match_pattern=pattern or None,
                    effective_from=since,
                    **rates,
                ),
                f"Price {{action}} for {provider} {model}: {{repriced_calls:,}} calls repriced.",
            )

with correct:
    st.caption(
        "A correction applies to every call the row prices, past ones too. Correcting a shared row gives"
        " your organisation its own copy; other organisations keep theirs."
    )
    live = [r for r in rows if r["in_effect"]]
    row = st.selectbox(
        "Row",
        live,
        format_func=lambda r: (
            f"#{r['id']} {r['provider']} {r['model']} ({'yours' if r['own'] else 'shared'})"
        ),
        key="prices.fix",
    )
    if row:
        with st.form("prices.correct"):
            rates = rates_inputs(f"prices.fix.{row['id']}", row)
            if st.form_submit_button("Correct and reprice", type="primary"):
                run(
                    lambda con: price_catalogue.correct_price(ctx, con, row["id"], **rates),
                    "Corrected: {repriced_calls:,} calls repriced.",
                )

with litellm:
    st.caption(
        "LiteLLM's `model_prices_and_context_window.json`: per-token prices become your organisation's"
        " rows per million tokens (the same as `workbench prices import FILE`)."
    )
    upload = st.file_uploader(
        "Price file", type=["json"], key="prices.upload", max_upload_size=ui.settings().upload_max_mb
    )
    since = st.date_input("Applies from", date.today(), key="prices.upload.from")
    if upload and st.button("Import prices", type="primary"):
        run(
            lambda con: price_import.import_litellm(
                ctx, con, upload.getvalue(), source_name=upload.name, effective_from=since
            ),
            "Imported: {added} added, {replaced} replaced, {skipped} skipped;"
            " {repriced_calls:,} calls repriced.",
        )
    if st.button("Recompute all my organisation's costs", icon=":material/refresh:"):
        run(
            lambda con: price_catalogue.recompute_org(ctx, con),
            "Recomputed {repriced_calls:,} calls in {seconds} s.",
        )

with spend:
    st.caption(
        "Monthly budgets in USD: warning at 80%, exceeded at 100%, shown on Home and Usage with the"
        " month-end projection."
    )
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
    with st.form("budgets.set"):
        a, b, c = st.columns(3)
        scope = a.selectbox("For", ["organization", "project", "user"])
        target = b.text_input("Project or username", help="Empty for the whole organisation.")
        amount = c.number_input("Monthly USD", min_value=0.0, value=100.0, step=10.0)
        if st.form_submit_button("Set budget", type="primary"):
            run(
                lambda con: {
                    "id": budgets.set_budget(
                        ctx,
                        con,
                        scope=scope,
                        monthly_usd=amount,
                        project=target if scope == "project" else None,
                        user=target if scope == "user" else None,
                    )
                },
                f"Budget set: ${amount:,.0f} a month for the {scope}" + (f" {target}." if target else "."),
            )
