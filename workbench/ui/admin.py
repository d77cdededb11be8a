"""The Administration pages' widgets: the price catalogue and its forms (add or change, correct,
LiteLLM import), the changes that report what they did, and the prompt template editor."""

from __future__ import annotations

from datetime import date

import streamlit as st

from workbench import ui
from workbench.accounts.context import Context
from workbench.chat import prompts
from workbench.errors import WorkbenchError
from workbench.usage import price_catalogue, price_import

RATE_FIELDS = [
    ("Input $/1M", "input_per_million"),
    ("Output $/1M", "output_per_million"),
    ("Cached input $/1M", "cached_input_per_million"),
    ("Embedding $/1M", "embedding_per_million"),
]

# the catalogue's and the unpriced models' columns, in words
PRICE_LABELS = {"id": "Id", "provider": "Provider", "model": "Model", "match_pattern": "Matches",
                "input_per_million": "Input per 1M", "output_per_million": "Output per 1M",
                "cached_input_per_million": "Cached input per 1M",
                "embedding_per_million": "Embedding per 1M",
                "currency": "Currency", "effective_from": "From", "effective_to": "Until", "source": "Source",
                "own": st.column_config.CheckboxColumn("Yours"),
                "in_effect": st.column_config.CheckboxColumn("In effect"), "updated_at": "Updated",
                "calls": "Calls", "tokens": "Tokens", "first_seen": "First seen", "last_seen": "Last seen"}

# the users table's columns, in words
USER_LABELS = {"username": "Username", "email": "Email", "full_name": "Full name",
               "organization": "Organisation", "roles": "Role", "plan": "Plan",
               "is_active": st.column_config.CheckboxColumn("Active"), "last_login": "Last login",
               "created_at": "Created"}


def run(action, done: str, flash: str) -> None:
    """Run one write (`action(con)` returns a dict) in a transaction; `done`, formatted with that
    dict, is shown after the rerun by `ui.show_flash(flash)`; an error here, with nothing changed."""
    try:
        with ui.connection(write=True, reraise=True) as con:
            result = action(con)
    except WorkbenchError as exc:
        st.error(str(exc))
        return
    st.session_state[flash] = done.format(**result)
    st.rerun()


def rates_inputs(key: str, defaults: dict | None = None) -> dict:
    """The four rates of a price, side by side; empty until typed: a price is never $0 by default."""
    out = {}
    for col, (label, name) in zip(st.columns(4), RATE_FIELDS, strict=True):
        optional = name in ("cached_input_per_million", "embedding_per_million")
        out[name] = col.number_input(label, min_value=0.0, value=(defaults or {}).get(name), format="%.4f",
                                     key=f"{key}.{name}",
                                     placeholder="= input rate" if optional else "required")
    return out


def add_price_form(ctx: Context, missing: list[dict]) -> None:
    """A new price (or a new rate from a date) for a model, an unpriced one offered first."""
    st.caption("A new rate from a date closes the current one the day before, so past calls keep their price;"
               " without a date it prices every call of the model.")
    suggestions = [f"{m['provider']} {m['model']}" for m in missing]
    chosen = st.selectbox("Unpriced model", [None, *suggestions], key="prices.suggest",
                          format_func=lambda v: v or "(type a model below)")
    provider0, model0 = chosen.split(" ", 1) if chosen else ("", "")
    with st.form("prices.add"):
        a, b, c, d = st.columns(4)
        provider = a.text_input("Provider", provider0)
        model = b.text_input("Model", model0)
        pattern = c.text_input("Match pattern (glob)", placeholder="exactly the model name")
        since = d.date_input("Applies from", None, help="Empty: every call of the model.")
        rates = rates_inputs("prices.add")
        if st.form_submit_button("Save price", type="primary"):
            run(lambda con: price_catalogue.set_price(ctx, con, provider=provider, model=model,
                                                      match_pattern=pattern or None, effective_from=since,
                                                      **rates),
                "Price {action} for " + f"{provider} {model}".replace("{", "{{").replace("}", "}}")
                + ": {repriced_calls:,} calls repriced.", "prices.done")


def correct_price_form(ctx: Context, rows: list[dict]) -> None:
    """Correct the rates of a row in effect, for every call it prices."""
    st.caption("A correction applies to every call the row prices, past ones too. Correcting a shared row"
               " gives your organisation its own copy; other organisations keep theirs.")
    row = st.selectbox("Row", [r for r in rows if r["in_effect"]], key="prices.fix",
                       format_func=lambda r: f"#{r['id']} {r['provider']} {r['model']} "
                                             f"({'yours' if r['own'] else 'shared'})")
    if row:
        with st.form("prices.correct"):
            rates = rates_inputs(f"prices.fix.{row['id']}", row)
            if st.form_submit_button("Correct and reprice", type="primary"):
                run(lambda con: price_catalogue.correct_price(ctx, con, row["id"], **rates),
                    "Corrected: {repriced_calls:,} calls repriced.", "prices.done")


def litellm_import(ctx: Context) -> None:
    """Import LiteLLM's price file as the organisation's rows; recompute every cost of the org."""
    st.caption("LiteLLM's `model_prices_and_context_window.json`: per-token prices become your organisation's"
               " rows per million tokens (the same as `workbench prices import FILE`).")
    upload = st.file_uploader("Price file", type=["json"], key="prices.upload",
                              max_upload_size=ui.settings().upload_max_mb)
    since = st.date_input("Applies from", date.today(), key="prices.upload.from")
    if upload and st.button("Import prices", type="primary"):
        run(lambda con: price_import.import_litellm(ctx, con, upload.getvalue(), source_name=upload.name,
                                                    effective_from=since),
            "Imported: {added} added, {replaced} replaced, {skipped} skipped;"
            " {repriced_calls:,} calls repriced.",
            "prices.done")
    if st.button("Recompute all my organisation's costs", icon=":material/refresh:"):
        run(lambda con: price_catalogue.recompute_org(ctx, con),
            "Recomputed {repriced_calls:,} calls in {seconds} s.", "prices.done")


def template_editor(ctx: Context, template: dict) -> None:
    """One prompt template (and its system prompt, unless it is the system template), saved at once."""
    with st.form(f"template.{template['uuid']}"):
        system = None
        if template["template_type"] != "system":
            system = st.text_area("System prompt (empty: the organisation's system template)",
                                  value=template["system_prompt"] or "", height=80,
                                  key=f"template.{template['uuid']}.system")
        content = st.text_area("Template", value=template["content"], height=180,
                               key=f"template.{template['uuid']}.content")
        st.caption("Variables: " + (", ".join(template["variables"]) or "none")
                   + f" · last changed {template['updated_at']:%Y-%m-%d %H:%M}")
        if st.form_submit_button("Save", type="primary"):
            try:
                with ui.connection(write=True) as con:
                    prompts.update_template(ctx, con, template["uuid"], content=content, system_prompt=system)
                st.toast("Saved: the next question uses it.")
                st.rerun()
            except WorkbenchError as exc:
                st.error(str(exc))
