"""Metrics of a probability forecast against outcomes: ROC AUC, top-decile lift, Brier score, expected calibration
error and a 10-bin calibration table. Plain numpy + scikit-learn, so the CLI, the model page and the tests agree."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

# Columns of metrics() and calibration_table().
AUC, LIFT, BRIER, ECE, COUNT, POSITIVES, BASE_RATE = (
    "roc_auc",
    "top_decile_lift",
    "brier",
    "ece",
    "n",
    "positives",
    "rate",
)
BIN, LOW, HIGH, MEAN_PREDICTED, OBSERVED = "bin", "low", "high", "mean_predicted", "observed"
BINS = 10


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float:
    """Churn rate among the 10 % highest scores over the overall rate (ties broken by order, stable)."""
    y, score = np.asarray(y, dtype="float64"), np.asarray(score, dtype="float64")
    if len(y) == 0 or y.mean() == 0:
        return float("nan")
    top = max(1, int(np.ceil(0.1 * len(y))))
    order = np.argsort(-score, kind="stable")[:top]
    return float(y[order].mean() / y.mean())


def calibration_table(y: np.ndarray, probability: np.ndarray, bins: int = BINS) -> pd.DataFrame:
    """Equal-width probability bins: how many accounts, mean predicted and observed churn rate per bin."""
    y, p = np.asarray(y, dtype="float64"), np.clip(np.asarray(probability, dtype="float64"), 0.0, 1.0)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(which, weights=p, minlength=bins) / count
        observed = np.bincount(which, weights=y, minlength=bins) / count
    edges = np.arange(bins + 1) / bins
    return pd.DataFrame(
        {
            BIN: np.arange(bins),
            LOW: edges[:-1],
            HIGH: edges[1:],
            COUNT: count,
            MEAN_PREDICTED: mean_p,
            OBSERVED: observed,
        }
    )


def expected_calibration_error(y: np.ndarray, probability: np.ndarray, bins: int = BINS) -> float:
    """Σ over bins of (share of accounts) x |mean predicted - observed rate|."""
    table = calibration_table(y, probability, bins)
    used = table[COUNT] > 0
    weight = table.loc[used, COUNT] / table[COUNT].sum()
    return float((weight * (table.loc[used, MEAN_PREDICTED] - table.loc[used, OBSERVED]).abs()).sum())


def metrics(y: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """The backtest row of one scorer (AUC is NaN when the outcomes are all one class)."""
    y, p = np.asarray(y, dtype="float64"), np.asarray(probability, dtype="float64")
    both = 0 < y.sum() < len(y)
    return {
        AUC: float(roc_auc_score(y, p)) if both else float("nan"),
        LIFT: top_decile_lift(y, p),
        BRIER: float(brier_score_loss(y, np.clip(p, 0, 1))) if len(y) else float("nan"),
        ECE: expected_calibration_error(y, p) if len(y) else float("nan"),
        COUNT: float(len(y)),
        POSITIVES: float(y.sum()),
        BASE_RATE: float(y.mean()) if len(y) else float("nan"),
    }
