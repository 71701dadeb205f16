"""The typed context of a monthly report or QBR, built from one account's plain data.

Pure: the shell loads `ReportData` (small frames and records for one account) and passes the period, the
audience and the dates in; nothing here reads the clock, the environment or a database.

The audience is enforced here, not in the template: a client context is a `ReportContext`, which has no field
for churn probability, ARR at risk, health reasons or internal notes; only `InternalReportContext` carries them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pandas as pd

KINDS = ("monthly", "qbr")
AUDIENCES = ("client", "internal")
FORMATS = ("html", "pdf")
HIGH_PRIORITIES = frozenset({"high", "urgent"})
NEXT_STEP_KINDS = frozenset({"qbr", "meeting"})
INTERNAL_NOTE_KINDS = frozenset({"note"})
BUSIEST = 5  # features listed as the busiest
FALLBACK_KEY_FEATURES = 5  # without declared key features for the plan: the account's most used features
MIN_USAGE_DAYS = 7  # fewer observed days in the chart window: no usage chart, a sentence instead
MIN_HEALTH_POINTS = 2
FORECAST_DAYS_SHOWN = 91  # the forecast band drawn up to a quarter after the last observed day
CONTEXT_MONTHS = {"month": 5, "quarter": 9}  # months of history shown before the period in the charts

# Frame columns ReportData holds.
DAY, EVENT, EVENTS, USER_ID, BUCKET = "day", "event", "events", "user_id", "bucket"
AS_OF, SCORE, BAND = "as_of", "score", "band"
OPENED_AT, CLOSED_AT, PRIORITY, CSAT = "opened_at", "closed_at", "priority", "csat"
RESPONDED_AT, AT, KIND, NOTES = "responded_at", "at", "kind", "notes"
START_DATE, END_DATE, ARR, SEATS, PLAN = "start_date", "end_date", "arr", "seats", "plan"
CURRENT, PREVIOUS = "current", "previous"  # user_usage buckets

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq](\d)$")


class ReportInputError(ValueError):
    """A period, kind, audience or format that cannot be used; the message names the field and the fix."""


# ------------------------------------------------------------------------------------------------ period


@dataclass(frozen=True)
class Period:
    """A calendar month (`2026-10`) or quarter (`2026-Q3`); `end` is exclusive (the first day after it)."""

    label: str
    granularity: Literal["month", "quarter"]
    start: dt.date
    end: dt.date

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def title(self) -> str:
        if self.granularity == "month":
            return f"{self.start:%B %Y}"
        return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year} ({self.start:%B} to {self.last_day:%B})"

    def previous(self) -> Period:
        """The period of the same length just before, for comparisons."""
        months = 1 if self.granularity == "month" else 3
        start = _add_months(self.start, -months)
        label = f"{start:%Y-%m}" if months == 1 else f"{start.year}-Q{(start.month - 1) // 3 + 1}"
        return Period(label, self.granularity, start, self.start)

    def chart_start(self) -> dt.date:
        """First day the charts show: some months before the period, so a trend is visible."""
        return _add_months(self.start, -CONTEXT_MONTHS[self.granularity])


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


FIRST_YEAR, LAST_YEAR = 1900, 9998  # a period of 9999 would end in year 10000, past what a date can hold


def _check_year(text: str, year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ReportInputError(f"period: {text!r} has year {year}; the year must be {FIRST_YEAR} to {LAST_YEAR}")


def parse_period(text: str) -> Period:
    """`2026-10` (a month) or `2026-Q3` (a quarter); anything else is a ReportInputError saying what is wrong."""
    value = (text or "").strip()
    if match := _MONTH.match(value):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ReportInputError(f"period: {text!r} has month {month}; the month must be 01 to 12")
        _check_year(text, year)
        start = dt.date(year, month, 1)
        return Period(f"{start:%Y-%m}", "month", start, _add_months(start, 1))
    if match := _QUARTER.match(value):
        year, quarter = int(match[1]), int(match[2])
        if not 1 <= quarter <= 4:
            raise ReportInputError(f"period: {text!r} has quarter Q{quarter}; the quarter must be Q1 to Q4")
        _check_year(text, year)
        start = dt.date(year, 3 * quarter - 2, 1)
        return Period(f"{year}-Q{quarter}", "quarter", start, _add_months(start, 3))
    raise ReportInputError(f"period: {text!r} is not a period; use a month like 2026-10 or a quarter like 2026-Q3")


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """`value` if it is one of `choices`, else a ReportInputError naming the field and the choices."""
    if value not in choices:
        raise ReportInputError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    return value


def check_kind(kind: str, period: Period) -> str:
    """A monthly report covers a month and a QBR a quarter; a mismatch says which period to use."""
    check_choice("kind", kind, KINDS)
    if kind == "monthly" and period.granularity != "month":
        raise ReportInputError(f"kind: a monthly report needs a month like 2026-10, not {period.label} (or use qbr)")
    if kind == "qbr" and period.granularity != "quarter":
        raise ReportInputError(f"kind: a QBR needs a quarter like 2026-Q3, not {period.label} (or use monthly)")
    return kind


def default_kind(period: Period) -> str:
    return "monthly" if period.granularity == "month" else "qbr"


# ------------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class AccountRecord:
    account_id: str
    name: str | None = None
    segment: str | None = None
    csm_email: str | None = None
    plan: str | None = None


@dataclass(frozen=True)
class HealthRecord:
    """The stored score the report calls "now": the newest as of the period's end."""

    as_of: dt.date
    score: float | None
    band: str
    trend_30d: float | None = None
    summary: str = ""
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ForecastRecord:
    as_of: dt.date
    days: tuple[dt.date, ...]
    expected: tuple[float | None, ...]
    lower: tuple[float | None, ...] = ()
    upper: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class ChurnRecord:
    as_of: dt.date
    probability_30d: float
    probability_90d: float
    probability_renewal: float
    renewal_date: dt.date | None
    arr: float
    arr_at_risk: float
    drivers: tuple[str, ...] = ()
    is_fallback: bool = False


@dataclass(frozen=True)
class TrainingRecord:
    title: str
    url: str | None
    features: tuple[str, ...]
    reason: str


def _frame(*columns: str) -> pd.DataFrame:
    return pd.DataFrame({column: [] for column in columns})


@dataclass
class ReportData:
    """One account's inputs, as the shell loads them for one period (small frames, one read per table).

    daily_usage: day, event, events from `period.chart_start()` to the period's end.
    user_usage: bucket (current | previous period), event, user_id, events (identified users only).
    health: as_of, score, band from the chart start to the period's end.
    tickets: opened_at, closed_at, priority, csat (those open at any time since the previous period began).
    nps: responded_at, score, since the previous period began. touchpoints: at, kind, notes, in the period.
    subscriptions: start_date, end_date, arr, seats, plan.
    """

    account: AccountRecord
    health_now: HealthRecord | None = None
    daily_usage: pd.DataFrame = field(default_factory=lambda: _frame(DAY, EVENT, EVENTS))
    user_usage: pd.DataFrame = field(default_factory=lambda: _frame(BUCKET, EVENT, USER_ID, EVENTS))
    health: pd.DataFrame = field(default_factory=lambda: _frame(AS_OF, SCORE, BAND))
    tickets: pd.DataFrame = field(default_factory=lambda: _frame(OPENED_AT, CLOSED_AT, PRIORITY, CSAT))
    nps: pd.DataFrame = field(default_factory=lambda: _frame(RESPONDED_AT, SCORE))
    touchpoints: pd.DataFrame = field(default_factory=lambda: _frame(AT, KIND, NOTES))
    subscriptions: pd.DataFrame = field(default_factory=lambda: _frame(START_DATE, END_DATE, ARR, SEATS, PLAN))
    trainings: tuple[TrainingRecord, ...] = ()
    key_features: tuple[str, ...] = ()  # the plan's declared key features; empty: the most used stand in
    forecast: ForecastRecord | None = None
    churn: ChurnRecord | None = None


# ------------------------------------------------------------------------------------------------ context


@dataclass(frozen=True)
class AccountSummary:
    account_id: str
    name: str
    segment: str | None
    csm_email: str | None
    plan: str | None


@dataclass(frozen=True)
class HealthPoint:
    as_of: dt.date
    score: float | None


@dataclass(frozen=True)
class HealthSection:
    score: float | None
    band: str
    as_of: dt.date | None
    change: float | None  # points since the last score before the period
    history: tuple[HealthPoint, ...]

    @property
    def score_text(self) -> str:
        """The score as every page shows it (whole points)."""
        return "n/a" if self.score is None else f"{self.score:.0f}"

    @property
    def enough_history(self) -> bool:
        return sum(point.score is not None for point in self.history) >= MIN_HEALTH_POINTS


@dataclass(frozen=True)
class ForecastBand:
    as_of: dt.date
    days: tuple[dt.date, ...]
    expected: tuple[float | None, ...]
    lower: tuple[float | None, ...]
    upper: tuple[float | None, ...]


@dataclass(frozen=True)
class UsageSection:
    days: tuple[dt.date, ...]  # the last day of each week
    events: tuple[float, ...]  # mean events per day of each week of the chart window
    forecast: ForecastBand | None
    observed_days: int  # days with any usage in the chart window

    @property
    def enough_data(self) -> bool:
        return self.observed_days >= MIN_USAGE_DAYS


@dataclass(frozen=True)
class FeatureUse:
    feature: str
    events: int
    previous_events: int
    users: int
    key: bool

    @property
    def change(self) -> float | None:
        return _change(self.events, self.previous_events)


@dataclass(frozen=True)
class AdoptionSection:
    declared: bool  # key features come from the plan (else the account's most used stand in)
    key_features: tuple[FeatureUse, ...]
    other_features: tuple[FeatureUse, ...]

    @property
    def key_used(self) -> int:
        return sum(feature.events > 0 for feature in self.key_features)


@dataclass(frozen=True)
class SeatSection:
    seats: int | None
    active_users: int

    @property
    def utilisation(self) -> float | None:
        return self.active_users / self.seats if self.seats else None


@dataclass(frozen=True)
class SupportSection:
    opened: int
    closed: int
    high_priority: int
    open_at_end: int
    previous_opened: int
    csat_average: float | None
    csat_responses: int
    median_resolution_hours: float | None


@dataclass(frozen=True)
class NpsSection:
    responses: int
    promoters: int
    passives: int
    detractors: int
    previous_responses: int
    previous_score: float | None

    @property
    def score(self) -> float | None:
        """Net promoter score: % promoters minus % detractors (-100 to 100)."""
        return _nps(self.promoters, self.detractors, self.responses)


@dataclass(frozen=True)
class ValueSection:
    events: int
    previous_events: int
    active_users: int
    previous_active_users: int
    active_days: int
    features_used: int
    previous_features_used: int
    busiest: tuple[FeatureUse, ...]

    @property
    def events_change(self) -> float | None:
        return _change(self.events, self.previous_events)

    @property
    def users_change(self) -> float | None:
        return _change(self.active_users, self.previous_active_users)


@dataclass(frozen=True)
class Training:
    title: str
    url: str | None
    features: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Touch:
    on: dt.date
    kind: str
    notes: str


@dataclass(frozen=True)
class Subscription:
    plan: str | None
    seats: int | None
    renewal_date: dt.date | None


@dataclass(frozen=True)
class RenewalOutlook:
    as_of: dt.date
    probability_30d: float
    probability_90d: float
    probability_renewal: float
    renewal_date: dt.date | None
    arr: float
    arr_at_risk: float
    drivers: tuple[str, ...]
    is_fallback: bool


@dataclass(frozen=True)
class ReportContext:
    """Everything a client may read about their own account for one period (no risk figures by construction)."""

    audience: ClassVar[str] = "client"

    kind: str
    period: Period
    previous: Period
    account: AccountSummary
    generated_on: dt.date
    data_until: dt.date  # the last day with data in the report (the period's last day, or earlier if running)
    health: HealthSection
    usage: UsageSection
    adoption: AdoptionSection
    seats: SeatSection
    support: SupportSection
    nps: NpsSection
    value: ValueSection
    subscription: Subscription
    trainings: tuple[Training, ...]
    next_steps: tuple[Touch, ...]
    notes: tuple[str, ...]  # what the report could not show for lack of data, in plain words

    @property
    def enough_data(self) -> bool:
        return self.value.events > 0 or self.health.score is not None

    @property
    def title(self) -> str:
        return "Quarterly business review" if self.kind == "qbr" else "Monthly report"


@dataclass(frozen=True)
class InternalReportContext(ReportContext):
    """The CSM's copy: the client's report plus the renewal outlook, the health reasons and internal notes."""

    audience: ClassVar[str] = "internal"

    outlook: RenewalOutlook | None  # None: no churn forecast yet
    health_summary: str
    health_reasons: tuple[str, ...]
    internal_notes: tuple[Touch, ...]


def build_context(
    data: ReportData,
    period: Period,
    *,
    kind: str,
    audience: str,
    generated_on: dt.date,
    data_until: dt.date | None = None,
) -> ReportContext:
    """The report context for `audience`: a `ReportContext` for the client, an `InternalReportContext` for the
    CSM. `data_until` is the last day with data (defaults to the period's last day)."""
    check_kind(kind, period)
    check_choice("audience", audience, AUDIENCES)
    until = min(data_until or period.last_day, period.last_day)
    previous = period.previous()
    account = data.account
    health = _health(data, period)
    usage = _usage(data, period, until)
    adoption, value = _features(data, _active_days(data.daily_usage, period))
    seats = SeatSection(seats=_seats(data.subscriptions, period), active_users=value.active_users)
    common: dict[str, Any] = {
        "kind": kind,
        "period": period,
        "previous": previous,
        "account": AccountSummary(
            account_id=account.account_id,
            name=account.name or account.account_id,
            segment=account.segment,
            csm_email=account.csm_email,
            plan=account.plan,
        ),
        "generated_on": generated_on,
        "data_until": until,
        "health": health,
        "usage": usage,
        "adoption": adoption,
        "seats": seats,
        "support": _support(data.tickets, period),
        "nps": _nps_section(data.nps, period),
        "value": value,
        "subscription": _subscription(data, period),
        "trainings": tuple(Training(t.title, t.url, tuple(t.features), t.reason) for t in data.trainings),
        "next_steps": _touches(data.touchpoints, period, NEXT_STEP_KINDS),
        "notes": _notes(health, usage, value, data, period),
    }
    if audience == "client":
        return ReportContext(**common)
    churn = data.churn
    return InternalReportContext(
        **common,
        outlook=None if churn is None else RenewalOutlook(**churn.__dict__),
        health_summary=data.health_now.summary if data.health_now else "",
        health_reasons=data.health_now.reasons if data.health_now else (),
        internal_notes=_touches(data.touchpoints, period, INTERNAL_NOTE_KINDS),
    )


# ------------------------------------------------------------------------------------------------ sections


def _change(now: float, before: float) -> float | None:
    return (now - before) / before if before else None


def _nps(promoters: int, detractors: int, responses: int) -> float | None:
    return 100.0 * (promoters - detractors) / responses if responses else None


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.date if len(values) else pd.Series([], dtype="object")


def _in(days: pd.Series, start: dt.date, end: dt.date) -> pd.Series:
    dates = _dates(days)
    return (dates >= start) & (dates < end)


def _health(data: ReportData, period: Period) -> HealthSection:
    frame = data.health.assign(_day=_dates(data.health[AS_OF])).sort_values("_day")
    frame = frame[frame["_day"] <= period.end]
    history = tuple(
        HealthPoint(day, None if _missing(score) else float(score))
        for day, score in zip(frame["_day"], frame[SCORE], strict=True)
    )
    now = data.health_now
    before = [point.score for point in history if point.as_of <= period.start and point.score is not None]
    score = now.score if now else None
    change = round(score - before[-1], 1) if score is not None and before else None
    return HealthSection(
        score=score,
        band=now.band if now else "unknown",
        as_of=now.as_of if now else None,
        change=change,
        history=history,
    )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _usage(data: ReportData, period: Period, until: dt.date) -> UsageSection:
    start = period.chart_start()
    usage = data.daily_usage
    days = pd.date_range(start, until, freq="D").date
    if len(usage):
        per_day = usage.assign(_day=_dates(usage[DAY])).groupby("_day")[EVENTS].sum()
        per_day = per_day[(per_day.index >= start) & (per_day.index <= until)]
    else:
        per_day = pd.Series(dtype="float64")
    series = per_day.reindex(days, fill_value=0).astype("float64")
    forecast = None
    if data.forecast is not None and data.forecast.days:
        last = until
        horizon = last + dt.timedelta(days=FORECAST_DAYS_SHOWN)
        keep = [i for i, day in enumerate(data.forecast.days) if last < day <= horizon]
        if keep:
            f = data.forecast

            def pick(values: Sequence[float | None]) -> tuple[float | None, ...]:
                return tuple(values[i] for i in keep) if len(values) == len(f.days) else ()

            forecast = ForecastBand(
                f.as_of, tuple(f.days[i] for i in keep), pick(f.expected), pick(f.lower), pick(f.upper)
            )
    # Weekly means of the daily counts (weeks ending on `until`), as the forecast's points are: readable, not spiky.
    values = series.to_numpy()
    whole = len(values) - len(values) % 7
    weekly = values[len(values) - whole :].reshape(-1, 7).mean(axis=1) if whole else values[:0]
    return UsageSection(
        days=tuple(days[len(values) - whole + 6 :: 7]),
        events=tuple(float(value) for value in weekly),
        forecast=forecast,
        observed_days=int((per_day > 0).sum()),
    )


def _features(data: ReportData, active_days: int) -> tuple[AdoptionSection, ValueSection]:
    """Per-feature events and users in the period and the one before; adoption against the key features."""
    users = data.user_usage
    current, previous = users[users[BUCKET] == CURRENT], users[users[BUCKET] == PREVIOUS]
    events_now = current.groupby(EVENT)[EVENTS].sum()
    events_before = previous.groupby(EVENT)[EVENTS].sum()
    users_now = current.groupby(EVENT)[USER_ID].nunique()
    names = sorted(set(events_now.index) | set(events_before.index) | set(data.key_features))
    declared = bool(data.key_features)
    if declared:
        keys = set(data.key_features)
    else:
        ranked = (events_now.add(events_before, fill_value=0)).sort_values(ascending=False, kind="stable")
        keys = set(ranked.index[:FALLBACK_KEY_FEATURES])
    uses = [
        FeatureUse(
            feature=str(name),
            events=int(events_now.get(name, 0)),
            previous_events=int(events_before.get(name, 0)),
            users=int(users_now.get(name, 0)),
            key=name in keys,
        )
        for name in names
    ]
    by_volume = sorted(uses, key=lambda use: (-use.events, use.feature))
    adoption = AdoptionSection(
        declared=declared,
        key_features=tuple(use for use in by_volume if use.key),
        other_features=tuple(use for use in by_volume if not use.key and (use.events or use.previous_events)),
    )
    active_now = int(current[USER_ID].nunique())
    value = ValueSection(
        events=int(events_now.sum()),
        previous_events=int(events_before.sum()),
        active_users=active_now,
        previous_active_users=int(previous[USER_ID].nunique()),
        active_days=active_days,
        features_used=int((events_now > 0).sum()),
        previous_features_used=int((events_before > 0).sum()),
        busiest=tuple(use for use in by_volume[:BUSIEST] if use.events > 0),
    )
    return adoption, value


def _active_days(usage: pd.DataFrame, period: Period) -> int:
    if not len(usage):
        return 0
    inside = usage[_in(usage[DAY], period.start, period.end) & (usage[EVENTS] > 0)]
    return int(_dates(inside[DAY]).nunique()) if len(inside) else 0


def _term(subscriptions: pd.DataFrame, period: Period) -> Mapping[str, Any] | None:
    """The term in force on the period's last day (else the latest that started before the period ended)."""
    if not len(subscriptions):
        return None
    terms = subscriptions.assign(_start=_dates(subscriptions[START_DATE]), _end=_dates(subscriptions[END_DATE]))
    terms = terms[terms["_start"] < period.end].sort_values(["_start", "_end"])
    if terms.empty:
        return None
    covering = terms[terms["_end"] >= period.last_day]
    return (covering if len(covering) else terms).iloc[-1].to_dict()


def _seats(subscriptions: pd.DataFrame, period: Period) -> int | None:
    term = _term(subscriptions, period)
    seats = term.get(SEATS) if term else None
    return None if _missing(seats) else int(seats)


def _subscription(data: ReportData, period: Period) -> Subscription:
    term = _term(data.subscriptions, period)
    if term is None:
        return Subscription(plan=data.account.plan, seats=None, renewal_date=None)
    plan = term.get(PLAN)
    return Subscription(
        plan=plan if isinstance(plan, str) and plan else data.account.plan,
        seats=_seats(data.subscriptions, period),
        renewal_date=term["_end"],
    )


def _support(tickets: pd.DataFrame, period: Period) -> SupportSection:
    opened_at = pd.to_datetime(tickets[OPENED_AT]) if len(tickets) else pd.Series([], dtype="datetime64[us]")
    closed_at = pd.to_datetime(tickets[CLOSED_AT]) if len(tickets) else pd.Series([], dtype="datetime64[us]")
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    prev_start = pd.Timestamp(period.previous().start)
    opened = (opened_at >= start) & (opened_at < end)
    closed = (closed_at >= start) & (closed_at < end)
    open_at_end = (opened_at < end) & (closed_at.isna() | (closed_at >= end))
    priority = tickets[PRIORITY].astype("string").str.lower() if len(tickets) else pd.Series([], dtype="string")
    csat = pd.to_numeric(tickets[CSAT], errors="coerce")[closed] if len(tickets) else pd.Series([], dtype="float")
    csat = csat.dropna()
    hours = ((closed_at - opened_at).dt.total_seconds() / 3600)[closed].dropna()
    return SupportSection(
        opened=int(opened.sum()),
        closed=int(closed.sum()),
        high_priority=int((opened & priority.isin(HIGH_PRIORITIES).fillna(False)).sum()),
        open_at_end=int(open_at_end.sum()),
        previous_opened=int(((opened_at >= prev_start) & (opened_at < start)).sum()),
        csat_average=float(csat.mean()) if len(csat) else None,
        csat_responses=len(csat),
        median_resolution_hours=float(hours.median()) if len(hours) else None,
    )


def _nps_section(nps: pd.DataFrame, period: Period) -> NpsSection:
    scores = pd.to_numeric(nps[SCORE], errors="coerce") if len(nps) else pd.Series([], dtype="float")
    now = scores[_in(nps[RESPONDED_AT], period.start, period.end)] if len(nps) else scores
    before = scores[_in(nps[RESPONDED_AT], period.previous().start, period.start)] if len(nps) else scores
    return NpsSection(
        responses=len(now),
        promoters=int((now >= 9).sum()),
        passives=int(((now >= 7) & (now <= 8)).sum()),
        detractors=int((now <= 6).sum()),
        previous_responses=len(before),
        previous_score=_nps(int((before >= 9).sum()), int((before <= 6).sum()), len(before)),
    )


def _touches(touchpoints: pd.DataFrame, period: Period, kinds: frozenset[str]) -> tuple[Touch, ...]:
    if not len(touchpoints):
        return ()
    frame = touchpoints[_in(touchpoints[AT], period.start, period.end)]
    frame = frame[frame[KIND].isin(kinds) & frame[NOTES].notna()].sort_values(AT)
    return tuple(
        Touch(on=pd.Timestamp(at).date(), kind=str(kind), notes=str(notes).strip())
        for at, kind, notes in zip(frame[AT], frame[KIND], frame[NOTES], strict=True)
        if str(notes).strip()
    )


def _notes(
    health: HealthSection, usage: UsageSection, value: ValueSection, data: ReportData, period: Period
) -> tuple[str, ...]:
    notes = []
    if value.events == 0:
        notes.append(f"Not enough data: no product usage was recorded in {period.title}.")
    if not usage.enough_data:
        notes.append(
            f"Not enough usage data to chart a trend (fewer than {MIN_USAGE_DAYS} active days since "
            f"{period.chart_start():%B %Y})."
        )
    if health.score is None:
        notes.append("Not enough data for a health score yet.")
    elif not health.enough_history:
        notes.append("Not enough health history to chart yet (fewer than two scored dates).")
    if not data.key_features and value.features_used == 0:
        notes.append("Not enough data to measure feature adoption.")
    return tuple(notes)
