"""Per-account health features as of a date, computed for every active account in one vectorised pass.

Strict as-of: only usage, tickets, NPS answers and touchpoints strictly before `as_of` count, and only the
subscription terms that have started by `as_of` (a term's status is ignored: a cancellation's decision date is
not in the data, so reading it would leak the future). Unknown stays NaN; counts of a table we have are 0.

Speed: the large frames (daily_usage, user_activity) are cut by time first with one numpy comparison, then
accounts are mapped to integer positions (through the categories when the column is categorical) and
aggregated with np.bincount / np.unique, never a Python loop over accounts.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from models.frames import (
    ACCOUNT_ID,
    ARR,
    AT,
    CHAMPION,
    CLOSED_AT,
    CREATED_AT,
    CSAT,
    DAY,
    DECISION_MAKER,
    END_DATE,
    EVENT,
    EVENTS,
    HIGH_PRIORITIES,
    MRR,
    OPENED_AT,
    PLAN,
    PRIORITY,
    RESPONDED_AT,
    ROLE,
    SCORE,
    SEATS,
    SEGMENT,
    START_DATE,
    USER_ID,
    PortfolioData,
)

# Feature columns (the names a scorecard may refer to).
ACTIVE_USERS_28D = "active_users_28d"
SEAT_UTILISATION = "seat_utilisation"
EVENTS_28D = "events_28d"
EVENTS_PER_ACTIVE_USER_28D = "events_per_active_user_28d"
FEATURE_BREADTH = "feature_breadth"
KEY_FEATURES_USED_30D = "key_features_used_30d"
KEY_FEATURES_TOTAL = "key_features_total"
USAGE_TREND = "usage_trend"
DAYS_SINCE_LAST_ACTIVITY = "days_since_last_activity"
ACTIVE_DAYS_28D = "active_days_28d"
TENURE_DAYS = "tenure_days"
MRR_CHANGE_90D = "mrr_change_90d"
DAYS_TO_RENEWAL = "days_to_renewal"
TERM_DAYS = "term_days"
TICKETS_OPEN = "tickets_open"
TICKETS_90D = "tickets_90d"
HIGH_PRIORITY_TICKETS_90D = "high_priority_tickets_90d"
CSAT_90D = "csat_90d"
NPS_LATEST = "nps_latest"
NPS_DAYS_AGO = "nps_days_ago"
TOUCHES_90D = "touches_90d"
CHAMPION_ACTIVE_30D = "champion_active_30d"
DECISION_MAKER_ACTIVE_30D = "decision_maker_active_30d"
RENEWAL_DATE = "renewal_date"

NUMERIC_FEATURES: tuple[str, ...] = (
    ACTIVE_USERS_28D,
    SEATS,
    SEAT_UTILISATION,
    EVENTS_28D,
    EVENTS_PER_ACTIVE_USER_28D,
    FEATURE_BREADTH,
    KEY_FEATURES_USED_30D,
    KEY_FEATURES_TOTAL,
    USAGE_TREND,
    DAYS_SINCE_LAST_ACTIVITY,
    ACTIVE_DAYS_28D,
    TENURE_DAYS,
    MRR,
    ARR,
    MRR_CHANGE_90D,
    DAYS_TO_RENEWAL,
    TERM_DAYS,
    TICKETS_OPEN,
    TICKETS_90D,
    HIGH_PRIORITY_TICKETS_90D,
    CSAT_90D,
    NPS_LATEST,
    NPS_DAYS_AGO,
    TOUCHES_90D,
    CHAMPION_ACTIVE_30D,
    DECISION_MAKER_ACTIVE_30D,
)
CONTEXT_COLUMNS: tuple[str, ...] = (SEGMENT, PLAN, RENEWAL_DATE)

RECENT_DAYS, BREADTH_DAYS, PRIOR_DAYS, SUPPORT_DAYS, COMMERCIAL_DAYS = 28, 30, 56, 90, 90
FALLBACK_KEY_FEATURES = 5  # plans without declared key features use the segment's most used features
_TREND_SMOOTHING = 1.0  # events added on both sides of the trend ratio, so an empty window is not log(0)
_DAY = np.timedelta64(1, "D")


def compute_features(
    data: PortfolioData,
    as_of: datetime.date,
    key_features: Mapping[str, Sequence[str]] | None = None,
) -> pd.DataFrame:
    """One row per account with a subscription term covering `as_of`, indexed by account_id.

    `key_features` maps plan -> the features that deliver its value (feature_breadth's denominator); a plan
    without an entry falls back to the 5 features most used in the account's segment over the last 30 days.
    Also returns segment, plan and renewal_date for the scorer, lifecycle and quadrant.
    """
    cut = np.datetime64(pd.Timestamp(as_of).normalize().to_datetime64(), "ns")
    out = _subscription_features(data.subscriptions, cut)
    index = out.index
    out = out.join(_account_context(data.accounts, index), how="left")
    if "_sub_plan" in out:  # the current term's plan wins over the account's
        out[PLAN] = out.pop("_sub_plan").fillna(out[PLAN])
    created = out.pop("_created")
    first_start = out.pop("_first_start")
    since = pd.concat([created, first_start], axis=1).min(axis=1)
    out[TENURE_DAYS] = (pd.Timestamp(cut) - since).dt.days.astype("float64")

    usage = _usage_features(data.daily_usage, index, cut, out[PLAN], out[SEGMENT], key_features)
    people = _people_features(data.user_activity, data.contacts, index, cut)
    out = out.join(usage).join(people)
    out[SEAT_UTILISATION] = out[ACTIVE_USERS_28D] / out[SEATS].where(out[SEATS] > 0)
    out[EVENTS_PER_ACTIVE_USER_28D] = out[EVENTS_28D] / out[ACTIVE_USERS_28D].where(out[ACTIVE_USERS_28D] > 0)
    # A partial prior window (new customer) would read as growth: the trend is unknown until 84 days of tenure.
    out.loc[out[TENURE_DAYS] < RECENT_DAYS + PRIOR_DAYS, USAGE_TREND] = np.nan
    # Never active since becoming a customer: silent for its whole tenure.
    out[DAYS_SINCE_LAST_ACTIVITY] = out[DAYS_SINCE_LAST_ACTIVITY].fillna(out[TENURE_DAYS])

    out = out.join(_ticket_features(data.tickets, index, cut))
    out = out.join(_nps_features(data.nps, index, cut))
    touch_times = _times(data.touchpoints[AT])
    touch_pos = _positions(data.touchpoints[ACCOUNT_ID], index)
    recent = (touch_times < cut) & (touch_times >= cut - SUPPORT_DAYS * _DAY) & (touch_pos >= 0)
    out[TOUCHES_90D] = np.bincount(touch_pos[recent], minlength=len(index)).astype("float64")
    return out[[*NUMERIC_FEATURES, *CONTEXT_COLUMNS]]


# ---------------------------------------------------------------------------------------------- helpers


def _times(values: pd.Series) -> np.ndarray:
    """A timestamp column as naive-UTC numpy datetime64 (its own unit, no copy when already naive)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    elif not pd.api.types.is_datetime64_dtype(values.dtype):
        values = pd.to_datetime(values, utc=True).dt.tz_localize(None)
    return values.to_numpy()


def _positions(ids: pd.Series, index: pd.Index) -> np.ndarray:
    """Position of each row's account in `index` (-1 when not there); categorical columns map only categories."""
    if isinstance(ids.dtype, pd.CategoricalDtype):
        lookup = index.get_indexer(ids.cat.categories.astype("str"))
        codes = ids.cat.codes.to_numpy()
        return np.where(codes >= 0, lookup[codes], -1)
    return index.get_indexer(ids.astype("str"))


def _codes(values: pd.Series, rows: np.ndarray | None = None) -> tuple[np.ndarray, pd.Index]:
    """(an integer code per value of the selected `rows`, a mask (default all); the text each code stands for).
    A categorical column gives its own codes and categories: integer work on tens of millions of rows, where
    factorising their text hashes every string, and one categories index whose hash table pandas builds once
    for every observation date's lookups. Codes may then number values absent from `rows`."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        return (codes if rows is None else codes[rows]), values.cat.categories
    text = values.astype("str").to_numpy()
    codes, uniques = pd.factorize(text if rows is None else text[rows])
    return codes, pd.Index(uniques)


def _sums(positions: np.ndarray, n: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.bincount(positions, weights=weights, minlength=n).astype("float64")


def _distinct_counts(positions: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """Number of distinct `keys` (non-negative ints) per account position."""
    width = int(keys.max(initial=0)) + 1
    pairs = pd.unique(positions.astype(np.int64) * width + keys)  # hashing, not np.unique's sort of every row
    return _sums(pairs // width, n)


def _days_between(later: np.datetime64, earlier: np.ndarray) -> np.ndarray:
    return np.floor((later - earlier) / _DAY)


# ---------------------------------------------------------------------------------------------- tables


def _subscription_features(subscriptions: pd.DataFrame, cut: np.datetime64) -> pd.DataFrame:
    """Commercial facts of the terms covering `as_of` (summed when several run side by side)."""
    subs = subscriptions.copy()
    subs[START_DATE] = _times(subs[START_DATE])
    subs[END_DATE] = _times(subs[END_DATE])
    subs = subs[subs[START_DATE] <= cut]
    subs[ACCOUNT_ID] = subs[ACCOUNT_ID].astype("str")
    mrr = pd.to_numeric(subs[MRR], errors="coerce")
    arr = pd.to_numeric(subs[ARR], errors="coerce") if ARR in subs else pd.Series(np.nan, index=subs.index)
    subs[MRR], subs[ARR] = mrr.fillna(arr / 12), arr.fillna(mrr * 12)
    subs[SEATS] = pd.to_numeric(subs[SEATS], errors="coerce") if SEATS in subs else np.nan

    covering = subs[subs[END_DATE] > cut].sort_values([ACCOUNT_ID, START_DATE])
    grouped = covering.groupby(ACCOUNT_ID, sort=True)
    out = grouped[[MRR, ARR]].sum(min_count=1)
    out[SEATS] = grouped[SEATS].sum(min_count=1)
    renewal = grouped[END_DATE].min()
    out[RENEWAL_DATE] = renewal
    out[DAYS_TO_RENEWAL] = (renewal - pd.Timestamp(cut)).dt.days.astype("float64")
    first_ending = covering.sort_values([ACCOUNT_ID, END_DATE]).groupby(ACCOUNT_ID).first()
    out[TERM_DAYS] = (first_ending[END_DATE] - first_ending[START_DATE]).dt.days.astype("float64")
    if PLAN in covering:
        out["_sub_plan"] = grouped[PLAN].last()
    out["_first_start"] = subs.groupby(ACCOUNT_ID)[START_DATE].min().reindex(out.index)

    then = cut - COMMERCIAL_DAYS * _DAY
    earlier = subs[(subs[START_DATE] <= then) & (subs[END_DATE] > then)]
    mrr_then = earlier.groupby(ACCOUNT_ID)[MRR].sum(min_count=1).reindex(out.index)
    out[MRR_CHANGE_90D] = (out[MRR] - mrr_then) / mrr_then.where(mrr_then > 0)
    out.index.name = ACCOUNT_ID
    return out


def _account_context(accounts: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    frame = accounts.assign(**{ACCOUNT_ID: accounts[ACCOUNT_ID].astype("str")}).drop_duplicates(ACCOUNT_ID)
    frame = frame.set_index(ACCOUNT_ID).reindex(index)
    return pd.DataFrame(
        {SEGMENT: frame[SEGMENT], PLAN: frame[PLAN], "_created": pd.Series(_times(frame[CREATED_AT]), index=index)},
        index=index,
    )


def _usage_features(
    daily_usage: pd.DataFrame,
    index: pd.Index,
    cut: np.datetime64,
    plan: pd.Series,
    segment: pd.Series,
    key_features: Mapping[str, Sequence[str]] | None,
) -> pd.DataFrame:
    """Volume, active days, trend, recency and key-feature breadth from the daily feature rollup."""
    n = len(index)
    day = _times(daily_usage[DAY])
    start = cut - (RECENT_DAYS + PRIOR_DAYS) * _DAY
    window = (day < cut) & (day >= start)
    rows = daily_usage[window]
    rows_day = day[window]
    pos = _positions(rows[ACCOUNT_ID], index)
    known = pos >= 0
    pos, rows_day, rows = pos[known], rows_day[known], rows[known]
    events = rows[EVENTS].to_numpy(dtype="float64")
    age = _days_between(cut, rows_day).astype(np.int64)  # 1 = yesterday
    recent = age <= RECENT_DAYS

    out = pd.DataFrame(index=index)
    out[EVENTS_28D] = _sums(pos[recent], n, events[recent])
    prior = _sums(pos[~recent], n, events[~recent])
    out[USAGE_TREND] = np.log(out[EVENTS_28D] + _TREND_SMOOTHING) - np.log(prior / 2 + _TREND_SMOOTHING)
    # Which days each account was active, as a small accounts x age matrix (ages run 1..84): its active days
    # and its youngest active day are then row sums and first marks (np.minimum.at cost several times more).
    active_days = np.zeros((n, RECENT_DAYS + PRIOR_DAYS + 1), dtype=bool)
    active_days[pos[events > 0], age[events > 0]] = True
    out[ACTIVE_DAYS_28D] = active_days[:, 1 : RECENT_DAYS + 1].sum(axis=1).astype("float64")
    last_age = np.where(active_days.any(axis=1), active_days.argmax(axis=1), np.inf)
    out[DAYS_SINCE_LAST_ACTIVITY] = np.where(np.isfinite(last_age), last_age, np.nan)
    stale = ~np.isfinite(last_age)
    if stale.any():
        # Only accounts silent for 84 days need older history; select their rows with isin (hashes the ids in
        # place) instead of mapping every old row to a position, which cost 5 s on 25M Arrow-string rows.
        older = (day < start) & daily_usage[ACCOUNT_ID].isin(index[stale]).to_numpy()
        older &= daily_usage[EVENTS].to_numpy(dtype="float64") > 0
        older_pos = _positions(daily_usage[ACCOUNT_ID][older], index)
        latest = pd.Series(day[older]).groupby(older_pos).max()
        out.iloc[latest.index.to_numpy(), out.columns.get_loc(DAYS_SINCE_LAST_ACTIVITY)] = _days_between(
            cut, latest.to_numpy()
        )

    breadth_rows = (age <= BREADTH_DAYS) & (events > 0)
    codes, names = _codes(rows[EVENT], breadth_rows)
    used = np.zeros((n, len(names)), dtype=bool)
    used[pos[breadth_rows], codes] = True
    keys = _key_matrix(names, plan, segment, key_features, used, events[breadth_rows], pos[breadth_rows], codes)
    out[KEY_FEATURES_TOTAL] = keys.sum(axis=1).astype("float64")
    out[KEY_FEATURES_USED_30D] = (used & keys).sum(axis=1).astype("float64")
    declared = _declared_totals(plan, key_features)
    out[KEY_FEATURES_TOTAL] = np.where(np.isnan(declared), out[KEY_FEATURES_TOTAL], declared)
    out[FEATURE_BREADTH] = out[KEY_FEATURES_USED_30D] / out[KEY_FEATURES_TOTAL].where(out[KEY_FEATURES_TOTAL] > 0)
    return out


def _declared_totals(plan: pd.Series, key_features: Mapping[str, Sequence[str]] | None) -> np.ndarray:
    """Number of declared key features of each account's plan (NaN when the plan declares none)."""
    sizes = {name: float(len(set(features))) for name, features in (key_features or {}).items() if features}
    return plan.map(sizes).to_numpy(dtype="float64", na_value=np.nan)


def _key_matrix(
    names: pd.Index,
    plan: pd.Series,
    segment: pd.Series,
    key_features: Mapping[str, Sequence[str]] | None,
    used: np.ndarray,
    events: np.ndarray,
    pos: np.ndarray,
    codes: np.ndarray,
) -> np.ndarray:
    """Accounts x used-feature-names: is this feature one of the account's key features?"""
    n = len(plan)
    declared = {p: frozenset(f) for p, f in (key_features or {}).items() if f}
    plans = pd.Index(sorted(declared))
    plan_keys = np.array([[name in declared[p] for name in names] for p in plans], dtype=bool).reshape(
        len(plans), len(names)
    )
    plan_pos = plans.get_indexer(plan.to_numpy())
    keys = np.zeros((n, len(names)), dtype=bool)
    has_plan = plan_pos >= 0
    keys[has_plan] = plan_keys[plan_pos[has_plan]]

    fallback = ~has_plan
    if fallback.any() and len(names):
        segments, seg_codes = np.unique(segment.fillna("").astype("str").to_numpy(), return_inverse=True)
        volume = np.zeros((len(segments), len(names)))
        np.add.at(volume, (seg_codes[pos], codes), events)
        # Rank by volume, ties by name, so the choice is deterministic.
        order = np.lexsort((np.broadcast_to(np.argsort(np.argsort(names.to_numpy())), volume.shape), -volume), axis=1)
        top = np.zeros_like(volume, dtype=bool)
        np.put_along_axis(top, order[:, :FALLBACK_KEY_FEATURES], True, axis=1)
        top &= volume > 0
        keys[fallback] = top[seg_codes[fallback]]
    return keys


def _people_features(
    user_activity: pd.DataFrame, contacts: pd.DataFrame, index: pd.Index, cut: np.datetime64
) -> pd.DataFrame:
    """Distinct active users in 28 days, and whether the champion / decision maker was active in 30."""
    n = len(index)
    day = _times(user_activity[DAY])
    window = (day < cut) & (day >= cut - max(RECENT_DAYS, BREADTH_DAYS) * _DAY)
    rows = user_activity[window]
    pos = _positions(rows[ACCOUNT_ID], index)
    active = (pos >= 0) & (rows[EVENTS].to_numpy(dtype="float64") > 0)
    age = _days_between(cut, day[window])
    codes, names = _codes(rows[USER_ID])
    out = pd.DataFrame(index=index)
    recent = active & (age <= RECENT_DAYS)
    out[ACTIVE_USERS_28D] = _distinct_counts(pos[recent], codes[recent], n)

    month = active & (age <= BREADTH_DAYS)
    seen = np.zeros(len(names), dtype=bool)
    seen[codes[month]] = True
    people_pos = index.get_indexer(contacts[ACCOUNT_ID].astype("str"))
    user_code = names.get_indexer(contacts[USER_ID].astype("str"))
    people_active = np.where(user_code >= 0, seen[np.maximum(user_code, 0)], False)
    for role, column in ((CHAMPION, CHAMPION_ACTIVE_30D), (DECISION_MAKER, DECISION_MAKER_ACTIVE_30D)):
        mask = (contacts[ROLE].astype("str").to_numpy() == role) & (people_pos >= 0)
        has = _sums(people_pos[mask], n) > 0
        any_active = _sums(people_pos[mask], n, people_active[mask].astype("float64")) > 0
        out[column] = np.where(has, any_active.astype("float64"), np.nan)
    return out


def _ticket_features(tickets: pd.DataFrame, index: pd.Index, cut: np.datetime64) -> pd.DataFrame:
    """Open tickets, ticket load and severity in 90 days, and the CSAT of tickets closed in 90 days."""
    n = len(index)
    opened, closed = _times(tickets[OPENED_AT]), _times(tickets[CLOSED_AT])
    pos = _positions(tickets[ACCOUNT_ID], index)
    known = (pos >= 0) & (opened < cut)
    since = cut - SUPPORT_DAYS * _DAY
    still_open = known & (np.isnat(closed) | (closed >= cut))
    recent = known & (opened >= since)
    high = recent & tickets[PRIORITY].astype("str").str.lower().isin(HIGH_PRIORITIES).to_numpy()
    csat = pd.to_numeric(tickets[CSAT], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    rated = known & ~np.isnat(closed) & (closed < cut) & (closed >= since) & ~np.isnan(csat)
    out = pd.DataFrame(index=index)
    out[TICKETS_OPEN] = _sums(pos[still_open], n)
    out[TICKETS_90D] = _sums(pos[recent], n)
    out[HIGH_PRIORITY_TICKETS_90D] = _sums(pos[high], n)
    count = _sums(pos[rated], n)
    out[CSAT_90D] = _sums(pos[rated], n, csat[rated]) / np.where(count > 0, count, np.nan)
    return out


def _nps_features(nps: pd.DataFrame, index: pd.Index, cut: np.datetime64) -> pd.DataFrame:
    """The latest NPS answer before `as_of` and its age in days (NaN when the account never answered)."""
    at = _times(nps[RESPONDED_AT])
    pos = _positions(nps[ACCOUNT_ID], index)
    keep = (pos >= 0) & (at < cut)
    score = pd.to_numeric(nps[SCORE], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)[keep]
    frame = pd.DataFrame({"pos": pos[keep], "at": at[keep], SCORE: score}).dropna(subset=[SCORE])
    latest = frame.sort_values(["pos", "at"], kind="stable").groupby("pos").last()
    out = pd.DataFrame(index=index, data={NPS_LATEST: np.nan, NPS_DAYS_AGO: np.nan})
    where = latest.index.to_numpy()
    out.iloc[where, 0] = latest[SCORE].to_numpy()
    out.iloc[where, 1] = _days_between(cut, latest["at"].to_numpy())
    return out
