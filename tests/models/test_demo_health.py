"""The default scorecard on the demo portfolio: does a low score flag the accounts that churn next quarter?"""

import datetime
from collections.abc import Callable

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cs_health.demo.generator import KEY_FEATURES, generate_portfolio
from models.features import compute_features
from models.health import explain, score_accounts
from models.lifecycle import lifecycle_stage, quadrant
from models.scorecard import load_scorecard
from tests.models.demo_data import churned_within, portfolio_data

END = datetime.date(2026, 11, 1)
AS_OF = END - datetime.timedelta(days=120)
MIN_AUC = 0.75


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 11, 13])
def test_low_health_flags_the_accounts_that_churn_within_90_days(
    seed: int, record_testsuite_property: Callable[[str, object], None]
):
    portfolio = generate_portfolio(accounts=300, months=24, seed=seed, end=END)
    data = portfolio_data(portfolio)
    features = compute_features(data, AS_OF, KEY_FEATURES)
    result = score_accounts(features, load_scorecard())
    churns = churned_within(portfolio, pd.Timestamp(AS_OF), 90).reindex(features.index)
    assert churns.notna().all()
    assert churns.sum() >= 5
    auc = roc_auc_score(churns, 100 - result.scores["score"])
    record_testsuite_property(f"auc_seed_{seed}", round(auc, 3))
    assert auc >= MIN_AUC, f"seed {seed}: AUC {auc:.3f}"

    # The rest of the chain runs on real-shaped data: every account explained, staged and placed.
    assert result.scores["score"].notna().all()
    reasons = explain(result, features, load_scorecard())
    assert set(reasons) == set(features.index)
    red = result.scores.index[result.scores["band"] == "red"]
    assert all(reasons[account].reasons for account in red)
    assert set(lifecycle_stage(features)["stage"]) <= {"active", "silent", "sleeping"}
    assert quadrant(features, result.scores["band"])["quadrant"].notna().all()
