"""LLM usage: metering each call, rollups, reports, prices and their catalogue, budgets, log imports
and the overview."""
