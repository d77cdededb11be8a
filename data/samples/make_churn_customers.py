"""Write churn-customers.csv: 400 made-up subscription customers with a learnable churn signal.

Deterministic (fixed seed); run `python data/samples/make_churn_customers.py` to rebuild the file.
Churn is more likely with few sessions, many support tickets, low satisfaction, short tenure, month-to-
month contracts and the free plan; `satisfaction` is missing for a few customers on purpose.
"""

import csv
import math
import random
from pathlib import Path

ROWS = 400
PLANS = [("free", 0.40, 0.8), ("pro", 0.45, 0.0), ("enterprise", 0.15, -0.9)]  # (plan, share, churn pull)
CONTRACTS = [("monthly", 0.55, 0.7), ("annual", 0.45, -0.7)]
REGIONS = ["north", "south", "east", "west"]


def pick(rng: random.Random, options: list[tuple[str, float, float]]) -> tuple[str, float]:
    name, _share, pull = rng.choices(options, weights=[o[1] for o in options])[0]
    return name, pull


def customer(rng: random.Random, index: int) -> dict:
    plan, plan_pull = pick(rng, PLANS)
    contract, contract_pull = pick(rng, CONTRACTS)
    tenure = max(1, int(rng.expovariate(1 / 20)))
    sessions = max(0, int(rng.gauss(22, 9)))
    tickets = min(12, int(rng.expovariate(1 / 1.5)))
    satisfaction = min(5.0, max(1.0, rng.gauss(3.6, 0.8)))
    spend = {"free": 0.0, "pro": 29.0, "enterprise": 199.0}[plan] + max(0.0, rng.gauss(12, 6))
    score = (-0.6 + plan_pull + contract_pull - 0.09 * (sessions - 22) + 0.35 * (tickets - 1.5)
             - 0.9 * (satisfaction - 3.6) - 0.03 * (tenure - 20))
    churned = int(rng.random() < 1 / (1 + math.exp(-score)))
    return {
        "customer_id": f"C{index:04d}",
        "plan": plan,
        "contract": contract,
        "region": rng.choice(REGIONS),
        "tenure_months": tenure,
        "monthly_spend": round(spend, 2),
        "sessions_30d": sessions,
        "support_tickets_90d": tickets,
        "satisfaction": "" if rng.random() < 0.03 else round(satisfaction, 1),
        "churned": churned,
    }


def main() -> None:
    rng = random.Random(7)
    rows = [customer(rng, i + 1) for i in range(ROWS)]
    path = Path(__file__).with_name("churn-customers.csv")
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{path.name}: {len(rows)} rows, {sum(r['churned'] for r in rows)} churned")


if __name__ == "__main__":
    main()
