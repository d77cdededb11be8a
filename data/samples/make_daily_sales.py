"""Write daily-sales.csv: 400 days of sales for stores A, B and C with a trend and weekly seasonality.

Deterministic (fixed seed); run `python data/samples/make_daily_sales.py` to rebuild the file.
"""

import csv
import math
import random
from datetime import date, timedelta
from pathlib import Path

START, DAYS = date(2024, 10, 1), 400
# store: (level, daily trend, weekly amplitude as a share of the level, noise sd)
STORES = {"A": (200.0, 0.25, 0.30, 8.0), "B": (120.0, 0.10, 0.45, 6.0), "C": (340.0, -0.05, 0.20, 12.0)}
WEEKDAY = [-0.35, -0.25, -0.10, 0.0, 0.25, 0.55, -0.10]  # Monday .. Sunday


def main() -> None:
    rng = random.Random(11)
    rows = []
    for store, (level, trend, amplitude, noise) in STORES.items():
        for t in range(DAYS):
            day = START + timedelta(days=t)
            yearly = 0.05 * math.sin(2 * math.pi * t / 365.25)
            shape = 1 + amplitude * WEEKDAY[day.weekday()] + yearly
            sales = (level + trend * t) * shape + rng.gauss(0, noise)
            rows.append({"store": store, "date": day.isoformat(), "sales": round(max(sales, 0.0), 2)})
    path = Path(__file__).with_name("daily-sales.csv")
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=["store", "date", "sales"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"{path.name}: {len(rows)} rows, {len(STORES)} stores")


if __name__ == "__main__":
    main()
