"""Usage forecast at scale: the vectorised pass + Prophet where it adds information, against a naive loop of
default Prophet fits, measured in the same run.

Builds 10,000 accounts x 730 days of daily active users synthetically and vectorised (weekday rhythm, noise,
growth or flat, a share of accounts declining in their last 1-4 months, some new accounts with short
histories). Timed: forecast_usage for all accounts (cold cache), the same again with the cache it returned
(warm), and default Prophet fits (uncertainty_samples=1000, fit + predict to renewal) over a sample.

    python benchmarks/forecast.py [--accounts 10000] [--days 730] [--naive 40] [--jobs 2] [--profile]

Targets: >= 10,000 accounts/min for the forecast stage, >= 5x the naive loop.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
import warnings

import numpy as np
import pandas as pd

from models.forecast import METHOD, PROPHET, TREND, VALUE, forecast_usage, prophet_model
from models.frames import ACCOUNT_ID, DAY

AS_OF = dt.date(2026, 11, 1)
WEEKDAY = np.array([1.0, 1.02, 1.03, 1.0, 0.9, 0.12, 0.07])


def synthetic_series(accounts: int, days: int, seed: int, declining: float) -> tuple[pd.DataFrame, pd.Series]:
    """Long (account_id, day, value) frame and days to renewal, vectorised over accounts and days."""
    rng = np.random.default_rng(seed)
    t = np.arange(days, dtype="float64")
    level = rng.lognormal(3.0, 1.0, accounts)[:, None]
    growth = rng.normal(0.0, 0.0004, accounts)[:, None]
    curve = level * np.exp(growth * t[None, :])
    fall = rng.random(accounts) < declining
    start = days - rng.integers(30, 120, accounts)
    depth = rng.uniform(0.2, 0.7, accounts)
    since = np.clip(t[None, :] - start[:, None], 0, None)
    shape = np.where(fall[:, None], np.maximum(1 - depth[:, None] * since / (days - start[:, None]), 0.05), 1.0)
    born = np.where(rng.random(accounts) < 0.1, rng.integers(days - 200, days - 20, accounts), 0)
    alive = t[None, :] >= born[:, None]
    noise = np.exp(rng.normal(0.0, 0.1, (accounts, days // 7 + 1)))[:, np.arange(days) // 7]
    day_index = pd.date_range(end=pd.Timestamp(AS_OF) - pd.Timedelta(days=1), periods=days, freq="D")
    mean = curve * shape * noise * WEEKDAY[day_index.day_of_week][None, :] * alive
    values = rng.poisson(mean)
    account_ids = np.array([f"acc-{i:05d}" for i in range(accounts)])
    rows, cols = np.nonzero(values)
    frame = pd.DataFrame(
        {
            ACCOUNT_ID: pd.Categorical.from_codes(rows, account_ids),
            DAY: day_index[cols],
            VALUE: values[rows, cols].astype("float64"),
        }
    )
    horizon = pd.Series(rng.integers(1, 366, accounts).astype("float64"), index=account_ids)
    return frame, horizon


def naive_loop(frame: pd.DataFrame, horizon: pd.Series, sample: int) -> tuple[float, int]:
    """Default Prophet per account (as a first implementation would): fit + predict to renewal."""
    logging.getLogger("cmdstanpy").disabled = True
    ids = horizon.index[:sample]
    subset = frame[frame[ACCOUNT_ID].isin(ids)]
    start = time.perf_counter()
    for account, rows in subset.groupby(ACCOUNT_ID, observed=True):
        model = prophet_model(len(rows), default=True)
        model.fit(pd.DataFrame({"ds": rows[DAY], "y": rows[VALUE]}))
        model.predict(model.make_future_dataframe(max(90, int(horizon[account]))))
    return time.perf_counter() - start, len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--declining", type=float, default=0.04, help="share of accounts in a recent decline")
    parser.add_argument("--naive", type=int, default=40, help="accounts in the naive default-Prophet loop")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="pyinstrument profile of the vectorised pass")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="prophet")

    started = time.perf_counter()
    frame, horizon = synthetic_series(args.accounts, args.days, args.seed, args.declining)
    print(
        f"data: {args.accounts:,} accounts x {args.days} days, {len(frame):,} rows "
        f"({time.perf_counter() - started:.1f} s)"
    )

    start = time.perf_counter()
    vectorised = forecast_usage(frame, AS_OF, horizon, use_prophet=False)
    t_vec = time.perf_counter() - start
    at_risk = int(vectorised.summary["at_risk"].sum())
    print(f"vectorised pass only:   {t_vec:6.2f} s  {args.accounts / t_vec * 60:>12,.0f} accounts/min")

    start = time.perf_counter()
    cold = forecast_usage(frame, AS_OF, horizon, n_jobs=args.jobs)
    t_cold = time.perf_counter() - start
    share = (cold.summary[METHOD] == PROPHET).mean()
    print(
        f"forecast stage (cold):  {t_cold:6.2f} s  {args.accounts / t_cold * 60:>12,.0f} accounts/min  "
        f"Prophet fits {cold.prophet_fits:,} ({share:.1%} of accounts; {at_risk:,} flagged by the pre-screen)"
    )
    start = time.perf_counter()
    warm = forecast_usage(frame, AS_OF, horizon, n_jobs=args.jobs, cache=cold.new_cache)
    t_warm = time.perf_counter() - start
    print(
        f"forecast stage (warm):  {t_warm:6.2f} s  {args.accounts / t_warm * 60:>12,.0f} accounts/min  "
        f"Prophet fits {warm.prophet_fits}"
    )

    t_naive, count = naive_loop(frame, horizon, args.naive)
    naive_rate = count / t_naive * 60
    print(f"naive default Prophet:  {t_naive:6.2f} s  {naive_rate:>12,.0f} accounts/min  ({count} accounts, 1 process)")
    print(f"speed-up (cold) vs naive: {args.accounts / t_cold * 60 / naive_rate:,.0f}x")

    truth = frame.groupby(ACCOUNT_ID, observed=True)[VALUE].sum()  # sanity: declines are forecast as declines
    declines = cold.summary[TREND] < -0.2
    print(f"accounts forecast to fall > 20% by renewal: {int(declines.sum()):,} of {len(truth):,}")

    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler()
        profiler.start()
        forecast_usage(frame, AS_OF, horizon, use_prophet=False)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
