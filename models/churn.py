"""Churn model: probability that an active account churns within 30 / 90 days and does not renew at its next
renewal date, trained on the customer's own history, backtested out of time, with plain-language drivers.

Why it looks like this:
- **Labels from the subscription table, strictly as of.** Coverage runs are the account's terms merged across
  gaps of at most `churn_grace_days` (a late renewal is not churn); a run's end is a churn. An account observed
  at t churns within h days when its run ends before t + h; it does not renew when its run ends at the current
  term's scheduled end (the renewal date). A label is used only when its window (plus the grace period) closed
  before `as_of`, and every input is first cut to before `as_of`, so adding later rows changes nothing.
- **Churn happens at renewals.** With terms counted at their scheduled end, an account whose renewal lies
  beyond the horizon cannot churn within it: those rows get probability 0 and the horizon models are fitted on
  the accounts with at least one renewal inside the horizon (with the number of such renewals as an input).
- **A calibrated, regularised logistic regression on monotone, ratio-style inputs** (log-ratios, shares,
  log counts, clipped), standardised, L2-penalised, then Platt-recalibrated on the latest 25 % of observation
  dates (out of time). It serialises exactly to JSON and transfers to data no one here generated.
- **Too little history** (fewer than `min_churn_events` distinct churns in the training labels): a documented
  prior instead, `is_fallback` set with the reason. Non-renewal probability at the next renewal is
  logistic in the health score, p = 1 / (1 + exp(4 - 5.5 (1 - score/100))): 1.8 % at 100, 6 % at 80,
  18 % at 60, 43 % at 40, 82 % at 0 (score unknown: 50); within h days, 1 - (1 - p)^k over the k renewals in h.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from models import backtest as bt
from models.features import (
    ACTIVE_DAYS_28D,
    ACTIVE_USERS_28D,
    CHAMPION_ACTIVE_30D,
    CSAT_90D,
    DAYS_SINCE_LAST_ACTIVITY,
    DAYS_TO_RENEWAL,
    DECISION_MAKER_ACTIVE_30D,
    EVENTS_PER_ACTIVE_USER_28D,
    FEATURE_BREADTH,
    HIGH_PRIORITY_TICKETS_90D,
    KEY_FEATURES_TOTAL,
    KEY_FEATURES_USED_30D,
    MRR_CHANGE_90D,
    NPS_LATEST,
    RENEWAL_DATE,
    SEAT_UTILISATION,
    TENURE_DAYS,
    TERM_DAYS,
    TICKETS_90D,
    TOUCHES_90D,
    USAGE_TREND,
    compute_features,
)
from models.forecast import ANOMALY, TREND, daily_series, forecast_usage
from models.frames import (
    ACCOUNT_ID,
    ARR,
    CLOSED_AT,
    DAY,
    END_DATE,
    SEATS,
    SPECS,
    START_DATE,
    PortfolioData,
)
from models.health import SCORE, score_accounts
from models.scorecard import Scorecard, load_scorecard

FORMAT, VERSION = "cs-health/churn-model", 1
OBSERVED_AT = "observed_at"
# Extra feature columns (beside compute_features').
HEALTH_SCORE, FORECAST_TREND, USAGE_ANOMALY = "health_score", "forecast_trend", "usage_anomaly"
# Label columns: churn_{h}d for each horizon, and non-renewal at the next renewal date.
NON_RENEWAL = "non_renewal"
# Prediction columns.
PROBABILITY_RENEWAL = "probability_renewal"
# Columns of drivers().
RANK, INPUT, CONTRIBUTION, TEXT = "rank", "input", "contribution", "text"
# Backtest scorers.
MODEL, HEALTH_ALONE, DAYS_TO_RENEWAL_BASELINE = "churn_model", "health_score", "days_to_renewal"

DEFAULT_HORIZONS = (30, 90)
_PRIOR_INTERCEPT, _PRIOR_SLOPE = -4.0, 5.5
_MONTH = 30.4
_DAY = pd.Timedelta(days=1)

# The history one observation reads: the windows the nightly run loads to predict (a year of daily series for
# the forecast plus the features' windows; per-user activity for the 30-day people features), so training sees
# exactly what prediction sees, and each date costs its window rather than the whole history.
OBSERVATION_USAGE_DAYS, OBSERVATION_USER_DAYS = 400, 120

FeatureMemo = dict[pd.Timestamp, pd.DataFrame]
"""churn_features per observation date, shared by build_training_set and backtest calls on the same portfolio.
Features at a date read only data from before it, so they are the same whatever later cut the caller made; a
backtest whose training cut lies a multiple of `every_days` before the final one reuses all its dates."""


def churn_label(horizon: int) -> str:
    """Label column of churn within `horizon` days."""
    return f"churn_{horizon}d"


def probability_column(horizon: int) -> str:
    """Prediction column of churn within `horizon` days."""
    return f"probability_{horizon}d"


# ---------------------------------------------------------------------------------------------- inputs


def _get(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _pct(value: float) -> str:
    return f"{abs(value) * 100:.0f}%"


def _usage_text(row: Mapping[str, float]) -> str:
    change = math.expm1(row[USAGE_TREND])
    way = "down" if change < 0 else "up"
    return f"usage {way} {_pct(change)} over the last 28 days vs the 56 days before"


def _forecast_text(row: Mapping[str, float]) -> str:
    change = row[FORECAST_TREND]
    if change <= -0.95:
        return "usage forecast to fall to almost nothing by renewal"
    return f"usage forecast to {'fall' if change < 0 else 'rise'} {_pct(change)} by renewal"


def _seat_text(row: Mapping[str, float]) -> str:
    if math.isnan(row[SEATS]) or math.isnan(row[ACTIVE_USERS_28D]):
        return f"seat utilisation {row[SEAT_UTILISATION] * 100:.0f}%"
    return f"{row[ACTIVE_USERS_28D]:.0f} of {row[SEATS]:.0f} seats active in the last 28 days"


def _person_text(role: str, value: float) -> str:
    if math.isnan(value):
        return f"no {role} on record"
    return f"{role} active in the last 30 days" if value > 0 else f"no {role} activity in 30 days"


def _mrr_text(row: Mapping[str, float]) -> str:
    change = row[MRR_CHANGE_90D]
    if math.isnan(change) or abs(change) < 0.005:
        return "MRR unchanged over 90 days"
    return f"MRR {'down' if change < 0 else 'up'} {_pct(change)} over 90 days"


def _term_text(row: Mapping[str, float]) -> str:
    months = round(row[TERM_DAYS] / _MONTH)
    return "monthly term" if months <= 1 else f"{months}-month term"


def _inactive_text(row: Mapping[str, float]) -> str:
    days = row[DAYS_SINCE_LAST_ACTIVITY]
    return f"no activity in {days:.0f} days" if days >= 7 else f"last active {days:.0f} days ago"


@dataclass(frozen=True)
class Input:
    """One model input: a monotone transform of features, and the plain words for an account's value."""

    name: str
    transform: Callable[[pd.DataFrame], np.ndarray]
    text: Callable[[Mapping[str, float]], str]
    sources: tuple[str, ...]


def _clip(column: str, low: float, high: float, scale: float = 1.0) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda f: np.clip(_get(f, column) / scale, low, high)


def _log1p(column: str, scale: float = 1.0) -> Callable[[pd.DataFrame], np.ndarray]:
    return lambda f: np.log1p(np.clip(_get(f, column), 0, None) / scale)


INPUTS: tuple[Input, ...] = (
    Input(
        "renewal_proximity",
        lambda f: -np.log1p(np.clip(_get(f, DAYS_TO_RENEWAL), 0, None)),
        lambda r: f"renewal in {r[DAYS_TO_RENEWAL]:.0f} days",
        (DAYS_TO_RENEWAL,),
    ),
    Input("term_length", lambda f: np.log(np.clip(_get(f, TERM_DAYS) / _MONTH, 1, 36)), _term_text, (TERM_DAYS,)),
    Input(
        "tenure",
        _log1p(TENURE_DAYS, _MONTH),
        lambda r: f"customer for {r[TENURE_DAYS] / _MONTH:.0f} months",
        (TENURE_DAYS,),
    ),
    Input("usage_trend", _clip(USAGE_TREND, -3.0, 1.5), _usage_text, (USAGE_TREND,)),
    Input(
        FORECAST_TREND,
        lambda f: np.clip(np.log(np.clip(1 + _get(f, FORECAST_TREND), 0.05, None)), -3.0, 1.5),
        _forecast_text,
        (FORECAST_TREND,),
    ),
    Input(
        USAGE_ANOMALY,
        lambda f: _get(f, USAGE_ANOMALY),
        lambda r: (
            "usage in the last 14 days below its forecast band"
            if r[USAGE_ANOMALY] > 0
            else "usage within its forecast band"
        ),
        (USAGE_ANOMALY,),
    ),
    Input(SEAT_UTILISATION, _clip(SEAT_UTILISATION, 0.0, 1.5), _seat_text, (SEAT_UTILISATION, ACTIVE_USERS_28D, SEATS)),
    Input(
        FEATURE_BREADTH,
        _clip(FEATURE_BREADTH, 0.0, 1.0),
        lambda r: f"{r[KEY_FEATURES_USED_30D]:.0f} of {r[KEY_FEATURES_TOTAL]:.0f} key features used in 30 days",
        (FEATURE_BREADTH, KEY_FEATURES_USED_30D, KEY_FEATURES_TOTAL),
    ),
    Input(
        ACTIVE_DAYS_28D,
        _clip(ACTIVE_DAYS_28D, 0.0, 1.0, 28.0),
        lambda r: f"active on {r[ACTIVE_DAYS_28D]:.0f} of the last 28 days",
        (ACTIVE_DAYS_28D,),
    ),
    Input("inactivity", _log1p(DAYS_SINCE_LAST_ACTIVITY), _inactive_text, (DAYS_SINCE_LAST_ACTIVITY,)),
    Input(
        "events_per_user",
        _log1p(EVENTS_PER_ACTIVE_USER_28D),
        lambda r: f"{r[EVENTS_PER_ACTIVE_USER_28D]:.0f} events per active user in 28 days",
        (EVENTS_PER_ACTIVE_USER_28D,),
    ),
    Input(
        CHAMPION_ACTIVE_30D,
        lambda f: _get(f, CHAMPION_ACTIVE_30D),
        lambda r: _person_text("champion", r[CHAMPION_ACTIVE_30D]),
        (CHAMPION_ACTIVE_30D,),
    ),
    Input(
        DECISION_MAKER_ACTIVE_30D,
        lambda f: _get(f, DECISION_MAKER_ACTIVE_30D),
        lambda r: _person_text("decision maker", r[DECISION_MAKER_ACTIVE_30D]),
        (DECISION_MAKER_ACTIVE_30D,),
    ),
    Input(
        MRR_CHANGE_90D,
        lambda f: np.nan_to_num(np.clip(_get(f, MRR_CHANGE_90D), -1.0, 1.0), nan=0.0),
        _mrr_text,
        (MRR_CHANGE_90D,),
    ),
    Input(
        HIGH_PRIORITY_TICKETS_90D,
        _log1p(HIGH_PRIORITY_TICKETS_90D),
        lambda r: f"{r[HIGH_PRIORITY_TICKETS_90D]:.0f} high-priority tickets in 90 days",
        (HIGH_PRIORITY_TICKETS_90D,),
    ),
    Input(
        TICKETS_90D,
        _log1p(TICKETS_90D),
        lambda r: f"{r[TICKETS_90D]:.0f} support tickets in 90 days",
        (TICKETS_90D,),
    ),
    Input(
        CSAT_90D,
        lambda f: _get(f, CSAT_90D),
        lambda r: (
            "no CSAT rating in 90 days"
            if math.isnan(r[CSAT_90D])
            else f"CSAT {r[CSAT_90D]:.1f} on tickets closed in 90 days"
        ),
        (CSAT_90D,),
    ),
    Input(
        NPS_LATEST,
        lambda f: _get(f, NPS_LATEST),
        lambda r: "no NPS answer" if math.isnan(r[NPS_LATEST]) else f"latest NPS answer {r[NPS_LATEST]:.0f}",
        (NPS_LATEST,),
    ),
    Input(
        TOUCHES_90D,
        _log1p(TOUCHES_90D),
        lambda r: f"{r[TOUCHES_90D]:.0f} CSM touches in 90 days",
        (TOUCHES_90D,),
    ),
    Input(
        HEALTH_SCORE,
        _clip(HEALTH_SCORE, 0.0, 1.0, 100.0),
        lambda r: f"health score {r[HEALTH_SCORE]:.0f}",
        (HEALTH_SCORE,),
    ),
    Input("arr", _log1p(ARR), lambda r: f"ARR {r[ARR]:,.0f}", (ARR,)),
)
_INPUTS = {item.name: item for item in INPUTS}
RENEWALS_IN_HORIZON = "renewals_in_horizon"


def renewals_within(features: pd.DataFrame, horizon: int) -> np.ndarray:
    """Renewal dates inside [as_of, as_of + horizon): 0 when the renewal lies beyond, more for short terms
    (each next term assumed as long as the current one)."""
    dtr = _get(features, DAYS_TO_RENEWAL)
    term = np.maximum(np.nan_to_num(_get(features, TERM_DAYS), nan=365.0), 1.0)
    inside = dtr < horizon
    with np.errstate(invalid="ignore"):
        more = np.floor((horizon - 1 - dtr) / term)
    return np.where(inside, 1 + np.maximum(np.nan_to_num(more), 0), 0.0)


# ---------------------------------------------------------------------------------------------- features


def churn_features(
    data: PortfolioData,
    as_of: datetime.date,
    key_features: Mapping[str, Sequence[str]] | None = None,
    scorecard: Scorecard | None = None,
    series: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """compute_features plus the health score, the vectorised usage forecast's trend to renewal and its anomaly
    flag: the frame ChurnModel.predict_proba and drivers take (index account_id)."""
    features = compute_features(data, as_of, key_features)
    scores = score_accounts(features, scorecard or load_scorecard()).scores
    features[HEALTH_SCORE] = scores[SCORE].reindex(features.index)
    series = daily_series(data) if series is None else series
    horizon = features[DAYS_TO_RENEWAL].fillna(0.0)
    forecast = forecast_usage(series, as_of, horizon, use_prophet=False).summary
    features[FORECAST_TREND] = forecast[TREND].reindex(features.index)
    features[USAGE_ANOMALY] = forecast[ANOMALY].reindex(features.index).astype("float64")
    return features


def restrict(data: PortfolioData, as_of: datetime.date) -> PortfolioData:
    """The portfolio as it was known just before `as_of`: rows whose time column is on or after it are dropped
    (subscriptions by start date), tickets closed later are still open."""
    cut = pd.Timestamp(as_of).normalize()
    frames: dict[str, pd.DataFrame] = {}
    for name, spec in SPECS.items():
        frame = getattr(data, name)
        if spec.time_column is not None and len(frame):
            times = _naive(frame[spec.time_column])
            if times.is_monotonic_increasing:  # in day order (in_day_order): the rows before are one slice
                frame = frame.iloc[: times.searchsorted(cut)]
            else:
                frame = frame[(times < cut).to_numpy()]
        if name == "tickets" and len(frame):
            closed = _naive(frame[CLOSED_AT])
            frame = frame.assign(**{CLOSED_AT: closed.where(closed < cut)})
        frames[name] = frame
    return PortfolioData(**frames)


def _naive(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values
    return pd.to_datetime(values, utc=True).dt.tz_localize(None)


def build_training_set(
    data: PortfolioData,
    as_of: datetime.date,
    every_days: int = 30,
    churn_grace_days: int = 30,
    *,
    horizons: Sequence[int] = DEFAULT_HORIZONS,
    key_features: Mapping[str, Sequence[str]] | None = None,
    scorecard: Scorecard | None = None,
    memo: FeatureMemo | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Observations every `every_days` days back through the history before `as_of`, with their labels.

    Returns (observations, labels), both indexed by (observed_at, account_id) in time order: the churn_features
    of every account active at each observation date, computed from data before that date; labels churn_{h}d
    and non_renewal as 0/1, NaN where the window (plus the grace period) had not closed before `as_of`.
    Observation dates start once 84 days of usage exist (the usage trend's window). `memo` shares the features
    of each observation date between calls on the same data (see FeatureMemo).
    """
    known = restrict(data, as_of)
    cut = pd.Timestamp(as_of).normalize()
    days = _naive(known.daily_usage[DAY])
    if days.empty:
        return _empty_set(horizons)
    earliest = days.min().normalize() + pd.Timedelta(days=84)
    dates = []
    date = cut - every_days * _DAY
    while date >= earliest:
        dates.append(date)
        date -= every_days * _DAY
    return _observe(known, sorted(dates), cut, churn_grace_days, horizons, key_features, scorecard, memo)


def _empty_set(horizons: Sequence[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
    index = pd.MultiIndex.from_arrays(
        [pd.DatetimeIndex([]), pd.Index([], dtype="str")], names=[OBSERVED_AT, ACCOUNT_ID]
    )
    labels = pd.DataFrame({c: pd.Series(dtype="float64") for c in [*map(churn_label, horizons), NON_RENEWAL]})
    return pd.DataFrame(index=index), labels.set_axis(index)


def _observe(
    known: PortfolioData,
    dates: Sequence[pd.Timestamp],
    cut: pd.Timestamp,
    grace_days: int,
    horizons: Sequence[int],
    key_features: Mapping[str, Sequence[str]] | None,
    scorecard: Scorecard | None,
    memo: FeatureMemo | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features at each date (from data before it) and labels as known at `cut` (data must already be cut)."""
    if not dates:
        return _empty_set(horizons)
    scorecard = scorecard or load_scorecard()
    memo = {} if memo is None else memo
    if any(date not in memo for date in dates):
        usage, users = _by_day(known.daily_usage), _by_day(known.user_activity)
        series = _by_day(daily_series(known))
        for date in (date for date in dates if date not in memo):  # one vectorised pass over all accounts
            window = dataclasses.replace(
                known,
                daily_usage=_last_days(usage, date, OBSERVATION_USAGE_DAYS),
                user_activity=_last_days(users, date, OBSERVATION_USER_DAYS),
            )
            recent = _last_days(series, date, OBSERVATION_USAGE_DAYS)
            memo[date] = churn_features(window, date.date(), key_features, scorecard, recent)
    runs = _coverage_runs(known.subscriptions, grace_days)
    grace = grace_days * _DAY
    frames, label_frames = [], []
    for date in dates:
        features = memo[date]
        if features.empty:
            continue
        run_end = _run_end_at(runs, features.index, date)
        labels = pd.DataFrame(index=features.index)
        for h in horizons:
            closed = date + h * _DAY + grace <= cut
            labels[churn_label(h)] = (run_end < date + h * _DAY).astype("float64") if closed else np.nan
        renewal = pd.to_datetime(features[RENEWAL_DATE])
        labels[NON_RENEWAL] = np.where(renewal + grace <= cut, (run_end <= renewal).astype("float64"), np.nan)
        index = pd.MultiIndex.from_arrays(
            [pd.DatetimeIndex([date] * len(features)), features.index.astype("str")], names=[OBSERVED_AT, ACCOUNT_ID]
        )
        frames.append(features.set_axis(index))
        label_frames.append(labels.set_axis(index))
    if not frames:
        return _empty_set(horizons)
    return pd.concat(frames), pd.concat(label_frames)


def in_day_order(data: PortfolioData) -> PortfolioData:
    """The portfolio with its usage frames in day order: training and backtesting on it sort nothing again
    (each of their calls would otherwise sort tens of millions of rows)."""
    return dataclasses.replace(data, daily_usage=_by_day(data.daily_usage), user_activity=_by_day(data.user_activity))


def _by_day(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in day order (naive UTC days), so any window of days is one slice."""
    frame = frame.assign(**{DAY: _naive(frame[DAY])})
    if frame[DAY].is_monotonic_increasing:
        return frame
    return frame.sort_values(DAY, kind="stable", ignore_index=True)


def _last_days(frame: pd.DataFrame, date: pd.Timestamp, days: int) -> pd.DataFrame:
    """The rows of a day-ordered frame in the `days` days before `date`."""
    start, stop = np.searchsorted(frame[DAY].to_numpy(), np.array([date - days * _DAY, date], dtype=frame[DAY].dtype))
    return frame.iloc[start:stop]


def _coverage_runs(subscriptions: pd.DataFrame, grace_days: int) -> pd.DataFrame:
    """Per account, the spans covered by terms, merging gaps of at most `grace_days` (a late renewal)."""
    subs = pd.DataFrame(
        {
            ACCOUNT_ID: subscriptions[ACCOUNT_ID].astype("str").to_numpy(),
            START_DATE: _naive(subscriptions[START_DATE]).to_numpy(),
            END_DATE: _naive(subscriptions[END_DATE]).to_numpy(),
        }
    ).sort_values([ACCOUNT_ID, START_DATE], kind="stable")
    reach = subs.groupby(ACCOUNT_ID)[END_DATE].cummax()
    previous = reach.groupby(subs[ACCOUNT_ID]).shift(1)
    new_run = previous.isna() | (subs[START_DATE] > previous + grace_days * _DAY)
    subs["run"] = new_run.cumsum()
    return (
        subs.groupby("run")
        .agg(**{ACCOUNT_ID: (ACCOUNT_ID, "first"), "start": (START_DATE, "min")})
        .join(subs.groupby("run")[END_DATE].max().rename("end"))
    )


def _run_end_at(runs: pd.DataFrame, accounts: pd.Index, date: pd.Timestamp) -> pd.Series:
    """End of the coverage run holding `date` for each account (NaT when none does)."""
    holding = runs[(runs["start"] <= date) & (runs["end"] > date)].drop_duplicates(ACCOUNT_ID, keep="last")
    ends = holding.set_index(ACCOUNT_ID)["end"]
    return ends.reindex(accounts.astype("str")).set_axis(accounts)


# ---------------------------------------------------------------------------------------------- the model


@dataclass
class _Logit:
    """One calibrated logistic regression over the standardised inputs."""

    coef: list[float]
    intercept: float
    platt: tuple[float, float] = (1.0, 0.0)

    def decision(self, x: np.ndarray) -> np.ndarray:
        return x @ np.asarray(self.coef, dtype="float64") + self.intercept

    def probability(self, x: np.ndarray) -> np.ndarray:
        a, b = self.platt
        return _sigmoid(a * self.decision(x) + b)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype="float64")))


def _prior(health: np.ndarray) -> np.ndarray:
    """The fallback's non-renewal probability from the health score (unknown score: 50)."""
    score = np.nan_to_num(np.clip(health, 0, 100), nan=50.0)
    return _sigmoid(_PRIOR_INTERCEPT + _PRIOR_SLOPE * (1 - score / 100))


class ChurnModel:
    """Churn within each horizon and non-renewal at the next renewal, from churn_features-shaped rows.

    Parameters are stored as given and checked in fit: `horizons` (days), `C` (inverse L2 strength on
    standardised inputs), `calibration` ("platt" out of time on the latest `calibration_share` of observation
    dates, or "none"), `min_churn_events` (below it, the documented prior of the module docstring).
    """

    def __init__(
        self,
        horizons: Sequence[int] = DEFAULT_HORIZONS,
        C: float = 0.3,
        calibration: str = "platt",
        calibration_share: float = 0.25,
        min_churn_events: int = 30,
        max_iter: int = 2000,
    ) -> None:
        self.horizons, self.C, self.calibration = horizons, C, calibration
        self.calibration_share, self.min_churn_events, self.max_iter = calibration_share, min_churn_events, max_iter

    # -- scikit-learn shape

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters (scikit-learn's clone protocol)."""
        return {
            "horizons": tuple(self.horizons),
            "C": self.C,
            "calibration": self.calibration,
            "calibration_share": self.calibration_share,
            "min_churn_events": self.min_churn_events,
            "max_iter": self.max_iter,
        }

    def set_params(self, **params: Any) -> Self:
        """Change constructor parameters (scikit-learn's protocol)."""
        for name, value in params.items():
            setattr(self, name, value)
        return self

    @property
    def is_fallback(self) -> bool:
        """True when the model predicts from the documented prior (too few churns to learn from)."""
        self._check_fitted()
        return self.is_fallback_

    @property
    def reason(self) -> str:
        """Why the model is a fallback (empty when it is not)."""
        self._check_fitted()
        return self.fallback_reason_

    def fit(self, observations: pd.DataFrame, labels: pd.DataFrame) -> Self:
        """Learn from build_training_set's (observations, labels); rows with a NaN label are left out per target."""
        horizons = tuple(int(h) for h in self.horizons)
        if not horizons or min(horizons) < 1:
            raise ValueError("horizons must be positive day counts")
        if self.calibration not in {"platt", "none"}:
            raise ValueError("calibration must be 'platt' or 'none'")
        missing = [c for c in (*map(churn_label, horizons), NON_RENEWAL) if c not in labels]
        if missing:
            raise ValueError(f"labels: missing column(s) {', '.join(missing)}")
        labels = labels.reindex(observations.index)
        self.horizons_ = horizons
        self.feature_names_ = [item.name for item in INPUTS]
        self.n_observations_ = len(observations)
        self.n_churn_events_ = _churn_events(labels, horizons)
        self.models_: dict[str, _Logit] = {}
        self.is_fallback_ = self.n_churn_events_ < self.min_churn_events
        self.fallback_reason_ = (
            f"{self.n_churn_events_} churn events in the training labels, fewer than {self.min_churn_events}: "
            "probabilities come from the health-score prior, not a learned model"
            if self.is_fallback_
            else ""
        )
        raw = _design(observations)
        with warnings.catch_warnings():  # an input the caller never has: imputed as 0 (then constant)
            warnings.simplefilter("ignore", RuntimeWarning)
            medians = np.nanmedian(raw, axis=0) if len(raw) else np.zeros(raw.shape[1])
        self.impute_ = np.nan_to_num(medians)
        filled = np.where(np.isnan(raw), self.impute_, raw)
        self.mean_ = filled.mean(axis=0) if len(filled) else np.zeros(raw.shape[1])
        scale = filled.std(axis=0) if len(filled) else np.ones(raw.shape[1])
        self.scale_ = np.where(scale > 1e-9, scale, 1.0)
        if self.is_fallback_:
            return self
        x = (filled - self.mean_) / self.scale_
        dates = observations.index.get_level_values(OBSERVED_AT) if OBSERVED_AT in observations.index.names else None
        y = labels[NON_RENEWAL].to_numpy(dtype="float64")
        self.models_[NON_RENEWAL] = self._fit_one(x, y, np.ones(len(x), dtype=bool), dates)
        for h in horizons:
            k = renewals_within(observations, h)
            y = labels[churn_label(h)].to_numpy(dtype="float64")
            self.models_[churn_label(h)] = self._fit_one(_with_renewals(x, k), y, k > 0, dates)
        return self

    def _fit_one(self, x: np.ndarray, y: np.ndarray, eligible: np.ndarray, dates: pd.Index | None) -> _Logit:
        rows = eligible & ~np.isnan(y)
        x, y = x[rows], y[rows]
        if y.min(initial=1) == y.max(initial=0):  # one class only: its rate, no slope
            rate = float(np.clip(y.mean() if len(y) else 0.0, 1e-4, 1 - 1e-4))
            return _Logit([0.0] * x.shape[1], math.log(rate / (1 - rate)))
        platt = (1.0, 0.0)
        if self.calibration == "platt" and dates is not None:
            when = np.asarray(dates)[rows]
            distinct = np.unique(when)
            first_late = (
                distinct[int(np.floor(len(distinct) * (1 - self.calibration_share)))] if len(distinct) else None
            )
            late = when >= first_late if first_late is not None else np.zeros(len(y), dtype=bool)
            if y[~late].sum() >= 10 and y[late].sum() >= 5 and (~late).sum() > 0:
                early = self._logistic().fit(x[~late], y[~late])
                score = early.decision_function(x[late]).reshape(-1, 1)
                calibrator = LogisticRegression(C=1e4, max_iter=self.max_iter).fit(score, y[late])
                platt = (float(calibrator.coef_[0, 0]), float(calibrator.intercept_[0]))
        final = self._logistic().fit(x, y)
        return _Logit([float(v) for v in final.coef_[0]], float(final.intercept_[0]), platt)

    def _logistic(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, max_iter=self.max_iter)

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise ValueError("ChurnModel is not fitted yet: call fit() or from_json() first")

    def _standardised(self, features: pd.DataFrame) -> np.ndarray:
        raw = _design(features)
        return (np.where(np.isnan(raw), self.impute_, raw) - self.mean_) / self.scale_

    def predict_proba(self, features: pd.DataFrame) -> pd.DataFrame:
        """probability_{h}d per horizon and probability_renewal (of not renewing at the next renewal date),
        plus days_to_renewal and term_days passed through for portfolio_forecast; index as `features`."""
        self._check_fitted()
        out = pd.DataFrame(index=features.index)
        if self.is_fallback_:
            p_renewal = _prior(_get(features, HEALTH_SCORE))
        else:
            x = self._standardised(features)
            p_renewal = self.models_[NON_RENEWAL].probability(x)
        previous = np.zeros(len(features))
        for h in sorted(self.horizons_):
            k = renewals_within(features, h)
            if self.is_fallback_:
                p = 1 - (1 - p_renewal) ** k
            else:
                p = np.where(k > 0, self.models_[churn_label(h)].probability(_with_renewals(x, k)), 0.0)
            previous = np.maximum(p, previous)  # churn within 90 days includes churn within 30
            out[probability_column(h)] = previous
        out[PROBABILITY_RENEWAL] = p_renewal
        out[DAYS_TO_RENEWAL] = _get(features, DAYS_TO_RENEWAL)
        out[TERM_DAYS] = _get(features, TERM_DAYS)
        return out

    def drivers(self, features: pd.DataFrame, top: int = 3) -> pd.DataFrame:
        """Each account's `top` reasons for its churn risk in plain words: the inputs pushing its non-renewal
        probability up the most against the average account, led by the renewal date when it falls inside the
        longest horizon. Columns account_id, rank, input, contribution (log-odds), text."""
        self._check_fitted()
        ids = features.index.get_level_values(ACCOUNT_ID) if ACCOUNT_ID in features.index.names else features.index
        n, names = len(features), self.feature_names_
        if self.is_fallback_:
            health = _get(features, HEALTH_SCORE)
            contribution = np.zeros((n, len(names)))
            contribution[:, names.index(HEALTH_SCORE)] = _PRIOR_SLOPE * (1 - np.nan_to_num(health, nan=50.0) / 100)
        else:
            model = self.models_[NON_RENEWAL]
            contribution = self._standardised(features) * np.asarray(model.coef) * model.platt[0]
        timing = names.index("renewal_proximity")
        renewal_effect = contribution[:, timing].copy()
        contribution[:, timing] = 0.0  # stated first when the renewal is near, see below
        near = _get(features, DAYS_TO_RENEWAL) < max(self.horizons_)
        order = np.argsort(-contribution, axis=1, kind="stable")
        columns = sorted({c for item in INPUTS for c in item.sources})
        values = {c: _get(features, c) for c in columns}
        rows: list[tuple[Any, int, str, float, str]] = []
        for i in range(n):  # text formatting only, a handful of strings per account
            row = {c: float(values[c][i]) for c in columns}
            picked = [("renewal_proximity", float(renewal_effect[i]))] if near[i] else []
            picked += [(names[j], float(contribution[i, j])) for j in order[i] if contribution[i, j] > 1e-6]
            for rank, (name, value) in enumerate(picked[:top], start=1):
                rows.append((ids[i], rank, name, value, _INPUTS[name].text(row)))
        return pd.DataFrame(rows, columns=[ACCOUNT_ID, RANK, INPUT, CONTRIBUTION, TEXT])

    # -- serialisation

    def to_json(self) -> str:
        """Versioned JSON of the parameters and everything learned (floats round-trip exactly)."""
        self._check_fitted()
        document = {
            "format": FORMAT,
            "version": VERSION,
            "params": self.get_params(),
            "horizons": list(self.horizons_),
            "features": self.feature_names_,
            "impute": [float(v) for v in self.impute_],
            "mean": [float(v) for v in self.mean_],
            "scale": [float(v) for v in self.scale_],
            "models": {
                name: {"coef": m.coef, "intercept": m.intercept, "platt": list(m.platt)}
                for name, m in self.models_.items()
            },
            "is_fallback": self.is_fallback_,
            "fallback_reason": self.fallback_reason_,
            "prior": {"intercept": _PRIOR_INTERCEPT, "slope": _PRIOR_SLOPE},
            "n_observations": self.n_observations_,
            "n_churn_events": self.n_churn_events_,
        }
        return json.dumps(document, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ChurnModel:
        """Rebuild a fitted model from to_json's output; refuses another format or a newer version."""
        document = json.loads(text)
        if document.get("format") != FORMAT or int(document.get("version", 0)) > VERSION:
            raise ValueError(f"not a {FORMAT} document of version <= {VERSION}")
        if document["features"] != [item.name for item in INPUTS]:
            raise ValueError("the model was trained on other inputs than this version of cs-health computes")
        params = dict(document["params"])
        params["horizons"] = tuple(params["horizons"])
        model = cls(**params)
        model.horizons_ = tuple(int(h) for h in document["horizons"])
        model.feature_names_ = list(document["features"])
        model.impute_ = np.asarray(document["impute"], dtype="float64")
        model.mean_ = np.asarray(document["mean"], dtype="float64")
        model.scale_ = np.asarray(document["scale"], dtype="float64")
        model.models_ = {
            name: _Logit(list(m["coef"]), float(m["intercept"]), (float(m["platt"][0]), float(m["platt"][1])))
            for name, m in document["models"].items()
        }
        model.is_fallback_ = bool(document["is_fallback"])
        model.fallback_reason_ = str(document["fallback_reason"])
        model.n_observations_ = int(document["n_observations"])
        model.n_churn_events_ = int(document["n_churn_events"])
        return model


def _design(features: pd.DataFrame) -> np.ndarray:
    return np.column_stack([item.transform(features) for item in INPUTS]).astype("float64")


def _with_renewals(x: np.ndarray, renewals: np.ndarray) -> np.ndarray:
    """The standardised inputs plus log(renewals inside the horizon) (0 for one renewal)."""
    return np.column_stack([x, np.log(np.maximum(renewals, 1.0))])


def _churn_events(labels: pd.DataFrame, horizons: Sequence[int]) -> int:
    """Distinct accounts x churn dates behind the positive labels (one churn is seen from many observations)."""
    positive = labels[[*map(churn_label, horizons), NON_RENEWAL]].fillna(0).max(axis=1) > 0
    if not positive.any():
        return 0
    index = labels.index[positive.to_numpy()]
    if ACCOUNT_ID not in (index.names or []):
        return int(positive.sum())
    # Observations of one account before one churn all point at the same event: count accounts per
    # run of consecutive positive observation dates (an account can churn, come back and churn again).
    frame = index.to_frame(index=False).sort_values([ACCOUNT_ID, OBSERVED_AT])
    gap = frame.groupby(ACCOUNT_ID)[OBSERVED_AT].diff() > pd.Timedelta(days=200)
    return int(frame[ACCOUNT_ID].ne(frame[ACCOUNT_ID].shift()).sum() + gap.sum())


# ---------------------------------------------------------------------------------------------- backtest


@dataclass(frozen=True)
class BacktestReport:
    """Out-of-time backtest: trained as of `train_as_of`, tested on observation dates from it with outcomes known
    at `as_of`. metrics: index (horizon, scorer) x backtest metric columns; calibration: (horizon, scorer) ->
    10-bin table; scorers are the churn model, the health score alone (logistic calibration of 1 - score/100
    fitted on the training rows) and days to renewal (logistic in log1p(days) fitted the same way)."""

    metrics: pd.DataFrame
    calibration: dict[tuple[int, str], pd.DataFrame]
    model: ChurnModel
    train_as_of: datetime.date
    as_of: datetime.date
    test_dates: tuple[datetime.date, ...] = field(default_factory=tuple)


def backtest(
    data: PortfolioData,
    train_as_of: datetime.date,
    as_of: datetime.date,
    *,
    model: ChurnModel | None = None,
    every_days: int = 30,
    churn_grace_days: int = 30,
    key_features: Mapping[str, Sequence[str]] | None = None,
    scorecard: Scorecard | None = None,
    memo: FeatureMemo | None = None,
) -> BacktestReport:
    """Train on what was known before `train_as_of`, test on observation dates from `train_as_of` on (every
    `every_days`) whose longest horizon has passed by `as_of`. Never shuffled across time: the test rows are
    all later than every training label window. Test outcomes are what the subscriptions show before `as_of`
    (no grace period: a churn near as_of counts)."""
    model = copy.deepcopy(model) if model is not None else ChurnModel()
    horizons = tuple(int(h) for h in model.horizons)
    scorecard = scorecard or load_scorecard()
    observations, labels = build_training_set(
        data,
        train_as_of,
        every_days,
        churn_grace_days,
        horizons=horizons,
        key_features=key_features,
        scorecard=scorecard,
        memo=memo,
    )
    model.fit(observations, labels)
    start, end = pd.Timestamp(train_as_of).normalize(), pd.Timestamp(as_of).normalize()
    dates = []
    date = start
    while date + max(horizons) * _DAY <= end:
        dates.append(date)
        date += every_days * _DAY
    test, outcome = _observe(restrict(data, as_of), dates, end, 0, horizons, key_features, scorecard, memo)
    predicted = model.predict_proba(test) if len(test) else pd.DataFrame(index=test.index)
    rows, tables = {}, {}
    for h in horizons:
        train_y = labels[churn_label(h)].to_numpy(dtype="float64")
        y = outcome[churn_label(h)].to_numpy(dtype="float64")
        scorers = {
            MODEL: predicted[probability_column(h)].to_numpy() if len(test) else np.empty(0),
            HEALTH_ALONE: _one_input_calibration(observations, train_y, test, HEALTH_SCORE, lambda v: 1 - v / 100),
            DAYS_TO_RENEWAL_BASELINE: _one_input_calibration(
                observations, train_y, test, DAYS_TO_RENEWAL, lambda v: -np.log1p(np.clip(v, 0, None))
            ),
        }
        for name, p in scorers.items():
            known = ~np.isnan(y)
            rows[(h, name)] = bt.metrics(y[known], p[known])
            tables[(h, name)] = bt.calibration_table(y[known], p[known])
    metrics = pd.DataFrame.from_dict(rows, orient="index")
    metrics.index = pd.MultiIndex.from_tuples(metrics.index, names=["horizon_days", "scorer"])
    return BacktestReport(
        metrics=metrics,
        calibration=tables,
        model=model,
        train_as_of=train_as_of,
        as_of=as_of,
        test_dates=tuple(d.date() for d in dates),
    )


def _one_input_calibration(
    train: pd.DataFrame,
    y: np.ndarray,
    test: pd.DataFrame,
    column: str,
    transform: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """A baseline's probability: logistic regression on one transformed input, fitted on the training rows."""
    if not len(test):
        return np.empty(0)
    x_train, x_test = transform(_get(train, column)), transform(_get(test, column))
    fill = float(np.nanmedian(x_train)) if np.isfinite(x_train).any() else 0.0
    rows = ~np.isnan(y)
    x_train, x_test = np.nan_to_num(x_train, nan=fill), np.nan_to_num(x_test, nan=fill)
    if len(np.unique(y[rows])) < 2:
        return np.full(len(x_test), float(np.nanmean(y[rows])) if rows.any() else 0.0)
    fitted = LogisticRegression(C=1e4, max_iter=1000).fit(x_train[rows].reshape(-1, 1), y[rows])
    return fitted.predict_proba(x_test.reshape(-1, 1))[:, 1]


# ---------------------------------------------------------------------------------------------- portfolio


ARR_AT_RISK, PROBABILITY = "arr_at_risk", "probability"
PORTFOLIO_HORIZONS = (30, 90, 180)


@dataclass(frozen=True)
class PortfolioForecast:
    """ARR at risk per horizon (expected ARR lost to churn by renewals inside it) and the next quarter's gross
    revenue retention with an interval. accounts: per account and horizon, probability and ARR at risk."""

    arr: float
    arr_at_risk: dict[int, float]
    grr: float
    grr_low: float
    grr_high: float
    interval: float
    accounts: pd.DataFrame = field(repr=False)


def churn_by(predictions: pd.DataFrame, horizon: int) -> np.ndarray:
    """P(churn by a renewal within `horizon` days): the model's own column when it has that horizon, else
    1 - (1 - p_renewal)^k over the k renewals inside the horizon; never below a shorter horizon's probability."""
    own = probability_column(horizon)
    if own in predictions:
        p = predictions[own].to_numpy(dtype="float64")
    else:
        k = renewals_within(predictions, horizon)
        p = 1 - (1 - predictions[PROBABILITY_RENEWAL].to_numpy(dtype="float64")) ** k
    shorter = [int(c.split("_")[1][:-1]) for c in predictions.columns if c.startswith("probability_") and c[-1] == "d"]
    for h in shorter:
        if h < horizon:
            p = np.maximum(p, predictions[probability_column(h)].to_numpy(dtype="float64"))
    return np.nan_to_num(p, nan=0.0)


def portfolio_forecast(
    predictions: pd.DataFrame,
    arr: pd.Series,
    horizon_days: Sequence[int] = PORTFOLIO_HORIZONS,
    *,
    quarter_days: int = 90,
    interval: float = 0.9,
    simulations: int = 10_000,
    seed: int = 0,
) -> PortfolioForecast:
    """ARR at risk = P(churn by renewal within the horizon) x ARR, summed, for each horizon; forecast GRR for the
    next `quarter_days` = 1 - expected lost ARR / ARR, with a Poisson-binomial interval simulated with a fixed
    seed (accounts churn independently; downsell is not modelled, so this is the churn part of GRR)."""
    arr_values = arr.reindex(predictions.index).to_numpy(dtype="float64", na_value=0.0)
    arr_values = np.nan_to_num(arr_values)
    total = float(arr_values.sum())
    horizons = sorted({*map(int, horizon_days), quarter_days})
    at_risk: dict[int, float] = {}
    accounts = pd.DataFrame(index=predictions.index)
    for h in horizons:
        p = churn_by(predictions, h)
        accounts[f"{PROBABILITY}_{h}d"] = p
        accounts[f"{ARR_AT_RISK}_{h}d"] = p * arr_values
        at_risk[h] = float((p * arr_values).sum())
    p_quarter = accounts[f"{PROBABILITY}_{quarter_days}d"].to_numpy()
    lost = _simulate_losses(p_quarter, arr_values, simulations, seed)
    tail = (1 - interval) / 2
    if total > 0:
        grr = 1 - at_risk[quarter_days] / total
        low, high = 1 - np.quantile(lost, [1 - tail, tail]) / total
    else:
        grr, low, high = float("nan"), float("nan"), float("nan")
    return PortfolioForecast(
        arr=total,
        arr_at_risk={h: at_risk[h] for h in map(int, horizon_days)},
        grr=float(grr),
        grr_low=float(low),
        grr_high=float(high),
        interval=interval,
        accounts=accounts,
    )


def _simulate_losses(p: np.ndarray, arr: np.ndarray, simulations: int, seed: int) -> np.ndarray:
    """Lost ARR in each simulated quarter (accounts in chunks, so 10,000 x 10,000 draws stay small in memory)."""
    rng = np.random.default_rng(seed)
    lost = np.zeros(simulations)
    chunk = max(1, 2_000_000 // max(simulations, 1))
    for start in range(0, len(p), chunk):
        draws = rng.random((simulations, len(p[start : start + chunk]))) < p[start : start + chunk]
        lost += draws @ arr[start : start + chunk]
    return lost


def with_params(model: ChurnModel, **params: Any) -> ChurnModel:
    """An unfitted copy of `model` with some parameters changed (scikit-learn's clone + set_params)."""
    return ChurnModel(**{**model.get_params(), **params})


def score_partition(features: pd.DataFrame, model_json: str, top: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(predict_proba, drivers) of a serialised model on `features`: the unit of work of the scoring fan-out. The
    model travels as its JSON, and every row is scored on its own, so any partition of the accounts gives the
    same rows as the whole."""
    model = ChurnModel.from_json(model_json)
    return model.predict_proba(features), model.drivers(features, top=top)


__all__ = [
    "DEFAULT_HORIZONS",
    "HEALTH_SCORE",
    "NON_RENEWAL",
    "OBSERVED_AT",
    "PROBABILITY_RENEWAL",
    "BacktestReport",
    "ChurnModel",
    "PortfolioForecast",
    "backtest",
    "build_training_set",
    "churn_by",
    "churn_features",
    "churn_label",
    "portfolio_forecast",
    "probability_column",
    "renewals_within",
    "restrict",
    "score_partition",
]
