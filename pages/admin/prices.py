"""Prices (admins): the price catalogue every cost is derived from (shared rows plus the
organisation's own), unpriced models to fix, corrections, LiteLLM imports and recompute."""

import polars as pl
import streamlit as st

from workbench import ui
from workbench.ui import admin
from workbench.usage import price_catalogue

ctx = ui.require("prices:manage")
st.title("Prices")
st.caption(
    "Cost of a call = (uncached prompt x input + cached x cached input + completion x output + embedding"
    " x embedding rate) / 1M, at the price in effect on the call's day. Your organisation's rows win over"
    " the shared catalogue for your calls only; every change reprices the calls it affects."
)
ui.show_flash("prices.done")

with ui.connection() as con:
    missing = price_catalogue.unpriced_models(ctx, con)
    rows = price_catalogue.list_prices(ctx, con)

if missing:
    st.warning(admin.unpriced_words(missing), icon=":material/money_off:")
    st.dataframe(missing, hide_index=True, width="stretch", column_config=admin.PRICE_LABELS)

st.subheader("Catalogue")
left, right = st.columns([3, 1])
text = left.text_input("Search model or pattern", key="prices.text")
current_only = right.toggle("In effect today only", value=True, key="prices.current")
table = pl.DataFrame(rows, infer_schema_length=None)
if text and rows:
    table = table.filter(pl.concat_str("model", "match_pattern").str.to_lowercase()
                         .str.contains(text.lower(), literal=True))
if current_only and not table.is_empty():
    table = table.filter(pl.col("in_effect"))
if table.is_empty():
    st.info("No price matches: clear the search, show every period, or add a price below.")
else:
    st.dataframe(admin.price_table(table), hide_index=True, width="stretch", column_config=admin.PRICE_LABELS)
ui.exports(table, "price-catalogue", key="prices.x")
if own := [r for r in rows if r["own"]]:
    pick = st.selectbox(
        "Delete one of your rows (its calls fall back to the shared price)", own, key="prices.del",
        format_func=lambda r: f"#{r['id']} {r['provider']} {r['model']} from {r['effective_from']}")
    ui.confirm_delete(f"Delete price #{pick['id']} and reprice its calls",
                      lambda con: price_catalogue.delete_price(ctx, con, pick["id"]),
                      key=f"price-{pick['id']}")

st.subheader("Add or change a price")
admin.add_price_form(ctx, missing)
st.subheader("Correct a price")
admin.correct_price_form(ctx, rows)
st.subheader("Import LiteLLM prices")
admin.litellm_import(ctx)
