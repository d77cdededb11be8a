"""The Administration pages' widgets: the price catalogue and its forms (add or change, correct,
LiteLLM import), the changes that report what they did, and the prompt template editor."""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from workbench import csv_safe, ui
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
                **{f"{name}_per_million": st.column_config.TextColumn(f"{label} per 1M", alignment="right")
                   for name, label in (("input", "Input"), ("output", "Output"),
                                       ("cached_input", "Cached input"), ("embedding", "Embedding"))},
                "currency": "Currency", "effective_from": "From", "effective_to": "Until", "source": "Source",
                "own": st.column_config.CheckboxColumn("Yours"),
                "in_effect": st.column_config.CheckboxColumn("In effect"), "updated_at": "Updated",
                "calls": st.column_config.NumberColumn("Calls", format="%,d"),
                "tokens": st.column_config.NumberColumn("Tokens", format="%,d"),
                "first_seen": "First seen", "last_seen": "Last seen"}

# the users table's columns, in words and in order; the username wide enough for "northwind-member-357"
USER_LABELS = {"username": st.column_config.TextColumn("Username", width="medium"),
               "email": st.column_config.TextColumn("Email", width="large"), "full_name": "Full name",
               "organization": "Organisation", "roles": "Role", "plan": "Plan",
               "is_active": st.column_config.CheckboxColumn("Active"), "last_login": "Last login",
               "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm")}


def role_words(role: str | None) -> str:
    """A role as people say it: data_scientist -> data scientist."""
    return "any role" if role is None else role.replace("_", " ")


def find_users(rows: list[dict], text: str = "", role: str | None = None) -> list[dict]:
    """The users whose username, full name or email contains `text` (any case), with `role` if given."""
    needle = text.strip().lower()
    return [
        r for r in rows
        if (not needle or any(needle in (r[k] or "").lower() for k in ("username", "full_name", "email")))
        and (role is None or role in (r["roles"] or []))
    ]


def user_list(rows: list[dict], roles) -> None:
    """The users table with a search box (username, name, email) and a role filter; its CSV is
    the users shown."""
    left, right = st.columns([3, 1])
    text = left.text_input("Search users", key="users.search", placeholder="username, name or email")
    role = right.selectbox("Role", [None, *roles], key="users.role", format_func=role_words)
    found = find_users(rows, text, role)
    st.caption(f"{len(found):,} of {len(rows):,} users" + (" match." if text or role else "."))
    if not found:
        st.info("No user matches: clear the search or choose any role.")
        return
    table = pl.DataFrame(found, infer_schema_length=None).drop("uuid").with_columns(
        pl.col("roles").list.eval(pl.element().str.replace_all("_", " ")).list.join(", "),
        pl.col("last_login").cast(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M").fill_null("never"),
        pl.col("full_name").fill_null(""),
    )
    shown = [c for c in USER_LABELS if c != "organization"]  # always their own organisation
    st.dataframe(table, hide_index=True, width="stretch", column_config=USER_LABELS, column_order=shown)
    st.download_button("Download these users (CSV)", csv_safe.write_csv(table), "users.csv", "text/csv")


def unpriced_words(missing: list[dict]) -> str:
    """The Prices page's count of unpriced calls, saying its period: all time, unlike Usage's."""
    first = min(m["first_seen"] for m in missing)
    return (
        f"All time (since {first:%d %b %Y}), {sum(m['calls'] for m in missing):,} calls have no price: they"
        " show as unpriced, never $0. The Usage page counts only its period's. Add a price for these"
        " models below, in Add or change a price:"
    )


def price_table(table: pl.DataFrame) -> pl.DataFrame:
    """The catalogue's rates as dollars per million tokens ("—" where a row has none): the frame shown."""
    rates = [c for c in table.columns if c.endswith("_per_million")]
    # plain Python, not map_elements (polars' thread pool and the GIL, see ui.usage.plan_table)
    return table.with_columns(
        pl.Series(c, ["—" if v is None else _rate(v) for v in table[c]], dtype=pl.String) for c in rates
    )


def _rate(usd: float) -> str:
    """$2.50, $0.075, $0.0375: cents always, more decimals only where the rate has them."""
    whole, cents = f"{usd:,.6f}".split(".")
    return f"${whole}.{cents.rstrip('0').ljust(2, '0')}"


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
