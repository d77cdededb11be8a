"""Every page runs headless through Streamlit's AppTest, as each role would see it."""

import subprocess
import sys

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, ctx_of
from workbench import home

APP = str(ROOT / "app.py")


@pytest.fixture
def app(demo_copy, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(demo_copy.home))
    monkeypatch.setenv("WORKBENCH_LOCK_WAIT_S", "1")
    monkeypatch.setenv("WORKBENCH_EMBEDDING_BACKEND", "hash")
    st.cache_resource.clear()
    yield home.open_store(demo_copy)
    st.cache_resource.clear()


def logged_in(store, username: str, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["ctx"] = ctx_of(store, username)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_login_page_logs_in_and_shows_home(app):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    at.text_input[0].input("mike")
    at.text_input[1].input("workbench-demo")
    at.button[0].click().run()
    assert not at.exception
    # the only errors are budget alerts (this month the demo's data scientist overran his budget)
    assert all(e.value.startswith("Budget exceeded") for e in at.error)
    assert at.title[0].value == "Northwind Mobile"
    assert "Mike Chen" in at.sidebar.markdown[0].value


def test_wrong_password_shows_the_generic_message(app):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.text_input[0].input("mike")
    at.text_input[1].input("not-the-password")
    at.button[0].click().run()
    assert at.error[0].value == "Wrong username or password."
    assert "ctx" not in at.session_state


def test_home_shows_the_kpis_a_manager_may_open(app):
    at = logged_in(app, "mike")
    labels = [m.label for m in at.metric]
    assert labels == ["Calls", "Documents added", "Conversations", "Tokens", "Cost (USD)",
                      "Active users"]
    assert all(m.value not in ("None", "0", "$0.00") for m in at.metric)


def test_home_of_an_analyst_has_no_spend(app):
    at = logged_in(app, "anna")
    labels = [m.label for m in at.metric]
    assert "Calls" in labels and "Tokens" not in labels and "Cost (USD)" not in labels


def test_users_page_lists_only_the_own_organisation(app):
    at = logged_in(app, "alice", "pages/admin/users.py")
    assert at.title[0].value == "Users & roles"
    frame = at.dataframe[0].value
    assert set(frame["organization"]) == {"Northwind Mobile"} and "amir" not in set(frame["username"])


def test_users_page_adds_a_user(app):
    at = logged_in(app, "alice", "pages/admin/users.py")
    inputs = [t for t in at.text_input if t.key != "users.search"]  # the form's, not the list's search
    inputs[0].input("newcomer")
    inputs[1].input("newcomer@northwind.example")
    inputs[2].input("New Comer")
    inputs[3].input("password-123")
    at.button[0].click().run()
    assert not at.exception and not at.error, at.error
    assert "newcomer" in set(at.dataframe[0].value["username"])


def test_users_page_is_absent_for_an_analyst_and_refuses_if_reached(app):
    at = logged_in(app, "anna")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/admin/users.py")
    direct = AppTest.from_file(str(ROOT / "pages" / "admin" / "users.py"), default_timeout=30)
    direct.session_state["ctx"] = ctx_of(app, "anna")
    direct.run()
    assert direct.error and "users:manage" in direct.error[0].value
    assert not direct.dataframe


def test_account_page_shows_roles(app):
    at = logged_in(app, "dan", "pages/account/my_account.py")
    assert at.title[0].value == "My account"
    assert any("data_scientist" in m.value for m in at.markdown)


@pytest.mark.embedded_only
def test_a_held_database_gives_the_clear_message(app, demo_copy):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
         " print('holding', flush=True); time.sleep(30)", str(demo_copy.db_path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        at = AppTest.from_file(APP, default_timeout=30).run()
        at.text_input[0].input("mike")
        at.text_input[1].input("workbench-demo")
        at.button[0].click().run()
    finally:
        holder.kill()
        holder.wait()
    assert not at.exception
    assert "in use by" in at.error[0].value and str(holder.pid) in at.error[0].value


def test_documents_page_lists_the_library_and_searches(app):
    at = logged_in(app, "anna", "pages/documents/library.py")
    assert at.title[0].value == "Documents" and not at.error
    frame = at.dataframe[0].value
    assert len(frame) >= 10 and set(frame["processing_status"]) == {"completed"}
    at.switch_page("pages/documents/search.py").run()
    assert at.title[0].value == "Search documents" and not at.error
    at.text_input(key="docs.query").input("refund for a faulty phone").run()
    assert not at.exception
    cards = [m.value for m in at.markdown if m.value.startswith("**1. ")]
    assert len(cards) == 1 and len([m for m in at.markdown if m.value.startswith("**")]) >= 10
    assert any("**refund" in m.value.lower() for m in at.markdown)      # query words are marked


def test_documents_page_for_a_viewer_reads_but_offers_no_upload(app):
    at = logged_in(app, "vera", "pages/documents/library.py")
    assert any("not upload" in c.value for c in at.caption)
    assert len(at.dataframe[0].value) >= 10
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not in their navigation
        at.switch_page("pages/documents/upload.py")


def test_documents_upload_and_code_repository_pages_open(app):
    at = logged_in(app, "anna", "pages/documents/upload.py")
    assert at.title[0].value == "Upload documents" and not at.error
    assert [s.label for s in at.selectbox] == ["Visible to", "Project", "Type"]
    at.switch_page("pages/documents/repos.py").run()
    assert at.title[0].value == "Code repositories" and not at.exception and not at.error
    assert at.dataframe or any("index-repo" in i.value for i in at.info)


def test_chat_page_answers_with_sources_confidence_and_grounding(app):
    at = logged_in(app, "anna", "pages/workbench/chat.py")
    assert at.title[0].value == "Chat" and not at.error
    at.chat_input[0].set_value("Is a phone that arrives damaged replaced free of charge?").run()
    assert not at.exception, at.exception
    bubbles = [m for m in at.chat_message]
    assert [b.name for b in bubbles] == ["user", "assistant"]
    answer = bubbles[1]
    assert "replaced free of charge" in answer.markdown[0].value and "[" in answer.markdown[0].value
    labels = [e.label for e in answer.expander]
    assert any(label.startswith("Sources (") for label in labels)
    sources = next(e for e in answer.expander if e.label.startswith("Sources ("))
    titles = [m.value for m in sources.markdown if m.value.startswith("**[")]  # one card per document
    documents = [t.rsplit("] ", 1)[-1] for t in titles]  # "**[1] [3] Delivery Policy**"
    assert documents and len(documents) == len(set(documents))
    marked = " ".join(m.value for m in sources.markdown)
    assert "**damaged**" in marked.lower() and "**that**" not in marked.lower() and "**is**" not in marked
    assert any(label.startswith("Grounding 1.00") for label in labels) and "Reasoning" in labels
    assert "Is a phone that arrives damaged" in at.radio[0].options[0]  # auto-titled, listed
    assert [b.label for b in at.get("download_button")] == ["Markdown", "JSON"]


def test_the_open_chat_stays_open_when_another_process_starts_a_conversation_for_the_same_user(app):
    """Another browser, the API or `workbench ask` may add a conversation at the top of the list
    while this page is open: the chat shown, and where the next question goes, do not move."""
    from workbench.chat import conversations

    at = logged_in(app, "anna", "pages/workbench/chat.py")
    at.chat_input[0].set_value("Is a phone that arrives damaged replaced free of charge?").run()
    mine = at.radio[0].value
    with app.transaction() as con:
        anna = ctx_of(app, "anna")
        elsewhere = conversations.create_conversation(anna, con, title="Asked elsewhere")["uuid"]
    at.run()
    assert at.radio[0].options[0] == "Asked elsewhere (0)" and at.radio[0].value == mine
    at.chat_input[0].set_value("And a phone lost in the post?").run()
    assert not at.exception, at.exception
    assert [m.name for m in at.chat_message] == ["user", "assistant", "user", "assistant"]
    assert "damaged" in at.chat_message[0].markdown[0].value and at.radio[0].value == mine
    at.radio[0].set_value(elsewhere).run()  # picking another one still opens it
    assert at.radio[0].value == elsewhere and not at.chat_message
    at.radio[0].set_value(mine).run()
    assert len(at.chat_message) == 4


def test_a_new_chat_says_what_each_agent_answers_and_starts_from_an_example(app):
    at = logged_in(app, "anna", "pages/workbench/chat.py")
    said = " ".join(m.value for m in at.markdown)
    assert "answers from the" in said and "documents you can read" in said and "own data" in said
    starts = [b for b in at.button if b.key and b.key.startswith("chat.start.")]
    labels = [b.label for b in starts]
    assert any(label.startswith("What does ") and " say about " in label for label in labels)
    data = next(b for b in starts if b.label == "How many calls per intent last month?")
    data.click().run()
    assert not at.exception, at.exception
    answer = [m for m in at.chat_message][1]
    assert "intent" in answer.markdown[0].value.lower()  # the Workbench data agent answered it
    assert not any(b.key and b.key.startswith("chat.start.") for b in at.button)  # the chat has begun


def test_starters_come_from_the_users_own_documents_and_the_queries_they_may_run(demo_store):
    from workbench.chat import starters as chat_starters
    from workbench.chat.queries import CATALOGUE

    anna, victor = ctx_of(demo_store, "anna"), ctx_of(demo_store, "victor")
    with demo_store.connect() as con:
        mine, theirs = chat_starters.starters(anna, con), chat_starters.starters(victor, con)
        titles = {r[0] for r in con.execute("SELECT title FROM documents WHERE org_id = ?",
                                            [anna.org_id]).fetchall()}
    asked = [s["question"] for s in mine if s["agent_type"] == "rag"]
    assert len(asked) == 3 and all(any(f"What does {t} say" in q for t in titles) for q in asked)
    by_example = {q.examples[0]: q for q in CATALOGUE if q.examples}
    data = [by_example[s["question"]] for s in mine if s["agent_type"] == "analytics"]
    assert data and all(anna.can(q.permission) for q in data)  # an analyst is offered no usage costs
    assert not any(s["question"] in asked for s in theirs)  # another organisation's documents


def test_chat_page_says_so_when_nothing_is_found_and_runs_analytics(app):
    at = logged_in(app, "mike", "pages/workbench/chat.py")
    at.chat_input[0].set_value("What is the capital of Mongolia?").run()
    assert not at.exception
    assert any("Low confidence" in w.value for w in at.warning)
    at.button[0].click().run()  # New chat
    at.selectbox[0].set_value("analytics").run()
    at.chat_input[0].set_value("How many tokens did we use per day over the last 30 days?").run()
    assert not at.exception, at.exception
    assert any("org_id =" in c.value for c in at.code) and at.dataframe
    assert "tokens in total" in at.chat_message[1].markdown[0].value


def test_prompts_page_lets_an_admin_edit_a_template(app):
    at = logged_in(app, "alice", "pages/admin/prompts.py")
    assert at.title[0].value == "Agents & prompts" and not at.error
    with app.connect() as con:
        uuid = con.execute("SELECT t.uuid::VARCHAR FROM templates t JOIN users u ON u.org_id = t.org_id"
                           " WHERE u.username = 'alice' AND t.name = 'answer-from-sources'").fetchone()[0]
    area = at.text_area(key=f"template.{uuid}.content")
    area.set_value(area.value + "\nBe brief.")
    at.button(key=f"FormSubmitter:template.{uuid}-Save").click().run()
    assert not at.exception and not at.error
    with app.connect() as con:
        saved = con.execute("SELECT content FROM templates WHERE uuid::VARCHAR = ?", [uuid]).fetchone()[0]
    assert saved.endswith("Be brief.")
    direct = AppTest.from_file(str(ROOT / "pages" / "admin" / "prompts.py"), default_timeout=30)
    direct.session_state["ctx"] = ctx_of(app, "anna")
    direct.run()
    assert direct.error and "prompts:manage" in direct.error[0].value


def test_calls_page_filters_charts_searches_and_opens_a_transcript(app):
    at = logged_in(app, "anna", "pages/calls/browse.py")
    assert at.title[0].value == "Calls" and not at.error
    table = calls_table(at)
    assert len(table) > 50 and {"external_id", "intent", "talk_ratio"} <= set(table.columns)
    assert len(at.get("plotly_chart")) == 4 and at.get("download_button")
    at.selectbox(key="calls.project").set_value("Customer care line").run()
    at.text_input(key="calls.text").input("refund").run()
    assert 0 < len(calls_table(at)) < len(table)
    at.switch_page("pages/calls/search.py").run()
    assert at.title[0].value == "Search calls"
    assert at.selectbox(key="calls.sp").value == "Customer care line"  # the project follows the user
    at.text_input(key="calls.query").input("refund").run()
    hits = [m.value for m in at.markdown if "<mark>" in m.value]
    assert hits and all("<mark>" in h.lower() for h in hits)
    at.button(key="calls.open.0").click().run()
    assert not at.exception and any(s.value.startswith("Call ") for s in at.subheader)
    at.radio(key="calls.mode").set_value("semantic").run()
    assert not at.exception and any("similarity" in m.value for m in at.markdown)


def calls_table(at: AppTest):
    return next(d.value for d in at.dataframe if "external_id" in d.value.columns)


def test_calls_page_says_what_each_intent_stands_for_and_renames_one(app):
    at = logged_in(app, "anna", "pages/calls/browse.py")
    described = next(d.value for d in at.dataframe if "Typical phrases" in d.value.columns)
    assert len(described) >= 2 and described["Typical phrases"].str.len().min() > 0
    assert described["A customer said"].str.len().min() > 0
    assert any("Choose a project" in c.value for c in at.caption)
    at.selectbox(key="calls.project").set_value("Customer care line").run()
    old = at.selectbox(key="intents.old").value
    at.text_input(key="intents.new").input("Line keeps dropping").run()
    at.button(key="intents.rename").click().run()
    assert not at.exception and not at.error
    described = next(d.value for d in at.dataframe if "Typical phrases" in d.value.columns)
    renamed = described[described["Intent"] == "Line keeps dropping"]
    assert old not in described["Intent"].to_list() and renamed["Named by"].to_list() == ["an analyst"]
    assert renamed["Typical phrases"].str.len().to_list()[0] > 0  # its description went with it
    # no language model is configured in the tests: the page says what one would do
    assert any("propose names" in c.value for c in at.caption)


def test_calls_page_links_to_the_import_when_no_call_matches(app):
    at = logged_in(app, "anna", "pages/calls/browse.py")
    at.text_input(key="calls.text").input("no-such-word-anywhere").run()
    assert not at.exception and any("No calls match" in i.value for i in at.info)
    assert [link.label for link in at.get("page_link")] == ["Import calls"]


def test_qa_pairs_page_exports_a_dataset_the_datasets_page_lists(app):
    at = logged_in(app, "anna", "pages/calls/qa.py")
    assert at.title[0].value == "QA pairs"
    editor = [d.value for d in at.dataframe if "occurrences" in d.value.columns]
    assert editor and len(editor[0]) > 20 and editor[0]["occurrences"].min() >= 1
    at.button(key="qa.export").click().run()
    assert not at.exception and any("Registered QA pairs" in s.value for s in at.success)
    at.switch_page("pages/calls/datasets.py").run()
    datasets_table = [d.value for d in at.dataframe if "source_type" in d.value.columns]
    assert datasets_table and datasets_table[0]["source_type"].to_list() == ["qa_export"]


def test_calls_page_for_a_viewer_reads_but_cannot_import_or_edit(app):
    at = logged_in(app, "vera", "pages/calls/browse.py")
    assert not at.error
    from workbench.ui import visible_pages

    assert [p.title for p in visible_pages(at.session_state["ctx"]) if p.section == "Calls"] == [
        "Calls", "Search calls", "QA pairs"]
    at.switch_page("pages/calls/qa.py").run()
    assert not at.exception and not at.error
    assert not [b for b in at.button if b.key == "qa.export"]
    direct = AppTest.from_file(str(ROOT / "pages" / "calls" / "imports.py"), default_timeout=30)
    direct.session_state["ctx"] = ctx_of(app, "vera")
    direct.run()
    assert direct.error and "calls:import" in direct.error[0].value


def test_usage_page_shows_kpis_charts_and_drills_into_calls(app):
    from workbench.usage import queries as usage

    at = logged_in(app, "mike", "pages/usage/overview.py")
    assert at.title[0].value == "Usage" and all(e.value.startswith("Budget ") for e in at.error)
    labels = [m.label for m in at.metric]
    assert labels == ["Tokens", "Cost", "Calls", "Mean latency", "p95 latency", "Cost per conversation",
                      "Active users"]
    assert all(m.value not in ("None", "", "$0.00") for m in at.metric if m.label != "Cost per conversation")
    assert any("have no price" in w.value for w in at.warning)  # unpriced, with a count, never $0
    assert len(at.get("plotly_chart")) == 5  # over time, by provider, model, operation; token types
    # what a click on a bar leaves: its drill-down, the filters it was made under, the page to open
    at.session_state["usage.drill"] = {"model": "gpt-4.1"}
    at.session_state["usage.drill.for"] = usage.Filters(*usage.period("Last 30 days"))
    at.session_state["usage.drill.open"] = True
    at.run()
    assert not at.exception and at.title[0].value == "LLM calls"
    drilled = at.dataframe[-1].value
    assert set(drilled["model"]) == {"gpt-4.1"} and any("Drill-down" in i.value for i in at.info)
    at.switch_page("pages/usage/calls.py")  # AppTest reruns the page it was sent to, not the one switched to
    at.button[[b.label for b in at.button].index("Clear drill-down")].click().run()
    calls_table = at.dataframe[-1].value
    assert len(calls_table) == 500 and {"model", "cost_usd", "latency_ms"} <= set(calls_table.columns)
    at.session_state["usage.drill"] = {"model": "gpt-4.1"}
    at.run()
    at.selectbox(key="usage.period").set_value("Last 7 days").run()  # new filters clear the drill-down
    assert not at.exception and "compared with the 7 days before" in at.caption[0].value
    assert not any("Drill-down" in i.value for i in at.info) and not at.dataframe[-1].value.empty
    for page, title in (("overview", "Usage"), ("latency", "Latency"), ("people", "Users and conversations"),
                        ("budgets", "Budgets and anomalies")):  # the period stays from page to page
        at.switch_page(f"pages/usage/{page}.py").run()
        assert not at.exception and at.title[0].value == title, page
        assert page == "budgets" or at.selectbox(key="usage.period").value == "Last 7 days"
    at.switch_page("pages/usage/calls.py").run()
    assert "compared with the 7 days before" in at.caption[0].value


def test_usage_pages_show_latency_people_and_budgets(app):
    at = logged_in(app, "mike", "pages/usage/latency.py")
    assert any("log histogram" in c.value for c in at.caption) and len(at.get("plotly_chart")) == 1
    at.switch_page("pages/usage/people.py").run()
    assert not at.exception and len(at.dataframe) == 3  # top users, top conversations, plan limits
    at.switch_page("pages/usage/budgets.py").run()
    assert not at.exception and len(at.dataframe) == 1  # this month's budgets
    assert len(at.get("plotly_chart")) == 1 and any("Unusual days" in m.value for m in at.markdown)


def test_usage_page_is_for_usage_readers_and_prices_for_admins(app):
    for username, page, allowed in (("anna", "usage/overview.py", False), ("mike", "admin/prices.py", False),
                                    ("alice", "admin/prices.py", True), ("mike", "admin/budgets.py", False)):
        direct = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=30)
        direct.session_state["ctx"] = ctx_of(app, username)
        direct.run()
        assert not direct.exception
        assert bool(direct.error) != allowed, (username, page)


def test_prices_page_adds_a_price_for_the_unpriced_model(app):
    at = logged_in(app, "alice", "pages/admin/prices.py")
    assert not at.error and any("have no price" in w.value for w in at.warning)
    at.selectbox(key="prices.suggest").set_value("openai ft:gpt-4o-mini:northwind:support-v2").run()
    at.number_input(key="prices.add.input_per_million").set_value(0.30)
    at.number_input(key="prices.add.output_per_million").set_value(1.20)
    at.button[[b.label for b in at.button].index("Save price")].click().run()
    assert not at.exception and not at.error
    assert any("calls repriced" in s.value for s in at.success)
    with app.connect() as con:
        left = dict(con.execute("SELECT o.name, count(*) FILTER (WHERE c.cost_usd IS NULL) FROM llm_calls c"
                                " JOIN organizations o ON o.id = c.org_id WHERE model LIKE 'ft:%' GROUP BY 1"
                                ).fetchall())
    assert left["Northwind Mobile"] == 0 and left["Helio Cloud"] > 0  # Helio keeps its own (missing) price


def test_budgets_page_sets_a_budget_and_shows_it(app):
    at = logged_in(app, "alice", "pages/admin/budgets.py")
    assert at.title[0].value == "Budgets" and not at.error
    before = len(at.dataframe[0].value) if at.dataframe else 0
    next(s for s in at.selectbox if s.label == "For").set_value("user")
    next(t for t in at.text_input if t.label == "Project or username").input("anna")
    next(n for n in at.number_input if n.label == "Monthly USD").set_value(25.0)
    at.button[[b.label for b in at.button].index("Set budget")].click().run()
    assert not at.exception and not at.error
    assert any("Budget set: $25 a month for the user anna." in s.value for s in at.success)
    frame = at.dataframe[0].value
    assert len(frame) == before + 1 and "anna" in set(frame["target"])
