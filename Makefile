# Two commands: `make run` (install, demo data, start the app) and `make test` (install, all tests).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export WORKBENCH_HOME ?= $(CURDIR)/data
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test install chromium team team-deps team-down lint bench clean-data mlflow

run: install
	@$(BIN)/workbench demo --if-empty --background  # creates the data home and applies migrations too
	@$(BIN)/workbench serve

# The suite on the embedded profile, then the service-level suite on the team profile (each worker
# starts its own PostgreSQL). Run once only: what does not depend on the profile (the browser,
# notebooks, the real model, parsers, the extension wheels, the layout), the pages rendered by
# AppTest (their queries are the services'), MLflow's own registry and forecasts (their SQL is
# covered by the churn and weekly-forecast tests), and test_team (it starts its own deployment).
PYTEST := $(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile --durations=25
ONCE := notebooks real_model team layout parsing providers chunking answers extensions pages inert_html \
	page_models page_forecast usage_pages csv_exports registry forecast
test: install chromium team-deps
	$(PYTEST)
	WORKBENCH_TEST_PROFILE=team $(PYTEST) -m "not browser" $(foreach f,$(ONCE),--ignore=tests/test_$(f).py)

install: $(STAMP)

# torch first, pinned, from the CPU wheel on local disk; then the project with its dev extras.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

# Browser tests drive Debian's Chromium; Playwright's own browser download cannot work offline.
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) apt-get install -y -qq chromium >/dev/null; }

# The team deployment on this machine (README, Deploying for a team): PostgreSQL and HAProxy from
# Debian, the S3-compatible s3rver from npm (into the venv), all on loopback; data under the data home.
team: install team-deps
	@$(BIN)/workbench team up --demo

team-down:
	@$(BIN)/workbench team down

S3RVER := $(VENV)/s3rver/node_modules/.bin/s3rver
team-deps: install
	@command -v haproxy >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql haproxy >/dev/null; }
	@test -x $(S3RVER) || npm install -s --no-audit --no-fund --prefix $(VENV)/s3rver s3rver@3.7.1 >/dev/null

# MLflow's own UI on the workbench's store (runs, artifacts, registered models).
mlflow: install
	@$(BIN)/workbench mlflow-ui

lint: install
	$(BIN)/ruff check .

clean-data:
	rm -rf $(WORKBENCH_HOME)/workbench.duckdb* $(WORKBENCH_HOME)/uploads $(WORKBENCH_HOME)/lancedb
