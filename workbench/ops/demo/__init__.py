"""Deterministic demo data: two organisations whose every page tells a story.

`load` fills an empty database in one transaction: tenants, a dozen users across all roles,
projects, 360 calls with utterances, QA pairs, 24 documents from data/samples, conversations with
messages, and 180 days of LLM calls. Sample files are copied into the data home first and removed
again if the transaction fails.
"""

from __future__ import annotations

import json
import random
import shutil
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from workbench.accounts import auth, organisations, users
from workbench.chat.steps import LOW_CONFIDENCE
from workbench.db import Store
from workbench.documents.records import stored_path
from workbench.errors import InvalidInput
from workbench.ops.demo import calls as demo_calls
from workbench.ops.demo import members as demo_members
from workbench.ops.demo import usage as demo_usage
from workbench.ops.demo.people import (
    DEMO_PASSWORD,
    FADING,
    LEGACY_USERS,
    ORGS,
    USERS,
    legacy_pbkdf2_hash,
)
from workbench.settings import Settings
from workbench.usage import prices, rollup

CALLS_PER_PROJECT = (100, 80)
LLM_CALLS_PER_DAY = 320
# Nine days ago a data scientist ran an evaluation batch on Claude: the day the anomaly detector
# should flag, with that model and that user as its drivers.
SPIKE_USER, SPIKE_CALLS, SPIKE_DAYS_AGO = "dan", 900, 9


def load(settings: Settings, store: Store, *, today: datetime | None = None) -> dict[str, int]:
    """Load the demo into an empty database. Returns row counts per table."""
    end = (today or datetime.now()).replace(microsecond=0)
    rnd = random.Random(settings.demo_seed)
    rng = np.random.default_rng(settings.demo_seed)
    script = demo_calls.load_dialogues(settings.samples_dir)
    copied: list[Path] = []
    try:
        with store.transaction() as con:
            if con.execute("SELECT count(*) FROM organizations").fetchone()[0]:
                raise InvalidInput("The database already holds data; the demo loads only into an "
                                   "empty one. Use a fresh WORKBENCH_HOME.")
            ids = _tenants(con, rnd)
            for slug, org in ORGS.items():
                owner = ids["users"][next(u[1] for u in USERS if u[0] == slug and u[3] == "admin")]
                for k, project_id in enumerate(ids["projects"][slug]):
                    demo_calls.write_calls(con, rnd, script, project_id=project_id,
                                           company=org["name"], prefix=f"{slug[:2].upper()}{k + 1}",
                                           n=CALLS_PER_PROJECT[k], end=end)
                    demo_calls.write_qa_pairs(con, script, project_id=project_id,
                                              company=org["name"], created_by=owner,
                                              include_faq=k == 0)
            copied = _documents(con, settings, ids)
            _conversations(con, rnd, script, ids, end)
            people = demo_usage.population(con, FADING)
            demo_usage.insert(con, demo_usage.generate(
                rng, LLM_CALLS_PER_DAY * demo_usage.DAYS, end=end, people=people))
            org_id, user_id = con.execute("SELECT org_id, id FROM users WHERE username = ?",
                                          [SPIKE_USER]).fetchone()
            demo_usage.insert(con, demo_usage.spike(rng, SPIKE_CALLS, at=end - timedelta(days=SPIKE_DAYS_AGO),
                                                    user_id=user_id, org_id=org_id))
            _members(con, rng, ids, end)
            prices.reprice(con)  # the conversations' calls too: every demo cost from the catalogue
            rollup.rebuild(con)
            _budgets(con, ids)
            return counts(con)
    except BaseException:
        for path in copied:
            path.unlink(missing_ok=True)
        raise


# Monthly budgets (USD): Northwind's whole organisation, one project and its data scientist (whose
# evaluation batch overran his), and Helio's organisation.
BUDGETS = [("northwind", "organization", None, 40.0), ("northwind", "project", "Customer care line", 10.0),
           ("northwind", "user", "dan", 12.0), ("helio", "organization", None, 25.0)]


def _budgets(con, ids: dict) -> None:
    for slug, scope, target, amount in BUDGETS:
        org_id = ids["orgs"][slug]
        admin = next(u[1] for u in USERS if u[0] == slug and u[3] == "admin")
        project_id = (con.execute("SELECT id FROM projects WHERE org_id = ? AND name = ?", [org_id, target])
                      .fetchall()[0][0] if scope == "project" else None)
        con.execute("INSERT INTO budgets (org_id, scope, project_id, user_id, monthly_usd, created_by)"
                    " VALUES (?, ?, ?, ?, ?, ?)", [org_id, scope, project_id,
                                                   ids["users"][target] if scope == "user" else None, amount,
                                                   ids["users"][admin]])


def _members(con, rng, ids: dict, end: datetime) -> None:
    """The people using Northwind's assistant, and their calls (the churn model's population)."""
    for slug, n in demo_members.MEMBERS.items():
        org_id = ids["orgs"][slug]
        member_ids, plans, joined = demo_members.add(con, rng, org_id=org_id, slug=slug, n=n,
                                                     password_hash=ids["password_hash"], end=end)
        demo_usage.insert(con, demo_members.activity(rng, member_ids, plans, joined, org_id=org_id, end=end))


def counts(con) -> dict[str, int]:
    tables = ["organizations", "users", "projects", "calls", "utterances", "qa_pairs",
              "documents", "conversations", "messages", "llm_calls"]
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def _tenants(con, rnd: random.Random) -> dict:
    ids: dict = {"orgs": {}, "users": {}, "projects": {}}
    argon = auth.hash_password(DEMO_PASSWORD)  # one hash for all demo users keeps the load fast
    ids["password_hash"] = argon
    for slug, org in ORGS.items():
        profile = {k: v for k, v in org.items() if k not in ("name", "projects")}
        ids["orgs"][slug] = organisations.create_organization(con, org["name"], **profile)
    for slug, username, full_name, role, plan, _fading in USERS:
        password_hash = (legacy_pbkdf2_hash(DEMO_PASSWORD, rnd.randbytes(16))
                         if username in LEGACY_USERS else argon)
        domain = ORGS[slug]["website"].split("//")[1]
        ids["users"][username] = users.insert_user(
            con, ids["orgs"][slug], username, f"{username}@{domain}", password_hash, role,
            full_name, plan)
    for slug, org in ORGS.items():
        admin = next(u[1] for u in USERS if u[0] == slug and u[3] == "admin")
        con.execute("UPDATE organizations SET owner_user_id = ? WHERE id = ?",
                    [ids["users"][admin], ids["orgs"][slug]])
        analyst = next(u[1] for u in USERS if u[0] == slug and u[3] == "analyst")
        ids["projects"][slug] = [
            con.execute("INSERT INTO projects (org_id, owner_id, name, description)"
                        " VALUES (?, ?, ?, ?) RETURNING id",
                        [ids["orgs"][slug], ids["users"][analyst], name, desc]).fetchone()[0]
            for name, desc in org["projects"]]
    return ids


def _documents(con, settings: Settings, ids: dict) -> list[Path]:
    """Register the sample documents; files are copied under safe generated names. They wait
    in 'pending' until the documents pipeline embeds them."""
    manifest = json.loads((settings.samples_dir / "documents" / "manifest.json").read_text())
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for entry in manifest:
        source = settings.samples_dir / "documents" / entry["file"]
        doc_uuid = str(uuid.uuid4())
        target = stored_path(settings, ids["orgs"][entry["org"]], doc_uuid, "markdown")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        copied.append(target)
        # global documents come from the organisation's admin, private ones from its analyst
        role = "admin" if entry["scope"] == "global" else "analyst"
        uploader = next(u[1] for u in USERS if u[0] == entry["org"] and u[3] == role)
        text = source.read_text()
        con.execute(
            "INSERT INTO documents (uuid, org_id, project_id, uploaded_by_id, filename, file_path,"
            " file_type, file_size, sha256, title, scope, doc_type, version, content)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, sha256(?), ?, ?, ?, 1, ?)",
            [doc_uuid, ids["orgs"][entry["org"]], ids["projects"][entry["org"]][0],
             ids["users"][uploader], source.name, str(target.relative_to(settings.home)), "markdown",
             target.stat().st_size, text, entry["title"], entry["scope"], entry["doc_type"],
             text])
    return copied


def _conversations(con, rnd: random.Random, script: dict, ids: dict, end: datetime) -> None:
    """Chats made of FAQ questions, each answer metered as an llm_calls row."""
    faqs = [qa for spec in script["intents"].values() for qa in spec["qa"]]
    for slug, username, _name, _role, _plan, fading in USERS:
        org_id, user_id = ids["orgs"][slug], ids["users"][username]
        for _ in range(rnd.randint(2, 5)):
            days_ago = rnd.uniform(30, 170) if fading else rnd.uniform(0, 170)
            started = end - timedelta(days=days_ago)
            turns = rnd.sample(faqs, rnd.randint(1, 3))
            conv = con.execute(
                "INSERT INTO conversations (org_id, user_id, title, agent_type, llm_provider,"
                " llm_model, created_at, updated_at, status) VALUES (?, ?, ?, 'rag', 'openai',"
                " 'gpt-4o-mini', ?, ?, 'completed') RETURNING id",
                [org_id, user_id, turns[0]["question"][:60], started, started]).fetchone()[0]
            for i, qa in enumerate(turns):
                asked = started + timedelta(minutes=3 * i)
                company = ORGS[slug]["name"]
                question = qa["question"].replace("{company}", company)
                answer = qa["answer"].replace("{company}", company)
                confidence = round(rnd.uniform(0.15, 0.95), 2)
                con.execute("INSERT INTO messages (conversation_id, user_id, role, content,"
                            " token_count, created_at) VALUES (?, ?, 'user', ?, ?, ?)",
                            [conv, user_id, question, len(question.split()), asked])
                msg = con.execute(
                    "INSERT INTO messages (conversation_id, role, content, token_count,"
                    " confidence_score, low_confidence_warning, created_at)"
                    " VALUES (?, 'assistant', ?, ?, ?, ?, ?) RETURNING id",
                    [conv, answer, len(answer.split()), confidence, confidence < LOW_CONFIDENCE,
                     asked + timedelta(seconds=2)]).fetchone()[0]
                prompt, completion = rnd.randint(600, 2400), len(answer.split()) * 4 // 3
                con.execute(
                    "INSERT INTO llm_calls (org_id, user_id, conversation_id, message_id,"
                    " provider, model, operation_type, prompt_tokens, completion_tokens,"
                    " total_tokens, latency_ms, created_at)"
                    " VALUES (?, ?, ?, ?, 'openai', 'gpt-4o-mini', 'chat', ?, ?, ?, ?, ?)",
                    [org_id, user_id, conv, msg, prompt, completion, prompt + completion,
                     rnd.randint(600, 2500), asked + timedelta(seconds=2)])
