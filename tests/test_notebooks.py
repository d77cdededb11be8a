"""The notebooks run top to bottom as a reader runs them: a fresh data home made by `workbench init` and
`workbench demo`, each notebook executed by nbclient in a python3 kernel of this virtual environment
with WORKBENCH_HOME pointing at that home; no cell may fail, and each notebook's SUMMARY line holds
the figures it computed. The committed notebooks carry no outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from workbench.models.forecast import METHODS
from workbench.ops.demo import SPIKE_DAYS_AGO

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["01_calls_and_qa.ipynb", "02_churn.ipynb", "03_usage_and_forecast.ipynb", "04_rag_evaluation.ipynb"]
CELL_TIMEOUT_S = 240  # the slowest cell (churn: cross-validation and two MLflow runs) takes 8-25 s here
IOPUB_TIMEOUT_S = 120
BIN = Path(sys.executable).parent  # the virtual environment's bin, not resolved (that would leave it)


def kernel_env(home: Path) -> dict[str, str]:
    """What the CLI and the kernel see: this environment's bin first on PATH, the data home and the
    hashed test embedder; the caller's own workbench and MLflow settings left out. One OpenMP thread:
    on two busy cores the churn notebook's gradient boosting spin-waits (13 s alone, 40-60 s beside
    another run; 19 s with one thread)."""
    # MPLBACKEND: a library imported by earlier tests sets Agg, which would keep the plots from showing
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WORKBENCH_") and k not in ("MLFLOW_TRACKING_URI", "MPLBACKEND")}
    return env | {"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "WORKBENCH_HOME": str(home),
                  "WORKBENCH_EMBEDDING_BACKEND": "hash", "WORKBENCH_LOCK_WAIT_S": "5", "OMP_NUM_THREADS": "1"}


def execute(nb: nbformat.NotebookNode, home: Path) -> nbformat.NotebookNode:
    """Run every cell in a new python3 kernel (started with this interpreter, from notebooks/);
    raises CellExecutionError, with the cell's traceback, at the first failing cell."""
    # nbclient waits 4 s by default for a cell's printed output after its reply, then drops it with
    # a log line: on a busy CI machine the last cell's SUMMARY line was lost that way
    client = NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT_S, startup_timeout=120,
                            iopub_timeout=IOPUB_TIMEOUT_S, raise_on_iopub_timeout=True,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute(env=kernel_env(home))
    return nb


def outputs(nb: nbformat.NotebookNode) -> list:
    return [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs]


def summary(nb: nbformat.NotebookNode) -> dict:
    """The JSON of the notebook's `SUMMARY {...}` line."""
    for out in reversed(outputs(nb)):
        for line in out.get("text", "").splitlines() if out.output_type == "stream" else []:
            if line.startswith("SUMMARY "):
                return json.loads(line.removeprefix("SUMMARY "))
    raise AssertionError("The notebook printed no SUMMARY line.")


@pytest.fixture(scope="module")
def fresh_home(tmp_path_factory) -> Path:
    """A data home made as the notebooks' first cell tells a reader to: `workbench init`, then
    `workbench demo` (today's date, the hashed embedder)."""
    home = tmp_path_factory.mktemp("notebooks") / "home"
    for command in (["init"], ["demo", "--json"]):
        subprocess.run([sys.executable, "-m", "workbench", *command], env=kernel_env(home), check=True,
                       capture_output=True, timeout=600)
    return home


def test_every_notebook_is_executed_here_and_committed_without_outputs():
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == NAMES  # a new notebook joins NAMES
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code, name
        assert all(c.outputs == [] and c.execution_count is None for c in code), f"{name} has outputs"
        assert all("execution" not in c.metadata for c in code), f"{name} keeps execution timings"
        first = nb.cells[0]
        assert first.cell_type == "markdown"
        assert "WORKBENCH_HOME" in first.source and "workbench demo" in first.source, name
        assert any("settings.from_env()" in c.source for c in code), f"{name} must read the environment"


def test_the_kernel_is_this_virtual_environments_python(tmp_path):
    probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, sys\nprint(sys.prefix)\nprint(os.environ['WORKBENCH_HOME'])")])
    text = outputs(execute(probe, tmp_path / "home"))[0]["text"].splitlines()
    assert text == [sys.prefix, str(tmp_path / "home")]


def check_calls_and_qa(found: dict) -> None:
    assert found["calls"] == 180 and found["projects"] == 2  # Northwind's two projects: 100 + 80 calls
    assert found["agents"] >= 5 and found["intents"] >= 2 and found["keyword_hits"] > 0
    assert found["exported_rows"] == found["qa_pairs"] > 0


def check_churn(found: dict) -> None:
    assert found["users"] >= 250 and 0.05 < found["churn_rate"] < 0.5
    assert found["roc_auc"] >= 0.85, found
    assert found["version"] == found["production_version"] == 1  # the first version passes the gate
    assert found["scored"] >= 200 and found["risk_quiet"] > found["risk_recent"] + 0.3


def check_usage_and_forecast(found: dict) -> None:
    spike = date.fromisoformat(found["today"]) - timedelta(days=SPIKE_DAYS_AGO)
    assert str(spike) in found["unusual_days"]  # the demo's evaluation batch
    assert found["budgets"] == 3 and found["cost_30d"] > 0  # Northwind: organisation, project, user
    assert found["forecast_days"] == 30 and found["month_end_model"] > 0
    assert found["method"] in METHODS and found["method"] != "arima"  # `auto` compares all but AutoARIMA
    assert found["mase"] > 0 and found["baseline_mase"] > 0


def check_rag_evaluation(found: dict) -> None:
    assert found["embedder"] == "hash-words" and found["questions"] == 44
    hybrid = found["retrieval"]["hybrid"]
    assert hybrid["hit@5"] >= 0.85 and hybrid["MRR@10"] >= 0.65, found["retrieval"]
    assert found["answers"] == 11 and found["fully_grounded"] >= 9 and found["cites_expected"] >= 0.8, found


CHECKS = {"01_calls_and_qa.ipynb": (check_calls_and_qa, 1), "02_churn.ipynb": (check_churn, 4),
          "03_usage_and_forecast.ipynb": (check_usage_and_forecast, 3),
          "04_rag_evaluation.ipynb": (check_rag_evaluation, 1)}


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom_on_a_fresh_demo(name, fresh_home):
    nb = execute(nbformat.read(NOTEBOOKS / name, as_version=4), fresh_home)
    check, images = CHECKS[name]
    produced = outputs(nb)
    assert not [o for o in produced if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in produced) >= images  # the plots rendered
    check(summary(nb))
