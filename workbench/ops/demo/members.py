"""Demo members: the people who use Northwind's customer assistant (viewers in the workbench), with
180 days of LLM calls. Members join over time; some leave, and their use fades over the weeks
before they go, faster on the free plan and after poor answers. This is the population the churn
model learns from."""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

# A thousand members, about one call a weekday each: the churn holdout (a fifth of those active at
# the cutoff, about 200) then holds 20-30 who leave, and its ROC AUC stayed 0.92-0.99 over eight
# seeds. With 360 members at half the activity it held about 10 and swung 0.51-0.95.
MEMBERS = {"northwind": 1000}
DAYS = 180
FADE_DAYS = 28


def add(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, *, org_id: int, slug: str, n: int,
        password_hash: str, end: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Insert `n` members (viewer role) who joined over the window; returns their ids, plans and
    join day offsets."""
    joined = np.sort(rng.integers(-60, DAYS - 30, size=n))
    plans = rng.choice(["free", "pro"], size=n, p=[0.6, 0.4])
    start = np.datetime64(end.date()) - np.timedelta64(DAYS - 1, "D")
    created = (start + joined.astype("timedelta64[D]")).astype("datetime64[s]") + np.timedelta64(9, "h")
    names = [f"{slug}-member-{i + 1:03d}" for i in range(n)]
    table = pa.table({
        "org_id": np.full(n, org_id, dtype=np.int32), "username": names,
        "email": [f"{name}@members.{slug}.example" for name in names],
        "full_name": [f"Member {i + 1:03d}" for i in range(n)], "plan": plans,
        "created_at": created,
    })
    con.register("members_batch", table)
    try:
        ids = con.execute(
            "INSERT INTO users (org_id, username, email, full_name, plan, password_hash, created_at,"
            " updated_at)"
            " SELECT org_id, username, email, full_name, plan, ?, created_at, created_at FROM members_batch"
            " RETURNING id", [password_hash]).fetchall()
    finally:
        con.unregister("members_batch")
    user_ids = np.array(sorted(i for (i,) in ids))
    con.execute(
        "INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, roles r"
        " WHERE u.org_id = ? AND u.username LIKE ? AND r.name = 'viewer'", [org_id, f"{slug}-member-%"])
    return user_ids, plans, joined


def activity(rng: np.random.Generator, user_ids: np.ndarray, plans: np.ndarray, joined: np.ndarray, *,
             org_id: int, end: datetime) -> pa.Table:
    """The members' LLM calls: a personal daily rate, weekday rhythm, and for those who leave a
    fade over the last four weeks before their leaving day (which may lie after `end`)."""
    n = len(user_ids)
    rate = rng.lognormal(-0.2, 0.6, n)  # calls per active weekday, about 1 on average
    quality = rng.beta(5, 2, n)  # how well the assistant answers this member's questions
    leave_p = np.where(plans == "free", 0.5, 0.25) + 0.3 * (quality < 0.55)
    leaves = rng.random(n) < leave_p
    leave_day = np.where(leaves, rng.integers(np.maximum(joined + 21, 0), DAYS + 45), DAYS + 10_000)
    days = np.arange(DAYS)
    weekday = (np.datetime64(end.date()) - (DAYS - 1 - days)).astype("datetime64[D]").astype(int)
    rhythm = np.where((weekday + 3) % 7 >= 5, 0.4, 1.0)
    to_leave = leave_day[:, None] - days[None, :]
    fade = np.clip(to_leave / FADE_DAYS, 0, 1) ** 1.5
    active = (days[None, :] >= joined[:, None]) & (to_leave > 0)
    expected = rate[:, None] * rhythm[None, :] * fade * active
    counts = rng.poisson(expected)
    member, day = np.nonzero(counts)
    repeat = counts[member, day]
    member, day = np.repeat(member, repeat), np.repeat(day, repeat)
    m = len(member)
    prompt = rng.lognormal(6.6, 0.5, m).astype(np.int64) + 40
    completion = rng.lognormal(5.2, 0.5, m).astype(np.int64) + 10
    cached = (prompt * rng.uniform(0, 0.3, m)).astype(np.int64)
    seconds = rng.integers(8 * 3600, 22 * 3600, size=m)
    start = np.datetime64(end.date()) - np.timedelta64(DAYS - 1, "D")
    created = (start + day.astype("timedelta64[D]")).astype("datetime64[s]") + seconds
    keep = created < np.datetime64(end)
    order = np.argsort(created[keep], kind="stable")
    take = lambda a: a[keep][order]  # noqa: E731
    slow = 1 + 0.6 * (1 - quality[member])  # poorly served members also wait longer
    return pa.table({
        "org_id": np.full(int(keep.sum()), org_id, dtype=np.int32),
        "user_id": take(user_ids[member]).astype(np.int32),
        "project_id": pa.nulls(int(keep.sum()), pa.int32()),
        "provider": ["openai"] * int(keep.sum()),
        "model": ["gpt-4o-mini"] * int(keep.sum()),
        "operation_type": ["chat"] * int(keep.sum()),
        "prompt_tokens": take(prompt).astype(np.int32),
        "completion_tokens": take(completion).astype(np.int32),
        "cached_tokens": take(cached).astype(np.int32),
        "embedding_tokens": np.zeros(int(keep.sum()), dtype=np.int32),
        "total_tokens": take(prompt + completion).astype(np.int32),
        "latency_ms": take(900 * slow * rng.lognormal(0, 0.3, m)).astype(np.int32),
        "status": ["ok"] * int(keep.sum()),
        "created_at": take(created),
    })
