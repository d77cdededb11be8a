"""Demo calls: customer/agent dialogues over ten intents, with utterance timings, written in bulk.
The dialogue lines live in data/samples/dialogues.json."""

from __future__ import annotations

import json
import random
import re
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from workbench.calls import metrics as call_metrics

WORDS_PER_SECOND = 2.6
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load_dialogues(samples: Path) -> dict:
    return json.loads((samples / "dialogues.json").read_text())


def _fill(text: str, values: dict[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def make_call(rnd: random.Random, script: dict, intent: str, company: str) -> dict:
    """One call: its turns (role, text, start, end), intent, resolution and transcript."""
    spec = script["intents"][intent]
    values = {
        "company": company,
        "agent_name": rnd.choice(script["agent_names"]),
        "customer_name": rnd.choice(script["customer_names"]),
        "amount": f"${rnd.randint(18, 240)}.{rnd.randint(0, 99):02d}",
        "order_id": f"NW{rnd.randint(100000, 999999)}",
        "date": (datetime(2026, 1, 1) + timedelta(days=rnd.randint(0, 300))).strftime("%d %B"),
        "plan": rnd.choice(["Plus", "Unlimited", "Team", "Starter"]),
        "days": str(rnd.choice([3, 5, 7, 14])),
    }
    resolved = rnd.random() < 0.72
    turns = [("agent", rnd.choice(script["greetings"])),
             ("customer", rnd.choice(spec["openings"]))]
    turns += [tuple(t) for t in rnd.choice(spec["exchanges"])]
    turns += [tuple(t) for t in rnd.choice(spec["resolutions"]["resolved" if resolved
                                                               else "unresolved"])]
    if resolved:
        turns += [tuple(t) for t in rnd.choice(script["closings"])]
    clock = 0.0
    timed = []
    for role, text in turns:
        text = _fill(text, values)
        length = max(1.5, len(text.split()) / WORDS_PER_SECOND)
        timed.append((role, text, round(clock, 1), round(clock + length, 1)))
        clock += length + rnd.uniform(0.3, 2.0)
    transcript = "\n".join(f"{role.capitalize()}: {text}" for role, text, _, _ in timed)
    return {"intent": intent, "resolved": resolved, "turns": timed, "transcript": transcript,
            "agent_name": values["agent_name"]}


def write_calls(con: duckdb.DuckDBPyConnection, rnd: random.Random, script: dict, *,
                project_id: int, company: str, prefix: str, n: int, end: datetime,
                days: int = 180) -> int:
    """Generate `n` calls for a project over `days` days before `end` and insert them in bulk."""
    intents = sorted(script["intents"])
    weights = [3 if i in ("billing", "technical_issue") else 2 if i in ("refund", "delivery_delay")
               else 1 for i in intents]
    calls, utterances = [], []
    for k in range(n):
        intent = rnd.choices(intents, weights)[0]
        call = make_call(rnd, script, intent, company)
        when = end - timedelta(days=rnd.triangular(0, days, 0), hours=rnd.uniform(0, 9))
        external_id = f"{prefix}-{k + 1:05d}"
        calls.append({"external_id": external_id, "transcript": call["transcript"],
                      "started_at": when.replace(microsecond=0),
                      "metadata": json.dumps({"intent": intent, "resolved": call["resolved"],
                                              "channel": "phone",
                                              "agent_name": call["agent_name"]})})
        for index, (role, text, start, stop) in enumerate(call["turns"]):
            utterances.append({"external_id": external_id, "role": role, "content": text,
                               "utterance_index": index, "start_seconds": start,
                               "end_seconds": stop})
    con.register("demo_calls", pa.Table.from_pylist(calls))
    con.register("demo_utterances", pa.Table.from_pylist(utterances))
    try:
        con.execute("INSERT INTO calls (project_id, external_id, transcript, started_at, metadata)"
                    " SELECT ?, external_id, transcript, started_at, metadata::JSON"
                    " FROM demo_calls", [project_id])
        con.execute("INSERT INTO utterances (call_id, project_id, role, content, utterance_index,"
                    " start_seconds, end_seconds)"
                    " SELECT c.id, c.project_id, u.role, u.content, u.utterance_index,"
                    " u.start_seconds, u.end_seconds FROM demo_utterances u"
                    " JOIN calls c ON c.project_id = ? AND c.external_id = u.external_id",
                    [project_id])
    finally:
        con.unregister("demo_calls")
        con.unregister("demo_utterances")
    ids = [r[0] for r in con.execute("SELECT id FROM calls WHERE project_id = ?", [project_id]).fetchall()]
    call_metrics.refresh(con, ids)
    return n


def write_qa_pairs(con: duckdb.DuckDBPyConnection, script: dict, *, project_id: int,
                   company: str, created_by: int, include_faq: bool,
                   per_intent_calls: int = 3) -> int:
    """FAQ pairs per intent, plus pairs mined from calls: a customer question and the agent's
    next turn, linked to the call."""
    rows = [(None, _fill(qa["question"], {"company": company}),
             _fill(qa["answer"], {"company": company}), "manual")
            for spec in script["intents"].values() for qa in spec["qa"]] if include_faq else []
    mined = con.execute(
        "WITH q AS (SELECT u.call_id, u.content AS question,"
        "  lead(u.content) OVER (PARTITION BY u.call_id ORDER BY u.utterance_index) AS answer,"
        "  lead(u.role) OVER (PARTITION BY u.call_id ORDER BY u.utterance_index) AS next_role,"
        "  u.role, c.metadata->>'intent' AS intent FROM utterances u"
        "  JOIN calls c ON c.id = u.call_id WHERE u.project_id = ?)"
        " SELECT call_id, question, answer, 'extracted' FROM q"
        " WHERE role = 'customer' AND next_role = 'agent' AND question LIKE '%?'"
        " QUALIFY row_number() OVER (PARTITION BY intent ORDER BY call_id) <= ?",
        [project_id, per_intent_calls]).fetchall()
    rows += mined
    con.executemany("INSERT INTO qa_pairs (project_id, call_id, question, answer, created_by, source)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(project_id, call_id, q, a, created_by, source) for call_id, q, a, source in rows])
    return len(rows)
