"""The price catalogue: costs by effective date, corrections and recompute, unpriced models,
tenant isolation, LiteLLM import and the `workbench prices` commands, on copies of the demo."""

import json
import math
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workbench import home
from workbench.accounts import auth
from workbench.errors import InvalidInput, NotAllowed, NotFound
from workbench.usage import metering, price_catalogue, price_import, prices, rollup

WORKBENCH = str(Path(sys.executable).parent / "workbench")
SAMPLE = ROOT / "data" / "samples" / "litellm-prices.json"
FINE_TUNE = "ft:gpt-4o-mini:northwind:support-v2"


@pytest.fixture
def con(demo_copy):
    with home.open_store(demo_copy).connect() as con:
        yield con


def record(con, ctx, model, at, prompt=1000, cached=200, completion=500, provider="acme"):
    call = metering.Call(
        provider, model, "chat", prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached
    )
    return metering.record(con, call, org_id=ctx.org_id, user_id=ctx.user_id, at=at)


def cost_of(con, call_id):
    return con.execute("SELECT cost_usd FROM llm_calls WHERE id = ?", [call_id]).fetchone()[0]


def costs_by_model(con, org_id):
    return dict(
        con.execute(
            "SELECT model, round(sum(cost_usd), 9) FROM llm_calls WHERE org_id = ? GROUP BY model", [org_id]
        ).fetchall()
    )


def shared_id(con, provider, pattern):
    return con.execute(
        "SELECT id FROM model_prices WHERE org_id IS NULL AND provider = ? AND match_pattern = ?",
        [provider, pattern],
    ).fetchone()[0]


def test_a_price_change_mid_period_prices_each_call_at_the_rate_of_its_day(con):
    alice = auth.context_for(con, "alice")
    before, after = (
        record(con, alice, "acme-1", datetime(2026, 3, 10, 9)),
        record(con, alice, "acme-1", datetime(2026, 3, 20, 9)),
    )
    assert cost_of(con, before) is None and cost_of(con, after) is None  # unpriced, not $0

    added = price_catalogue.add_price(
        alice,
        con,
        provider="acme",
        model="acme-1",
        input_per_million=2.0,
        output_per_million=8.0,
        cached_input_per_million=0.5,
    )
    assert added["repriced_calls"] == 2
    # 800 uncached x $2 + 200 cached x $0.50 + 500 out x $8, per million
    assert cost_of(con, before) == pytest.approx(5700e-6) and cost_of(con, after) == pytest.approx(5700e-6)

    change = price_catalogue.change_price_from(
        alice,
        con,
        added["id"],
        "2026-03-15",
        input_per_million=1.0,
        output_per_million=4.0,
        cached_input_per_million=0.25,
    )
    assert change["closed_id"] == added["id"] and change["repriced_calls"] == 1  # only calls from the 15th
    assert cost_of(con, before) == pytest.approx(5700e-6)
    assert cost_of(con, after) == pytest.approx((800 * 1.0 + 200 * 0.25 + 500 * 4.0) / 1e6)
    assert prices.rate_for(con, alice.org_id, "acme", "acme-1", date(2026, 3, 14))["input_per_million"] == 2.0
    assert prices.rate_for(con, alice.org_id, "acme", "acme-1", date(2026, 3, 15))["input_per_million"] == 1.0
    assert rollup.differences(con) == []


def test_a_correction_fixes_historical_costs_and_the_daily_rollup(con):
    alice = auth.context_for(con, "alice")
    day = date(2026, 9, 1)
    mini = shared_id(con, "openai", "gpt-4o-mini")
    result = price_catalogue.correct_price(
        alice, con, mini, input_per_million=0.2, output_per_million=0.8, cached_input_per_million=0.1
    )
    assert result["id"] != mini and result["repriced_calls"] > 0
    shared = con.execute("SELECT input_per_million, org_id FROM model_prices WHERE id = ?", [mini]).fetchone()
    assert shared == (0.15, None)  # the shared row is never modified by an organisation

    uncached, cached, completion = con.execute(
        "SELECT sum(prompt_tokens - cached_tokens), sum(cached_tokens), sum(completion_tokens) FROM llm_calls"
        " WHERE org_id = ? AND model = 'gpt-4o-mini' AND created_at::DATE = ?",
        [alice.org_id, day],
    ).fetchone()
    by_hand = (uncached * 0.2 + cached * 0.1 + completion * 0.8) / 1e6
    rolled = con.execute(
        "SELECT sum(cost_usd) FROM usage_daily WHERE org_id = ? AND model = 'gpt-4o-mini' AND day = ?",
        [alice.org_id, day],
    ).fetchone()[0]
    assert uncached > 0 and rolled == pytest.approx(by_hand)
    assert rollup.differences(con) == []

    again = price_catalogue.correct_price(alice, con, result["id"], output_per_million=0.9)
    assert again["id"] == result["id"]  # the organisation's own row is corrected in place
    assert price_catalogue.delete_price(alice, con, result["id"])["repriced_calls"] > 0
    uncached, cached, completion = con.execute(
        "SELECT sum(prompt_tokens - cached_tokens), sum(cached_tokens), sum(completion_tokens) FROM llm_calls"
        " WHERE org_id = ? AND model = 'gpt-4o-mini'",
        [alice.org_id],
    ).fetchone()
    assert costs_by_model(con, alice.org_id)["gpt-4o-mini"] == pytest.approx(
        (uncached * 0.15 + cached * 0.075 + completion * 0.6) / 1e6
    )  # back to the shared rate


def test_a_fine_tune_is_unpriced_never_zero_until_a_pattern_prices_it(con):
    mike, alice = auth.context_for(con, "mike"), auth.context_for(con, "alice")
    unpriced = {(r["provider"], r["model"]): r for r in price_catalogue.unpriced_models(mike, con)}
    assert set(unpriced) == {("openai", FINE_TUNE)}  # the default catalogue prices mistral-small-latest
    calls, nulls = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE cost_usd IS NULL) FROM llm_calls"
        " WHERE org_id = ? AND model = ?",
        [alice.org_id, FINE_TUNE],
    ).fetchone()
    assert unpriced["openai", FINE_TUNE]["calls"] == calls == nulls > 0
    assert unpriced["openai", FINE_TUNE]["first_seen"] <= unpriced["openai", FINE_TUNE]["last_seen"]

    result = price_catalogue.add_price(
        alice,
        con,
        provider="openai",
        model="support-v2 fine-tune",
        match_pattern="ft:gpt-4o-mini:*",
        input_per_million=0.3,
        output_per_million=1.2,
        cached_input_per_million=0.15,
    )
    assert result["repriced_calls"] >= calls
    assert (
        con.execute(
            "SELECT count(*) FROM llm_calls WHERE org_id = ? AND cost_usd IS NULL", [alice.org_id]
        ).fetchone()[0]
        == 0
    )
    assert price_catalogue.unpriced_models(mike, con) == []
    assert rollup.differences(con) == []


def test_the_default_catalogue_matches_whole_names_in_any_case(con):
    alice = auth.context_for(con, "alice")
    day = date(2026, 6, 1)

    def pattern(provider, model):
        row = prices.rate_for(con, alice.org_id, provider, model, day)
        return row and row["match_pattern"]

    assert pattern("openai", "GPT-4o") == "gpt-4o"
    assert pattern("openai", "gpt-4o-mini-2024-07-18") == "gpt-4o-mini-20*"  # not gpt-4o's
    assert pattern("openai", "gpt-4o-2024-08-06") == "gpt-4o-20*"
    assert pattern("openai", FINE_TUNE) is None and pattern("openai", "gpt-4o-audio-preview") is None
    assert pattern("google", "gemini-2.0-flash-lite") is None  # not gemini-2.0-flash's rate
    assert (
        prices.rate_for(con, alice.org_id, "anthropic", "claude-opus-4-5-20251101", day)["input_per_million"]
        == 5
    )
    assert prices.rate_for(con, alice.org_id, "openai", "o3", date(2025, 5, 1))["input_per_million"] == 10
    shouting = record(con, alice, "GPT-4o", datetime(2026, 6, 1, 10), provider="openai")
    assert cost_of(con, shouting) == pytest.approx((800 * 2.5 + 200 * 1.25 + 500 * 10) / 1e6)
    sources = con.execute("SELECT DISTINCT source FROM model_prices WHERE provider = 'openai'").fetchall()
    assert sources == [("openai.com/api/pricing, standard tier, list price read 2025",)]


def test_an_organisations_prices_change_only_its_own_costs_and_only_admins_edit(con):
    alice, hannah, mike = (auth.context_for(con, u) for u in ("alice", "hannah", "mike"))
    helio_before = costs_by_model(con, hannah.org_id)
    northwind_before = costs_by_model(con, alice.org_id)
    own = price_catalogue.correct_price(alice, con, shared_id(con, "openai", "gpt-4.1"), input_per_million=20)
    assert costs_by_model(con, hannah.org_id) == helio_before
    assert costs_by_model(con, alice.org_id)["gpt-4.1"] > northwind_before["gpt-4.1"]
    assert own["id"] not in {r["id"] for r in price_catalogue.list_prices(hannah, con)}
    mine = [r for r in price_catalogue.list_prices(alice, con, provider="openai", text="gpt-4.1") if r["own"]]
    assert [r["id"] for r in mine] == [own["id"]] and mine[0]["in_effect"]

    with pytest.raises(NotAllowed, match="prices:manage"):
        price_catalogue.add_price(
            mike, con, provider="openai", model="x", input_per_million=1, output_per_million=1
        )
    with pytest.raises(NotAllowed, match="prices:manage"):
        price_catalogue.correct_price(mike, con, own["id"], input_per_million=1)
    with pytest.raises(NotAllowed, match="prices:manage"):
        price_import.import_litellm(mike, con, SAMPLE.read_bytes(), source_name="x")
    with pytest.raises(NotFound):
        price_catalogue.correct_price(hannah, con, own["id"], input_per_million=1)
    with pytest.raises(NotFound):
        price_catalogue.delete_price(hannah, con, own["id"])
    with pytest.raises(NotAllowed, match="shared catalogue"):
        price_catalogue.delete_price(alice, con, shared_id(con, "openai", "gpt-4o"))
    with pytest.raises(NotAllowed, match="usage:read"):
        price_catalogue.list_prices(auth.context_for(con, "anna"), con)
    assert costs_by_model(con, hannah.org_id) == helio_before


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"currency": "EUR"}, "reports every cost in USD"),
        ({"input_per_million": -1}, "input_per_million must be a finite number"),
        ({"output_per_million": math.nan}, "output_per_million must be a finite number"),
        ({"input_per_million": "cheap"}, "not 'cheap'"),
        ({"provider": " "}, "needs a provider"),
        ({"effective_from": "2026-05-01", "effective_to": "2026-04-01"}, "must come after effective_from"),
        ({"effective_from": "May 1"}, "like 2026-01-31"),
    ],
)
def test_bad_price_input_is_refused_and_changes_nothing(con, fields, message):
    alice = auth.context_for(con, "alice")
    before = con.execute("SELECT count(*) FROM model_prices").fetchone()[0]
    good = {"provider": "acme", "model": "acme-1", "input_per_million": 1.0, "output_per_million": 2.0}
    with pytest.raises(InvalidInput, match=message):
        price_catalogue.add_price(alice, con, **{**good, **fields})
    assert con.execute("SELECT count(*) FROM model_prices").fetchone()[0] == before


def test_a_second_own_row_for_the_same_period_is_refused(con):
    alice = auth.context_for(con, "alice")
    fields = {"provider": "acme", "model": "acme-1", "input_per_million": 1.0, "output_per_million": 2.0}
    first = price_catalogue.add_price(alice, con, **fields)
    with pytest.raises(InvalidInput, match=f"#{first['id']}"):
        price_catalogue.add_price(alice, con, **fields, effective_from="2026-01-01")


def test_litellm_sample_import_converts_per_token_costs(con):
    alice = auth.context_for(con, "alice")
    result = price_import.import_litellm(
        alice, con, SAMPLE.read_bytes(), source_name="litellm-prices.json", effective_from="2026-06-01"
    )
    assert (result["added"], result["replaced"], result["skipped"]) == (6, 0, 1)
    assert result["skip_reasons"][0]["model"] == "1024-x-1024/dall-e-3"
    assert result["repriced_calls"] > 0
    own = {(r["provider"], r["model"]): r for r in price_catalogue.list_prices(alice, con) if r["own"]}
    assert len(own) == 6 and not any("sample_spec" in model for _provider, model in own)
    gemini = own["google", "gemini-2.5-flash"]  # 'gemini/' prefix stripped, provider mapped
    assert (
        gemini["input_per_million"],
        gemini["output_per_million"],
        gemini["cached_input_per_million"],
    ) == (0.3, 2.5, 0.03)
    assert own["openai", "text-embedding-3-small"]["embedding_per_million"] == 0.02
    assert own["mistral", "mistral-small-latest"]["source"] == "LiteLLM litellm-prices.json"
    assert own["openai", "gpt-4o"]["effective_from"] == date(2026, 6, 1)

    again = price_import.import_litellm(alice, con, SAMPLE.read_bytes(), source_name="litellm-prices.json")
    assert (again["added"], again["replaced"]) == (6, 6)
    ended = con.execute(
        "SELECT count(*) FROM model_prices WHERE org_id = ? AND effective_to = ?",
        [alice.org_id, date.today()],
    ).fetchone()[0]
    assert ended == 6 and rollup.differences(con) == []


@pytest.mark.parametrize(
    "data, message",
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (
            b'{"gpt-4o": {"input_cost_per_token": 2.5e-06, "litellm_provider": "openai"},'
            b' "bad-model": {"input_cost_per_token": -1e-06, "litellm_provider": "openai"}}',
            "bad-model",
        ),
        (b'{"odd-model": {"input_cost_per_token": "0.1", "litellm_provider": "openai"}}', "odd-model"),
    ],
)
def test_a_bad_litellm_file_is_rejected_whole(con, data, message):
    alice = auth.context_for(con, "alice")
    before = con.execute("SELECT count(*) FROM model_prices").fetchone()[0]
    with pytest.raises(InvalidInput, match=message):
        price_import.import_litellm(alice, con, data, source_name="bad.json")
    assert con.execute("SELECT count(*) FROM model_prices").fetchone()[0] == before


def run(env, *args):
    return subprocess.run([WORKBENCH, "prices", *args], env=env, capture_output=True, text=True, timeout=120)


def test_cli_import_set_recompute_and_unpriced(cli_env):
    imported = run(cli_env, "import", str(SAMPLE), "--as", "alice", "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["added"] == 6

    changed = run(
        cli_env,
        "set",
        "--provider",
        "openai",
        "--model",
        "gpt-4o-mini",
        "--input",
        "0.2",
        "--output",
        "0.8",
        "--from",
        "2026-10-01",
        "--as",
        "alice",
        "--json",
    )
    assert changed.returncode == 0, changed.stderr
    assert (
        json.loads(changed.stdout)["action"] == "changed" and json.loads(changed.stdout)["repriced_calls"] > 0
    )

    recomputed = run(cli_env, "recompute", "--since", "2026-11-01", "--as", "alice", "--json")
    assert recomputed.returncode == 0, recomputed.stderr
    body = json.loads(recomputed.stdout)
    assert body["repriced_calls"] > 0 and body["seconds"] >= 0

    unpriced = run(cli_env, "unpriced", "--as", "mike", "--json")
    assert [r["model"] for r in json.loads(unpriced.stdout)] == [FINE_TUNE]
    listed = run(cli_env, "list", "--provider", "openai", "--as", "mike")
    assert listed.returncode == 0 and "gpt-4o-mini" in listed.stdout and "own" in listed.stdout

    refused = run(cli_env, "recompute", "--as", "mike")
    assert refused.returncode == 1 and "prices:manage" in refused.stderr and "Traceback" not in refused.stderr
