"""Training suggestions from adoption gaps, and the measured effect of the trainings that were sent.

Suggestions, computed for every account at once on accounts x features and accounts x trainings matrices:
- a key feature of the account's plan not used in the last 30 days, or used by far fewer of its active users
  than its segment peers (users of the feature per active user < `peer_share` of the segment median), gets the
  training(s) teaching it: greedily the one covering the most under-used features, at the level that fits the
  account (intro when it uses few of its key features, core otherwise);
- many inactive seats (active users / seats < `inactive_seat_share`) get onboarding content (level intro);
- accounts in their first `new_account_days` get an onboarding path (intro trainings, then core).
A plan that declares no key features uses the `fallback_key_features` features most widely used by the healthy
(green) accounts of the segment. Trainings suggested within `repeat_window_days`, or sent (delivered) within
`sent_window_days`, are not suggested again.

Effect: for each training, the share of accounts sent it whose use of the taught features rose in the 30 days
after delivery against the 30 days before, next to the same share among similar accounts (same segment, flagged
by the same rule, so the same under-use at the time) that were suggested it but never sent it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from models.frames import ACCOUNT_ID, DAY, EVENT, EVENTS, PLAN, SEATS, SEGMENT, USERS

# Column names of the inputs (besides models.frames').
ACTIVE_USERS, TENURE_DAYS, BAND = "active_users", "tenure_days", "band"
TRAINING_ID, TITLE, FEATURES, URL, LEVEL, FORMAT = "training_id", "title", "features", "url", "level", "format"
AS_OF, STATUS, DELIVERED_AT = "as_of", "status", "delivered_at"
GREEN = "green"
INTRO, CORE, ADVANCED = "intro", "core", "advanced"
# Kinds of suggestion, in the order their reasons are listed.
FEATURE_GAP, INACTIVE_SEATS, ONBOARDING = "feature_gap", "inactive_seats", "onboarding"
# Priorities: 1 = act first.
URGENT, NORMAL, LATER = 1, 2, 3

_NO = -1.0  # score of a training that must not be picked


@dataclass(frozen=True)
class TrainingConfig:
    """Thresholds of the suggestion rules and of the effect measurement (all in days or shares)."""

    usage_days: int = 30
    repeat_window_days: int = 60
    sent_window_days: int = 90
    peer_share: float = 0.30
    min_peers: int = 3
    inactive_seat_share: float = 0.50
    low_adoption_share: float = 0.50
    new_account_days: int = 90
    onboarding_steps: int = 2
    max_gap_trainings: int = 2
    fallback_key_features: int = 5
    effect_days: int = 30
    min_rise: float = 0.10
    min_effect_count: int = 10


@dataclass(frozen=True)
class Suggestion:
    account_id: str
    training_id: str
    features: tuple[str, ...]
    reason: str
    priority: int
    kinds: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingEffect:
    """Difference in shares of accounts whose use of the taught features rose: sent vs similar accounts not sent."""

    training_id: str
    sent: int = 0
    sent_rose: int = 0
    similar: int = 0
    similar_rose: int = 0
    sent_share: float | None = None
    similar_share: float | None = None
    difference: float | None = None
    enough_data: bool = False
    summary: str = "not enough data"
    segments: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# ---------------------------------------------------------------------------------------------- suggestions


def suggest_trainings(
    usage: pd.DataFrame,
    accounts: pd.DataFrame,
    catalogue: pd.DataFrame,
    history: pd.DataFrame,
    as_of: dt.date,
    key_features: Mapping[str, Sequence[str]] | None = None,
    config: TrainingConfig | None = None,
) -> list[Suggestion]:
    """The trainings to suggest to each account as of `as_of`, each with its reason in plain words and numbers.

    - usage: account_id, event, events, users (distinct users of the feature) over the last `usage_days`
    - accounts: account_id, segment, plan, seats, active_users (over the same days), tenure_days, band
    - catalogue: training_id, title, features (list of event names), level (intro|core|advanced), ...
    - history: account_id, training_id, as_of (date suggested), delivered_at (None when not sent); rows of
      `as_of` itself are ignored (re-running a date replaces them). Pass at least `new_account_days` of it.
    """
    config = config or TrainingConfig()
    accounts = accounts.drop_duplicates(ACCOUNT_ID).reset_index(drop=True)
    index = pd.Index(accounts[ACCOUNT_ID].astype("str"))
    n = len(index)
    if n == 0 or catalogue.empty:
        return []
    trainings = pd.Index(catalogue[TRAINING_ID].astype("str"))
    taught = [list(features) for features in catalogue[FEATURES]]
    names = pd.Index(
        sorted(
            set(usage[EVENT].astype("str"))
            | {f for features in taught for f in features}
            | {f for features in (key_features or {}).values() for f in features}
        )
    )
    teaches = _membership(taught, names)  # trainings x features
    levels = catalogue[LEVEL].fillna(CORE).astype("str").to_numpy()

    pos = index.get_indexer(usage[ACCOUNT_ID].astype("str"))
    col = names.get_indexer(usage[EVENT].astype("str"))
    keep = pos >= 0
    events = np.zeros((n, len(names)))
    users = np.zeros((n, len(names)))
    np.add.at(events, (pos[keep], col[keep]), usage[EVENTS].to_numpy(dtype="float64")[keep])
    np.add.at(users, (pos[keep], col[keep]), usage[USERS].to_numpy(dtype="float64")[keep])

    active = pd.to_numeric(accounts[ACTIVE_USERS], errors="coerce").fillna(0).to_numpy(dtype="float64")
    seats = pd.to_numeric(accounts[SEATS], errors="coerce").to_numpy(dtype="float64")
    tenure = pd.to_numeric(accounts[TENURE_DAYS], errors="coerce").to_numpy(dtype="float64")
    segment = accounts[SEGMENT].fillna("").astype("str").to_numpy()
    plan = accounts[PLAN].fillna("").astype("str").to_numpy()
    segments, seg_code = np.unique(segment, return_inverse=True)
    green = (accounts[BAND] == GREEN).to_numpy() if BAND in accounts else np.zeros(n, dtype=bool)

    keys, declared = _key_matrix(names, plan, seg_code, len(segments), green, users, events, key_features, config)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(active[:, None] > 0, users / active[:, None], np.nan)  # users per active user
    median = _segment_medians(rate, keys & (active[:, None] > 0), seg_code, len(segments), config.min_peers)
    peer = median[seg_code]
    unused = keys & (events <= 0)
    under = keys & ~unused & (peer > 0) & (rate < config.peer_share * peer)
    key_count = keys.sum(axis=1)
    low = (key_count == 0) | ((keys & ~unused).sum(axis=1) < config.low_adoption_share * key_count)

    recent, ever = _history_matrices(history, index, trainings, as_of, config)
    fit = _level_fit(levels, low)  # accounts x trainings, 0..2
    picks: list[tuple[np.ndarray, np.ndarray, np.ndarray, str, np.ndarray]] = []

    # 1. Feature gaps: greedy cover, a few rounds each vectorised over every account.
    remaining = unused | under
    taken = np.zeros((n, len(trainings)), dtype=bool)
    every = np.arange(n)
    for _ in range(config.max_gap_trainings):
        cover = remaining.astype(np.int32) @ teaches.T.astype(np.int32)
        score = np.where(recent | taken | (cover == 0), _NO, cover * 10.0 + fit)
        best = score.argmax(axis=1)
        ok = score[every, best] > 0
        if not ok.any():
            break
        rows, chosen = every[ok], best[ok]
        covered = remaining[rows] & teaches[chosen]
        priority = np.where((covered & unused[rows]).any(axis=1), URGENT, NORMAL)
        picks.append((rows, chosen, covered, FEATURE_GAP, priority))
        remaining[rows] &= ~teaches[chosen]
        taken[rows, chosen] = True

    # 2. Many inactive seats: the intro training that teaches most of the account's key features.
    with np.errstate(divide="ignore", invalid="ignore"):
        inactive = (seats > 0) & (active / seats < config.inactive_seat_share)
    key_cover = keys.astype(np.int32) @ teaches.T.astype(np.int32)
    intro = levels == INTRO
    score = np.where(recent | ~intro[None, :], _NO, key_cover * 10.0 + teaches.sum(axis=1)[None, :] + 1)
    best = score.argmax(axis=1)
    ok = inactive & (score[every, best] > 0)
    rows = every[ok]
    picks.append(
        (rows, best[ok], np.zeros((len(rows), len(names)), dtype=bool), INACTIVE_SEATS, np.full(len(rows), NORMAL))
    )

    # 3. New accounts: an onboarding path, intro trainings then core ones, skipping steps already suggested.
    new = tenure < config.new_account_days
    rank = np.select([levels == INTRO, levels == CORE], [2000.0, 1000.0], _NO)
    useful = (key_cover > 0) | ((key_count == 0)[:, None] & (rank > 0)[None, :])
    order = -np.arange(len(trainings)) / (len(trainings) + 1.0)  # catalogue order breaks ties
    score = np.where(ever | ~useful | (rank[None, :] < 0), _NO, rank[None, :] + key_cover * 10.0 + order[None, :])
    steps = np.argsort(-score, axis=1, kind="stable")[:, : config.onboarding_steps]
    done = (ever & useful & (rank[None, :] > 0)).sum(axis=1)  # path steps already taken
    for step in range(steps.shape[1]):
        chosen = steps[:, step]
        ok = new & (score[every, chosen] > 0)
        rows = every[ok]
        picks.append(
            (rows, chosen[ok], np.zeros((len(rows), len(names)), dtype=bool), ONBOARDING, np.full(len(rows), step + 1))
        )

    context = _Context(
        index=index, names=names, trainings=trainings, segments=segment, plans=plan, events=events, users=users,
        active=active, seats=seats, tenure=tenure, peer=peer, unused=unused, declared=declared, done=done,
        steps=config.onboarding_steps, days=config.usage_days, new_days=config.new_account_days,
    )  # fmt: skip
    return _build(picks, context, levels)


@dataclass
class _Context:
    """What the reason sentences quote, kept as arrays so a sentence costs a few indexing operations."""

    index: pd.Index
    names: pd.Index
    trainings: pd.Index
    segments: np.ndarray
    plans: np.ndarray
    events: np.ndarray
    users: np.ndarray
    active: np.ndarray
    seats: np.ndarray
    tenure: np.ndarray
    peer: np.ndarray
    unused: np.ndarray
    declared: np.ndarray
    done: np.ndarray
    steps: int
    days: int
    new_days: int


def _build(
    picks: list[tuple[np.ndarray, np.ndarray, np.ndarray, str, np.ndarray]], ctx: _Context, levels: np.ndarray
) -> list[Suggestion]:
    """One Suggestion per (account, training): reasons of every rule that picked it joined, the most urgent wins."""
    merged: dict[tuple[int, int], tuple[list[str], set[str], int, list[str]]] = {}
    for rows, chosen, covered, kind, priority in picks:
        for row, training, mask, urgency in zip(
            rows.tolist(), chosen.tolist(), covered, priority.tolist(), strict=True
        ):
            reasons, features, best, kinds = merged.setdefault((row, training), ([], set(), LATER + 1, []))
            if kind == FEATURE_GAP:
                columns = np.flatnonzero(mask)
                reasons.extend(_gap_reason(ctx, row, int(column)) for column in columns)
                features.update(ctx.names[columns])
            elif kind == INACTIVE_SEATS:
                reasons.append(
                    f"{ctx.active[row]:.0f} of {ctx.seats[row]:.0f} seats active in the last {ctx.days} days "
                    f"({ctx.active[row] / ctx.seats[row]:.0%}): onboarding for the inactive users"
                )
            else:
                reasons.append(
                    f"new customer (day {ctx.tenure[row]:.0f} of {ctx.new_days}): onboarding path, "
                    f"step {int(ctx.done[row]) + urgency} ({levels[training]})"
                )
            kinds.append(kind)
            merged[(row, training)] = (reasons, features, min(best, urgency), kinds)
    suggestions = [
        Suggestion(
            account_id=str(ctx.index[row]),
            training_id=str(ctx.trainings[training]),
            features=tuple(sorted(features)),
            reason="; ".join(reasons),
            priority=priority,
            kinds=tuple(dict.fromkeys(kinds)),
        )
        for (row, training), (reasons, features, priority, kinds) in merged.items()
    ]
    return sorted(suggestions, key=lambda item: (item.account_id, item.priority, item.training_id))


def _gap_reason(ctx: _Context, row: int, column: int) -> str:
    feature, days = ctx.names[column], ctx.days
    if ctx.unused[row, column]:
        why = (
            f"a key feature of the {ctx.plans[row]} plan"
            if ctx.declared[row]
            else f"one of the most used by healthy {ctx.segments[row] or 'unsegmented'} accounts"
        )
        return f"{feature} not used in the last {days} days ({why})"
    active = ctx.active[row]
    return (
        f"{feature} used by {ctx.users[row, column]:.0f} of {active:.0f} active users in the last {days} days; "
        f"peers in {ctx.segments[row] or 'the same segment'}: {ctx.peer[row, column] * active:.0f} per {active:.0f}"
    )


def _membership(lists: Sequence[Sequence[str]], names: pd.Index) -> np.ndarray:
    """Rows x names: does row i's list hold the name?"""
    matrix = np.zeros((len(lists), len(names)), dtype=bool)
    rows = np.repeat(np.arange(len(lists)), [len(items) for items in lists])
    columns = names.get_indexer([item for items in lists for item in items])
    matrix[rows[columns >= 0], columns[columns >= 0]] = True
    return matrix


def _key_matrix(
    names: pd.Index,
    plan: np.ndarray,
    seg_code: np.ndarray,
    n_segments: int,
    green: np.ndarray,
    users: np.ndarray,
    events: np.ndarray,
    key_features: Mapping[str, Sequence[str]] | None,
    config: TrainingConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Accounts x features: the account's key features, and whether its plan declares them (else segment peers')."""
    declared_plans = {name: list(features) for name, features in (key_features or {}).items() if features}
    plans = pd.Index(sorted(declared_plans))
    plan_keys = _membership([declared_plans[name] for name in plans], names)
    plan_pos = plans.get_indexer(plan)
    declared = plan_pos >= 0
    keys = np.zeros(users.shape, dtype=bool)
    keys[declared] = plan_keys[plan_pos[declared]]
    if (~declared).any() and len(names):
        # Most widely used by the segment's green accounts (all of its accounts when none is green); ties by
        # volume, then by name, so the choice is deterministic.
        peers = np.where(np.bincount(seg_code, weights=green, minlength=n_segments)[seg_code] > 0, green, True)
        adopters = np.zeros((n_segments, len(names)))
        volume = np.zeros((n_segments, len(names)))
        np.add.at(adopters, seg_code[peers], events[peers] > 0)
        np.add.at(volume, seg_code[peers], events[peers])
        order = np.lexsort((np.broadcast_to(np.arange(len(names)), adopters.shape), -volume, -adopters), axis=1)
        top = np.zeros_like(adopters, dtype=bool)
        np.put_along_axis(top, order[:, : config.fallback_key_features], True, axis=1)
        top &= adopters > 0
        keys[~declared] = top[seg_code[~declared]]
    return keys, declared


def _segment_medians(
    rate: np.ndarray, eligible: np.ndarray, seg_code: np.ndarray, n_segments: int, min_peers: int
) -> np.ndarray:
    """Segments x features: median rate over the segment's eligible accounts (NaN below `min_peers`)."""
    medians = np.full((n_segments, rate.shape[1]), np.nan)
    for code in range(n_segments):  # a handful of segments, each a vectorised median over its accounts
        rows = seg_code == code
        values = np.where(eligible[rows], rate[rows], np.nan)
        counts = eligible[rows].sum(axis=0)
        enough = counts >= max(min_peers, 1)
        if enough.any():
            medians[code, enough] = np.nanmedian(values[:, enough], axis=0)
    return medians


def _history_matrices(
    history: pd.DataFrame, index: pd.Index, trainings: pd.Index, as_of: dt.date, config: TrainingConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Accounts x trainings: blocked by the repeat window or a recent delivery; ever suggested or sent before."""
    recent = np.zeros((len(index), len(trainings)), dtype=bool)
    ever = np.zeros_like(recent)
    if history.empty:
        return recent, ever
    day = pd.Timestamp(as_of)
    suggested = pd.to_datetime(history[AS_OF]).dt.normalize()
    delivered = (
        pd.to_datetime(history[DELIVERED_AT]) if DELIVERED_AT in history else pd.Series(pd.NaT, index=history.index)
    )
    before = (suggested < day).to_numpy()
    within = (suggested >= day - pd.Timedelta(days=config.repeat_window_days)).to_numpy() & before
    # A suggestion of `as_of` itself never blocks, even once sent: re-running the date must give the same answer.
    sent = (
        delivered.notna().to_numpy()
        & (delivered >= day - pd.Timedelta(days=config.sent_window_days)).to_numpy()
        & before
    )
    rows = index.get_indexer(history[ACCOUNT_ID].astype("str"))
    columns = trainings.get_indexer(history[TRAINING_ID].astype("str"))
    known = (rows >= 0) & (columns >= 0)
    recent[rows[known & (within | sent)], columns[known & (within | sent)]] = True
    ever[rows[known & (before | sent)], columns[known & (before | sent)]] = True
    return recent, ever


def _level_fit(levels: np.ndarray, low: np.ndarray) -> np.ndarray:
    """Accounts x trainings: 2 for the fitting level (intro when adoption is low, core otherwise), 1 or 0 else."""
    for_low = np.select([levels == INTRO, levels == CORE], [2.0, 1.0], 0.0)
    for_others = np.select([levels == CORE, levels == INTRO], [2.0, 1.0], 1.0)
    return np.where(low[:, None], for_low[None, :], for_others[None, :])


def suggestions_frame(suggestions: Sequence[Suggestion]) -> pd.DataFrame:
    """The suggestions as a frame (one row each), for callers that prefer one."""
    columns = [ACCOUNT_ID, TRAINING_ID, FEATURES, "reason", "priority", "kinds"]
    return pd.DataFrame([item.to_dict() for item in suggestions], columns=columns)


# ---------------------------------------------------------------------------------------------- effect


def training_effects(
    suggestions: pd.DataFrame,
    daily_usage: pd.DataFrame,
    accounts: pd.DataFrame,
    catalogue: pd.DataFrame,
    as_of: dt.date,
    config: TrainingConfig | None = None,
) -> list[TrainingEffect]:
    """Per training: did the taught features' use rise more often where the training was sent than where not?

    - suggestions: account_id, training_id, as_of, delivered_at (None when never sent)
    - daily_usage: account_id, day, event, users (distinct users that day); the measure is user-days of the
      taught features (per seat: it cancels in the before/after comparison of one account)
    - accounts: account_id, segment; catalogue: training_id, features
    An account is "sent" a training at its first delivery at least `effect_days` before `as_of`; "similar" when it
    was suggested the training (flagged by the same rule) at least `effect_days` before `as_of` and never sent it,
    dated at its first suggestion. Use rose = the 30 days after beat the 30 days before by more than `min_rise`.
    The similar accounts' share is weighted to the sent accounts' segment mix, over the segments both have.
    """
    config = config or TrainingConfig()
    window = pd.Timedelta(days=config.effect_days)
    last = pd.Timestamp(as_of) - window
    frame = suggestions.assign(
        **{
            ACCOUNT_ID: suggestions[ACCOUNT_ID].astype("str"),
            TRAINING_ID: suggestions[TRAINING_ID].astype("str"),
            AS_OF: pd.to_datetime(suggestions[AS_OF]).dt.normalize(),
            DELIVERED_AT: pd.to_datetime(suggestions[DELIVERED_AT]).dt.normalize(),
        }
    )
    first_sent = frame.groupby([ACCOUNT_ID, TRAINING_ID])[DELIVERED_AT].min()
    sent = first_sent[first_sent <= last].rename("reference").reset_index().assign(treated=True)
    ever_sent = first_sent[first_sent.notna()].index
    candidates = frame[~frame.set_index([ACCOUNT_ID, TRAINING_ID]).index.isin(ever_sent)]
    first_suggested = candidates.groupby([ACCOUNT_ID, TRAINING_ID])[AS_OF].min()
    similar = first_suggested[first_suggested <= last].rename("reference").reset_index().assign(treated=False)
    units = pd.concat([sent, similar], ignore_index=True)
    segments = accounts.assign(**{ACCOUNT_ID: accounts[ACCOUNT_ID].astype("str")}).drop_duplicates(ACCOUNT_ID)
    units[SEGMENT] = units[ACCOUNT_ID].map(segments.set_index(ACCOUNT_ID)[SEGMENT]).fillna("").astype("str")
    units["rose"] = _rose(units, daily_usage, catalogue, window, config.min_rise)
    return [
        _effect(training, units[units[TRAINING_ID] == training], config)
        for training in catalogue[TRAINING_ID].astype("str")
    ]


def _rose(
    units: pd.DataFrame, daily_usage: pd.DataFrame, catalogue: pd.DataFrame, window: pd.Timedelta, min_rise: float
) -> np.ndarray:
    """Per unit (account, training, reference day): user-days of the taught features after vs before."""
    if units.empty:
        return np.zeros(0, dtype=bool)
    taught = catalogue.assign(**{TRAINING_ID: catalogue[TRAINING_ID].astype("str")})[[TRAINING_ID, FEATURES]]
    pairs = units.reset_index(names="unit").merge(taught, on=TRAINING_ID).explode(FEATURES)
    pairs = pairs.rename(columns={FEATURES: EVENT})[["unit", ACCOUNT_ID, EVENT, "reference"]]
    usage = daily_usage.assign(
        **{ACCOUNT_ID: daily_usage[ACCOUNT_ID].astype("str"), EVENT: daily_usage[EVENT].astype("str")}
    )
    rows = pairs.merge(usage[[ACCOUNT_ID, EVENT, DAY, USERS]], on=[ACCOUNT_ID, EVENT])
    offset = pd.to_datetime(rows[DAY]) - rows["reference"]
    after = (offset >= pd.Timedelta(0)) & (offset < window)
    before = (offset < pd.Timedelta(0)) & (offset >= -window)
    amount = rows[USERS].astype("float64")
    size = len(units)
    after_sum = np.bincount(rows["unit"][after], weights=amount[after], minlength=size)
    before_sum = np.bincount(rows["unit"][before], weights=amount[before], minlength=size)
    return after_sum > before_sum * (1 + min_rise)


def _effect(training: str, units: pd.DataFrame, config: TrainingConfig) -> TrainingEffect:
    counts = units.groupby([SEGMENT, "treated"])["rose"].agg(["size", "sum"]).unstack("treated", fill_value=0)
    if True not in counts.columns.get_level_values(1) or False not in counts.columns.get_level_values(1):
        sent = int(units["treated"].sum())
        return TrainingEffect(
            training, sent=sent, similar=len(units) - sent, summary=_not_enough(sent, len(units) - sent, config)
        )
    both = counts[(counts[("size", True)] > 0) & (counts[("size", False)] > 0)]
    sent, sent_rose = int(both[("size", True)].sum()), int(both[("sum", True)].sum())
    similar, similar_rose = int(both[("size", False)].sum()), int(both[("sum", False)].sum())
    if min(sent, similar) < config.min_effect_count:
        return TrainingEffect(
            training, sent=sent, sent_rose=sent_rose, similar=similar, similar_rose=similar_rose,
            summary=_not_enough(sent, similar, config), segments=tuple(both.index),
        )  # fmt: skip
    sent_share = sent_rose / sent
    weights = both[("size", True)] / sent
    similar_share = float((weights * both[("sum", False)] / both[("size", False)]).sum())
    difference = sent_share - similar_share
    summary = (
        f"use of the taught features rose for {sent_rose} of {sent} accounts sent it ({sent_share:.0%}) against "
        f"{similar_rose} of {similar} similar accounts not sent it ({similar_share:.0%} weighted to the same "
        f"segments): {difference * 100:+.0f} points"
    )
    return TrainingEffect(
        training, sent=sent, sent_rose=sent_rose, similar=similar, similar_rose=similar_rose,
        sent_share=round(sent_share, 4), similar_share=round(similar_share, 4), difference=round(difference, 4),
        enough_data=True, summary=summary, segments=tuple(both.index),
    )  # fmt: skip


def _not_enough(sent: int, similar: int, config: TrainingConfig) -> str:
    return (
        f"not enough data: {sent} accounts sent it and {similar} similar accounts not sent it "
        f"(at least {config.min_effect_count} of each are needed)"
    )
