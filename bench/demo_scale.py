"""How fast `workbench demo --scale N` writes llm_calls, against a baseline in the same run.

    .venv/bin/python bench/demo_scale.py [N]      # default 10,000,000

Prints: the demo load time; N rows through the bulk path (numpy -> Arrow -> INSERT ... SELECT
priced from the catalogue, then added to the daily rollups,
into llm_calls with its primary key and seed 004's six indexes); and the baseline, the same
Arrow batches inserted into a copy of the table without indexes.
"""

import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from workbench import home
from workbench.ops import demo
from workbench.ops.demo import people, usage
from workbench.settings import Settings


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Settings(home=Path(tmp) / "home")
        home.init(cfg)
        store = home.open_store(cfg)
        started = time.perf_counter()
        demo.load(cfg, store)
        print(f"demo load: {time.perf_counter() - started:.1f} s")
        with store.transaction() as con:
            started = time.perf_counter()
            usage.write_scale(con, n, seed=7, fading_usernames=people.FADING)
            bulk = time.perf_counter() - started
        print(f"bulk path: {n:,} llm_calls in {bulk:.1f} s ({n / bulk:,.0f} rows/s)")
        with store.transaction() as con:
            con.execute("CREATE TABLE llm_calls_bare AS SELECT * FROM llm_calls LIMIT 0")
            population = usage.population(con, people.FADING)
            rng = np.random.default_rng(7)
            started = time.perf_counter()
            done = 0
            while done < n:
                size = min(1_000_000, n - done)
                batch = usage.generate(rng, size, end=datetime.now(), people=population)
                con.register("b", batch)
                con.execute("INSERT INTO llm_calls_bare BY NAME SELECT * FROM b")
                con.unregister("b")
                done += size
            bare = time.perf_counter() - started
        print(f"baseline, no indexes: {n:,} rows in {bare:.1f} s ({n / bare:,.0f} rows/s)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)
