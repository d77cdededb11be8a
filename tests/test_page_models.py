"""The Churn, Users at risk and Models pages headless (AppTest): a data scientist trains on the demo's
users, sees the metrics and plots, promotes through the gate, scores users; roles see what they may."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, ctx_of
from tests.test_pages import app, logged_in  # noqa: F401  (the fixture)
from tests.test_registry import customers, register, train_on
from workbench import home
from workbench.models import promotion, registry
from workbench.models.churn import service as churn_service


def test_a_data_scientist_trains_churn_on_the_workbench_users(app):  # noqa: F811
    at = logged_in(app, "dan", "pages/models/churn.py")
    at.multiselect(key="churn.algorithms").set_value(["logistic_regression"]).run()
    at.button(key="churn.train").click().run(timeout=120)
    assert not at.exception, at.exception
    assert at.session_state["churn.result"]["version"] == 1
    assert [m.label for m in at.metric] == ["ROC AUC", "PR AUC", "Brier score", "CV ROC AUC"]
    assert float(at.metric[0].value) >= 0.8
    assert any("staging" in s.value for s in at.success)
    # the run's plots as interactive charts (the PNGs stay in MLflow)
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert len(titles) == 5 and any("ROC curve (holdout)" in t for t in titles)


def test_the_models_page_compares_promotes_and_refuses_a_worse_challenger(app):  # noqa: F811
    dan = ctx_of(app, "dan")
    from workbench.settings import from_env

    wb = home.Workbench(from_env())
    register(wb, dan, customers())
    train_on(dan, wb, algorithms=("logistic_regression",))
    train_on(dan, wb, features=["noise"], algorithms=("logistic_regression",))
    at = logged_in(app, "dan", "pages/models/registry.py")
    assert "v2 :blue-badge[staging]" in at.markdown[0].value
    assert at.selectbox[1].value == 1  # the picker starts on the best staged candidate, not the newest
    at.selectbox[1].set_value(2).run()
    assert any(w.value.startswith("v1 (staging) records a better ROC AUC than v2") for w in at.warning)
    at.selectbox[1].set_value(1).run()
    assert not any("records a better" in w.value for w in at.warning)
    at.button(key="models.promote").click().run()
    assert not at.exception and "v1 is in production" in at.success[0].value
    at.selectbox[1].set_value(2).run()
    at.button(key="models.promote").click().run()
    assert "did not pass the gate" in at.error[0].value
    with app.connect() as con:
        assert [(v["version"], v["stage"]) for v in registry.versions(dan, con, "churn")] == [
            (2, "staging"),
            (1, "production"),
        ]
    assert not at.get("link_button")  # the MLflow UI link is for admins only


def test_a_manager_reads_models_and_an_analyst_is_refused(app):  # noqa: F811
    at = logged_in(app, "mike", "pages/models/registry.py")
    assert "No models yet" in at.info[0].value
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        logged_in(app, "mike", "pages/models/churn.py")  # training needs models:train
    for page, permission in [("registry.py", "models:read"), ("churn.py", "models:train"),
                             ("at_risk.py", "models:train")]:
        direct = AppTest.from_file(str(ROOT / "pages" / "models" / page), default_timeout=30)
        direct.session_state["ctx"] = ctx_of(app, "anna")
        direct.run()
        assert direct.error and permission in direct.error[0].value


def test_scoring_lists_users_at_risk_with_reasons(app):  # noqa: F811
    dan, alice = ctx_of(app, "dan"), ctx_of(app, "alice")
    from workbench.settings import from_env

    wb = home.Workbench(from_env())
    trained = churn_service.train(dan, wb, algorithms=("logistic_regression",))
    with wb.store.connect() as con:
        promotion.promote(alice, con, wb.settings, "churn", trained["version"])
    at = logged_in(app, "dan", "pages/models/at_risk.py")
    at.button(key="churn.score").click().run(timeout=60)
    assert not at.exception, at.exception
    table = at.dataframe[-1].value
    assert len(table) > 0 and table["risk"].is_monotonic_decreasing and table["reasons"].str.len().max() > 0


def test_a_data_scientist_trains_on_a_registered_dataset_with_its_profile(app):  # noqa: F811
    from workbench.models import tabular
    from workbench.settings import from_env

    with app.connect() as con:
        tabular.register_file(
            ctx_of(app, "dan"),
            con,
            from_env(),
            ROOT / "data" / "samples" / "churn-customers.csv",
            "customers",
        )
    at = logged_in(app, "dan", "pages/models/churn.py")
    at.radio(key="churn.source").set_value("A dataset").run()
    assert at.selectbox(key="churn.target").value == "churned"
    assert any("Balance of churned" in c.value for c in at.caption)
    at.multiselect(key="churn.algorithms").set_value(["logistic_regression"]).run()
    at.button(key="churn.train").click().run(timeout=120)
    assert not at.exception, at.exception
    result = at.session_state["churn.result"]
    assert result["params"]["source"] == "dataset customers" and result["metrics"]["roc_auc"] > 0.75
