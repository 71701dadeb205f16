"""Deterministic synthetic SaaS customer portfolio for the demo, the tests and the benchmarks.

Every random draw comes from one numpy Generator seeded with `seed`; nothing reads the clock or the
environment, so the same (accounts, months, seed, end) always gives identical frames.

Conventions of the frames (write_portfolio renders them to the import contract):
- timestamp columns are UTC datetimes, date columns (start_date, end_date, decline_start, churn_date) are
  naive midnight datetimes; missing values are NaT / <NA>.
- a subscription term is half-open: it covers [start_date, end_date), end_date is the renewal date and the
  next term starts on it. A churned account's churn_date is the end_date of its last (cancelled) term, and
  it has no activity from that date on.
- activity is simulated for the days in [end - months, end); `end` itself is the as-of date.
- the event frame stores account_id, user_id and event as categoricals to keep 10,000-account portfolios
  in memory.
"""

from __future__ import annotations

import datetime
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# Column names of the import contract.
ACCOUNT_ID, USER_ID, NAME, EMAIL = "account_id", "user_id", "name", "email"
SEGMENT, INDUSTRY, CSM_EMAIL, CREATED_AT, TAGS, PLAN = (
    "segment",
    "industry",
    "csm_email",
    "created_at",
    "tags",
    "plan",
)
ROLE = "role"
SUBSCRIPTION_ID, START_DATE, END_DATE, MRR, SEATS, STATUS = (
    "subscription_id",
    "start_date",
    "end_date",
    "mrr",
    "seats",
    "status",
)
EVENT, TIMESTAMP, QUANTITY, MESSAGE_ID = "event", "timestamp", "quantity", "message_id"
TICKET_ID, OPENED_AT, CLOSED_AT, PRIORITY, CSAT = "ticket_id", "opened_at", "closed_at", "priority", "csat"
RESPONDED_AT, SCORE, COMMENT = "responded_at", "score", "comment"
AT, KIND, NOTES = "at", "kind", "notes"
TRAINING_ID, TITLE, FEATURES, URL, LEVEL, FORMAT = (
    "training_id",
    "title",
    "features",
    "url",
    "level",
    "format",
)
TRAJECTORY, DECLINE_START, CHURN_DATE = "trajectory", "decline_start", "churn_date"

COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": (ACCOUNT_ID, NAME, SEGMENT, INDUSTRY, CSM_EMAIL, CREATED_AT, TAGS, PLAN),
    "users": (USER_ID, ACCOUNT_ID, EMAIL, NAME, ROLE, CREATED_AT),
    "subscriptions": (SUBSCRIPTION_ID, ACCOUNT_ID, START_DATE, END_DATE, MRR, PLAN, SEATS, STATUS),
    "events": (ACCOUNT_ID, EVENT, TIMESTAMP, USER_ID, QUANTITY, MESSAGE_ID),
    "tickets": (TICKET_ID, ACCOUNT_ID, OPENED_AT, CLOSED_AT, PRIORITY, CSAT),
    "nps": (ACCOUNT_ID, RESPONDED_AT, SCORE, USER_ID, COMMENT),
    "touchpoints": (ACCOUNT_ID, AT, KIND, CSM_EMAIL, NOTES),
    "trainings": (TRAINING_ID, TITLE, FEATURES, URL, LEVEL, FORMAT),
    "ground_truth": (ACCOUNT_ID, TRAJECTORY, DECLINE_START, CHURN_DATE, SEGMENT),
}
# The importable kinds in the order their foreign keys need them.
IMPORT_ORDER = ("accounts", "users", "subscriptions", "trainings", "events", "tickets", "nps", "touchpoints")

SEGMENTS = ("smb", "mid_market", "enterprise")
PLANS = ("starter", "growth", "enterprise")
ROLES = ("champion", "decision_maker", "admin", "user")
CHAMPION, DECISION_MAKER, ADMIN, MEMBER = range(4)
TRAJECTORIES = (
    "healthy",
    "expanding",
    "slow_fade",
    "sudden_drop",
    "champion_leaves",
    "seat_contraction",
    "budget_cut",
)
DECLINING = frozenset(TRAJECTORIES[2:])

# Features: (name, probability of use on an active day once adopted, extra actions per use).
_FEATURE_TABLE = (
    ("login", 1.0, 0.3),
    ("dashboard_viewed", 0.75, 2.5),
    ("report_exported", 0.3, 0.6),
    ("comment_added", 0.45, 2.0),
    ("file_uploaded", 0.3, 1.2),
    ("meeting_scheduled", 0.25, 0.5),
    ("invoice_sent", 0.25, 1.5),
    ("workflow_run", 0.4, 3.0),
    ("integration_synced", 0.5, 4.0),
    ("api_call", 0.35, 25.0),
    ("automation_created", 0.08, 0.2),
    ("audit_log_viewed", 0.1, 0.5),
)
FEATURE_NAMES = tuple(name for name, _, _ in _FEATURE_TABLE)
_FEATURE_POP = np.array([pop for _, pop, _ in _FEATURE_TABLE])
_FEATURE_QTY = np.array([qty for _, _, qty in _FEATURE_TABLE])
_LOGIN = 0

KEY_FEATURES: dict[str, tuple[str, ...]] = {
    "starter": ("dashboard_viewed", "comment_added", "file_uploaded", "meeting_scheduled"),
    "growth": ("dashboard_viewed", "report_exported", "workflow_run", "invoice_sent", "integration_synced"),
    "enterprise": (
        "dashboard_viewed",
        "report_exported",
        "workflow_run",
        "integration_synced",
        "api_call",
        "audit_log_viewed",
    ),
}
# Features a plan gives access to (key features plus the general ones).
_PLAN_FEATURES: dict[str, frozenset[str]] = {
    "starter": frozenset(KEY_FEATURES["starter"]) | {"login", "report_exported", "invoice_sent"},
    "growth": frozenset(KEY_FEATURES["growth"])
    | {"login", "comment_added", "file_uploaded", "meeting_scheduled", "automation_created"},
    "enterprise": frozenset(FEATURE_NAMES),
}

CSM_EMAILS = (
    "maria.gonzalez@cs-health.example",
    "james.okafor@cs-health.example",
    "sofia.rossi@cs-health.example",
    "daniel.kim@cs-health.example",
    "emma.larsen@cs-health.example",
)
# CSM books: senior CSMs own the large accounts, the others the long tail.
_CSM_WEIGHTS = {
    "smb": (0.05, 0.05, 0.2, 0.35, 0.35),
    "mid_market": (0.2, 0.2, 0.3, 0.15, 0.15),
    "enterprise": (0.4, 0.4, 0.2, 0.0, 0.0),
}
_SEGMENT_SHARE = (0.6, 0.3, 0.1)
_SEATS = {"smb": (6.0, 0.45, 3, 15), "mid_market": (28.0, 0.4, 15, 60), "enterprise": (110.0, 0.5, 60, 300)}
_PLAN_MIX = {"smb": (0.6, 0.35, 0.05), "mid_market": (0.15, 0.6, 0.25), "enterprise": (0.0, 0.3, 0.7)}
_PRICE = {"starter": 29.0, "growth": 59.0, "enterprise": 99.0}  # list price per seat per month
_DISCOUNT = {"smb": (0.9, 1.05), "mid_market": (0.75, 1.0), "enterprise": (0.6, 0.9)}
_TERMS = (1, 6, 12)
_TERM_MIX = {"smb": (0.7, 0.1, 0.2), "mid_market": (0.1, 0.3, 0.6), "enterprise": (0.0, 0.1, 0.9)}
_TRAJECTORY_MIX = (0.47, 0.23, 0.08, 0.05, 0.06, 0.05, 0.06)
_HEALTHY_CHURN_PER_YEAR = {"healthy": 0.03, "expanding": 0.015}
_RESCUE = 0.2  # share of fading accounts a CSM saves
_CONTRACTION_CHURN = 0.6  # share of seat-contraction accounts that churn at the renewal after the cut
_EXISTING_SHARE = 0.75  # accounts that are already customers when the window opens
_REGIONS = ("eu", "us", "apac")
_REGION_MIX = (0.45, 0.4, 0.15)
_REGION_UTC_OFFSET_H = {"eu": 1, "us": -5, "apac": 8}
_HOLIDAYS = ((1, 1), (5, 1), (12, 24), (12, 25), (12, 26), (12, 31))
_WEEKDAY_FACTOR = np.array([1.0, 1.02, 1.03, 1.0, 0.9, 0.12, 0.07])  # Monday first
_TICKETS_PER_MONTH = {"smb": 0.35, "mid_market": 0.9, "enterprise": 2.2}
_TOUCHES_PER_MONTH = {"smb": 0.3, "mid_market": 1.1, "enterprise": 2.8}

INDUSTRIES = (
    "Software",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Financial Services",
    "Logistics",
    "Education",
    "Media",
    "Professional Services",
    "Energy",
)
_NAME_PREFIXES = [
    "Northwind",
    "Aurora",
    "Beacon",
    "Bluepeak",
    "Brightwave",
    "Cedar",
    "Clearwater",
    "Cobalt",
    "Driftwood",
    "Ember",
    "Evergreen",
    "Falcon",
    "Foxglove",
    "Granite",
    "Harbor",
    "Ironbridge",
    "Juniper",
    "Kestrel",
    "Lighthouse",
    "Lumen",
    "Maple",
    "Meridian",
    "Nimbus",
    "Oakridge",
    "Orchard",
    "Pinnacle",
    "Polaris",
    "Quarry",
    "Quill",
    "Redwood",
    "Riverbend",
    "Sable",
    "Silverline",
    "Sterling",
    "Summit",
    "Tidewater",
    "Trident",
    "Vantage",
    "Willow",
    "Zenith",
    "Alder",
    "Basalt",
    "Copperleaf",
    "Dunmore",
    "Fairhaven",
    "Glacier",
    "Highmark",
    "Larkspur",
    "Marlowe",
    "Northgate",
]
_NAME_CORES = [
    "Analytics",
    "Logistics",
    "Health",
    "Robotics",
    "Foods",
    "Media",
    "Labs",
    "Systems",
    "Energy",
    "Capital",
    "Studios",
    "Dynamics",
    "Works",
    "Networks",
    "Partners",
    "Software",
    "Retail",
    "Freight",
    "Bio",
    "Learning",
    "Insurance",
    "Legal",
    "Outdoor",
    "Apparel",
    "Mobility",
]
_LEGAL_FORMS = ("", " Inc.", " Ltd", " GmbH", " LLC", " SAS", " BV", " AB", " Group")
_NON_ASCII_NAMES = (
    "Müller & Söhne GmbH",
    "Café Lumière SAS",
    "Åkerlund Bygg AB",
    "Łódź Data Works",
    "São Paulo Logística Ltda",
)
_EMOJI_NAME = "Rocket 🚀 Labs"
_FIRST_NAMES = [
    "Anna",
    "Ben",
    "Carla",
    "David",
    "Elena",
    "Felix",
    "Grace",
    "Hugo",
    "Isabel",
    "Jonas",
    "Kara",
    "Liam",
    "Maya",
    "Noah",
    "Olivia",
    "Paul",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Will",
    "Xenia",
    "Yusuf",
    "Zoë",
    "José",
    "Björn",
    "Chloé",
    "Łukasz",
    "Søren",
    "Aiko",
    "Chen",
    "Priya",
    "Tomás",
    "Ines",
    "Amir",
    "Fatima",
    "Kenji",
    "Lucía",
]
_LAST_NAMES = [
    "Smith",
    "Johnson",
    "García",
    "Müller",
    "Nguyen",
    "Okafor",
    "Kowalski",
    "Rossi",
    "Dubois",
    "Jensen",
    "Tanaka",
    "Patel",
    "Silva",
    "Novak",
    "Andersson",
    "Murphy",
    "Cohen",
    "Yilmaz",
    "Schmidt",
    "Fernández",
    "Brown",
    "Wilson",
    "Khan",
    "Larsen",
    "Moreau",
    "Bauer",
    "Costa",
    "Ivanova",
    "Walsh",
    "Nakamura",
]

_TRAININGS = (
    ("tr-01", "Getting started: your first dashboard", ("dashboard_viewed", "login"), "intro", "video"),
    ("tr-02", "Reports that answer questions", ("report_exported", "dashboard_viewed"), "core", "doc"),
    ("tr-03", "Working together: comments and files", ("comment_added", "file_uploaded"), "intro", "doc"),
    ("tr-04", "Scheduling meetings from the app", ("meeting_scheduled",), "intro", "video"),
    ("tr-05", "Invoicing end to end", ("invoice_sent",), "core", "course"),
    ("tr-06", "Workflows 101", ("workflow_run", "automation_created"), "core", "webinar"),
    ("tr-07", "Advanced automation patterns", ("automation_created", "workflow_run"), "advanced", "course"),
    ("tr-08", "Connecting your CRM and ERP", ("integration_synced",), "core", "webinar"),
    ("tr-09", "API quickstart", ("api_call",), "advanced", "doc"),
    ("tr-10", "Security and audit logs for admins", ("audit_log_viewed",), "advanced", "video"),
    (
        "tr-11",
        "Admin onboarding path",
        ("login", "dashboard_viewed", "integration_synced"),
        "intro",
        "course",
    ),
    ("tr-12", "Executive reporting for QBRs", ("report_exported", "dashboard_viewed"), "advanced", "webinar"),
)

_NPS_COMMENTS = {
    "promoter": (
        "Great product, the team loves it.",
        "Support is fast and helpful.",
        "Saves us hours every week.",
        "The dashboards are exactly what we needed.",
    ),
    "passive": (
        "Works well, a few rough edges.",
        "Good value, reporting could be more flexible.",
        "Solid tool, onboarding took a while.",
    ),
    "detractor": (
        "Too expensive for what we use.",
        "Hard to get the team to adopt it.",
        "Integrations keep breaking.",
        "We are evaluating alternatives.",
        "Support takes too long to answer.",
    ),
}
_TOUCH_NOTES = {
    "call": ("Check-in call with the champion.", "Call about open tickets.", "Quick call on adoption."),
    "meeting": ("Roadmap meeting with the team.", "Working session on workflows.", "Stakeholder meeting."),
    "email": ("Sent best-practice guide.", "Shared release notes.", "Followed up on last call."),
    "demo": ("Demo of the new reporting features.", "Demo of integrations for a new team."),
    "training": ("Training session for new users.", "Admin training on setup."),
    "qbr": ("Quarterly business review with the decision maker.", "QBR: reviewed value and goals."),
    "note": ("Champion mentioned budget review.", "Usage looks steady.", "Internal note: follow up."),
}
# Touchpoint kind mix by context: base, onboarding, renewal window, trouble.
_TOUCH_KINDS = ("call", "meeting", "email", "demo", "training", "qbr", "note")
_TOUCH_MIX = np.array(
    [
        [0.25, 0.15, 0.35, 0.05, 0.05, 0.0, 0.15],
        [0.2, 0.2, 0.1, 0.25, 0.25, 0.0, 0.0],
        [0.25, 0.25, 0.15, 0.0, 0.0, 0.35, 0.0],
        [0.4, 0.25, 0.2, 0.0, 0.0, 0.0, 0.15],
    ]
)
_PRIORITIES = ("low", "normal", "high", "urgent")
_PRIORITY_MIX = np.array([[0.3, 0.5, 0.15, 0.05], [0.15, 0.45, 0.28, 0.12]])  # calm, trouble
_RESOLUTION_HOURS = np.array([72.0, 36.0, 12.0, 4.0])
_CSAT_MIX = np.array([[0.03, 0.05, 0.12, 0.35, 0.45], [0.2, 0.25, 0.25, 0.2, 0.1]])  # calm, trouble

_DAY = np.timedelta64(1, "D")
_SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Portfolio:
    """A whole synthetic customer base, one frame per import kind plus the hidden ground truth."""

    accounts: pd.DataFrame
    users: pd.DataFrame
    subscriptions: pd.DataFrame
    events: pd.DataFrame
    tickets: pd.DataFrame
    nps: pd.DataFrame
    touchpoints: pd.DataFrame
    trainings: pd.DataFrame
    ground_truth: pd.DataFrame


class _Profile(NamedTuple):
    """Static traits of one account (the fields are also the keys of the profile columns)."""

    account_id: str
    name: str
    segment: str
    industry: str
    csm_email: str
    created: np.datetime64  # signup day = first term's start_date
    created_second: int
    tags: str
    plan: str
    region: str
    term: int  # months per subscription term
    seats: int  # seats of the first term
    price: float  # MRR per seat after discount
    trajectory: str  # as drawn; _Life may demote it to healthy
    level: float  # account-wide activity multiplier


@dataclass(frozen=True)
class _Calendar:
    """The simulated days [start, end) and how busy a typical day is."""

    start: np.datetime64
    end: np.datetime64
    day_factor: np.ndarray  # activity multiplier per day: weekday rhythm, holidays, summer

    @property
    def days(self) -> int:
        return int((self.end - self.start) / _DAY)

    def index(self, date: np.datetime64) -> int:
        """Day index of `date`, clipped to [0, days]."""
        return int(np.clip((date - self.start) / _DAY, 0, self.days))


@dataclass(frozen=True)
class _Life:
    """An account's contract history and the story behind it."""

    trajectory: str
    starts: np.ndarray  # term start dates, datetime64[D]
    ends: np.ndarray  # term end (renewal) dates
    seats: np.ndarray
    mrr: np.ndarray
    churn: np.datetime64  # NaT unless churned by `end`
    decline_start: np.datetime64  # NaT without a behavioural decline
    target: np.datetime64  # the renewal the decline leads to (NaT if none)
    rescued: bool
    neglected: bool  # the CSM does not react to the decline


@dataclass(frozen=True)
class _Roster:
    """The account's users, with when they are present and how they behave."""

    role: np.ndarray
    join: np.ndarray  # day index (may be negative: joined before the window)
    leave: np.ndarray  # first day index without activity
    activity: np.ndarray  # probability of being active on a normal weekday
    intensity: np.ndarray  # multiplier of actions per feature use
    features: np.ndarray  # users x features probability of using a feature on an active day


def generate_portfolio(*, accounts: int = 300, months: int = 24, seed: int = 0, end: datetime.date) -> Portfolio:
    """Simulate `accounts` customers over the `months` months before `end`, reproducibly from `seed`.

    Realistic enough for a CSM demo and for the health score and churn model to learn from: segments,
    renewals of varied term length, weekday rhythm, adoption breadth, and declines that precede churn.
    Subscription end_date is exclusive (the renewal date, when the next term starts); activity covers
    the days [end - months, end). Pure: no clock, environment or I/O.
    """
    if accounts < 1 or months < 1:
        raise ValueError("accounts and months must be at least 1")
    rng = np.random.default_rng(seed)
    cal = _calendar(end, months)
    columns = _draw_profiles(rng, accounts, cal)
    profiles = [_Profile(*row) for row in zip(*(columns[f] for f in _Profile._fields), strict=True)]
    lives = [_draw_life(rng, profile, cal) for profile in profiles]
    rosters = [_draw_roster(rng, profile, life, cal) for profile, life in zip(profiles, lives, strict=True)]

    events: list[dict[str, np.ndarray]] = []
    tickets: list[dict[str, np.ndarray]] = []
    nps: list[dict[str, np.ndarray]] = []
    touches: list[dict[str, np.ndarray]] = []
    user_offset = 0
    for i, (profile, life, roster) in enumerate(zip(profiles, lives, rosters, strict=True)):
        events.append(_simulate_events(rng, i, user_offset, profile, life, roster, cal))
        trouble = _trouble_days(life, cal)
        tickets.append(_simulate_tickets(rng, i, profile, life, trouble, cal))
        nps.append(_simulate_nps(rng, i, user_offset, profile, life, roster, trouble, cal))
        touches.append(_simulate_touchpoints(rng, i, profile, life, trouble, cal))
        user_offset += len(roster.role)

    users = _users_frame(rng, profiles, rosters, cal)
    account_ids, user_ids = columns[ACCOUNT_ID], users[USER_ID].to_numpy()
    return Portfolio(
        accounts=_accounts_frame(columns),
        users=users,
        subscriptions=_subscriptions_frame(columns, lives),
        events=_events_frame(events, account_ids, user_ids, cal, seed),
        tickets=_tickets_frame(tickets, account_ids, cal),
        nps=_nps_frame(rng, nps, account_ids, user_ids, cal),
        touchpoints=_touchpoints_frame(rng, touches, account_ids, columns[CSM_EMAIL], cal),
        trainings=_trainings_frame(),
        ground_truth=_ground_truth_frame(columns, lives),
    )


def write_portfolio(portfolio: Portfolio, directory: Path) -> dict[str, Path]:
    """Writes events as `events.parquet` and every other kind as `<kind>.csv` (accounts.csv, users.csv,
    subscriptions.csv, tickets.csv, nps.csv, touchpoints.csv, trainings.csv) plus `ground_truth.csv`;
    returns {kind: path} for the 8 importable kinds in dependency order: accounts, users, subscriptions,
    trainings, events, tickets, nps, touchpoints (ground truth not in the dict).

    Timestamps are written as ISO 8601 UTC strings (`2025-03-04T09:15:00Z`) and dates as `YYYY-MM-DD`,
    in the Parquet file too, so every format reads the same way.
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for kind in IMPORT_ORDER:
        if kind == "events":
            paths[kind] = directory / "events.parquet"
            _write_events(portfolio.events, paths[kind])
        else:
            paths[kind] = directory / f"{kind}.csv"
            _write_csv(getattr(portfolio, kind), paths[kind])
    _write_csv(portfolio.ground_truth, directory / "ground_truth.csv")
    return paths


# ---------------------------------------------------------------------------------------------- calendar


def _calendar(end: datetime.date, months: int) -> _Calendar:
    """Days of the window with a weekday rhythm, fixed public holidays and a summer lull."""
    start = (pd.Timestamp(end) - pd.DateOffset(months=months)).to_datetime64().astype("datetime64[D]")
    stop = np.datetime64(end, "D")
    days = np.arange(start, stop, _DAY)
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    factor = _WEEKDAY_FACTOR[weekday].copy()
    for hm, hd in _HOLIDAYS:
        factor[(month == hm) & (dom == hd)] = 0.1
    factor[month == 8] *= 0.85
    factor[(month == 12) & (dom >= 20)] *= 0.7
    return _Calendar(start=start, end=stop, day_factor=factor)


def _add_months(date: np.datetime64, months: np.ndarray) -> np.ndarray:
    """`date` plus each number of months; anchor days never exceed 28, so no clipping is needed."""
    month = date.astype("datetime64[M]")
    day = date - month.astype("datetime64[D]")
    return (month + months).astype("datetime64[D]") + day


# ---------------------------------------------------------------------------------------------- profiles


def _draw_profiles(rng: np.random.Generator, n: int, cal: _Calendar) -> dict[str, np.ndarray]:
    """Static traits of every account, drawn vectorised, keyed by _Profile field."""
    segment = rng.choice(len(SEGMENTS), size=n, p=_SEGMENT_SHARE)
    plan = np.empty(n, dtype=np.int64)
    term = np.empty(n, dtype=np.int64)
    seats = np.empty(n, dtype=np.int64)
    discount = np.empty(n)
    csm = np.empty(n, dtype=np.int64)
    for s, name in enumerate(SEGMENTS):
        mask = segment == s
        k = int(mask.sum())
        plan[mask] = rng.choice(len(PLANS), size=k, p=_PLAN_MIX[name])
        term[mask] = rng.choice(_TERMS, size=k, p=_TERM_MIX[name])
        median, sigma, low, high = _SEATS[name]
        seats[mask] = np.clip(np.round(median * rng.lognormal(0.0, sigma, k)), low, high)
        discount[mask] = rng.uniform(*_DISCOUNT[name], size=k)
        csm[mask] = rng.choice(len(CSM_EMAILS), size=k, p=_CSM_WEIGHTS[name])

    window = cal.days
    existing = rng.random(n) < _EXISTING_SHARE
    offset = np.where(
        existing,
        -rng.integers(1, 3 * 365, size=n),
        rng.integers(0, max(window - 30, 1), size=n),
    )
    created = cal.start + offset * _DAY
    day_of_month = (created - created.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    created = created - np.maximum(day_of_month - 28, 0) * _DAY  # renewals on day <= 28 every month

    region = rng.choice(len(_REGIONS), size=n, p=_REGION_MIX)
    ids = np.array([f"acc-{i + 1:04d}" for i in range(n)])
    return {
        ACCOUNT_ID: ids,
        NAME: _company_names(rng, n),
        SEGMENT: np.array(SEGMENTS)[segment],
        INDUSTRY: rng.choice(INDUSTRIES, size=n),
        CSM_EMAIL: np.array(CSM_EMAILS)[csm],
        "created": created,
        "created_second": rng.integers(8 * 3600, 18 * 3600, size=n),
        TAGS: _tags(rng, np.array(SEGMENTS)[segment], np.array(_REGIONS)[region]),
        PLAN: np.array(PLANS)[plan],
        "region": np.array(_REGIONS)[region],
        "term": term,
        SEATS: seats,
        "price": np.array([_PRICE[p] for p in PLANS])[plan] * discount,
        TRAJECTORY: rng.choice(TRAJECTORIES, size=n, p=_TRAJECTORY_MIX),
        "level": rng.lognormal(0.0, 0.25, size=n),
    }


def _company_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique, plausible company names, a few with non-ASCII letters and one with an emoji."""
    size = len(_NAME_PREFIXES) * len(_NAME_CORES) * len(_LEGAL_FORMS)
    picks = rng.permutation(size)[: min(n, size)]
    names = []
    for i in range(n):
        k = int(picks[i % size])
        prefix, rest = divmod(k, len(_NAME_CORES) * len(_LEGAL_FORMS))
        core, legal = divmod(rest, len(_LEGAL_FORMS))
        name = f"{_NAME_PREFIXES[prefix]} {_NAME_CORES[core]}{_LEGAL_FORMS[legal]}"
        names.append(name if i < size else f"{name} {i // size + 1}")
    specials = (_EMOJI_NAME, *_NON_ASCII_NAMES)[:n]
    for position, special in zip(rng.choice(n, size=len(specials), replace=False), specials, strict=True):
        names[position] = special
    return np.array(names, dtype=object)


def _tags(rng: np.random.Generator, segment: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Free tags: the region always, `strategic` for many large accounts, a few others."""
    n = len(segment)
    strategic = rng.random(n) < np.select([segment == "enterprise", segment == "mid_market"], [0.5, 0.1], 0.0)
    reference = rng.random(n) < 0.05
    partner = rng.random(n) < 0.04
    tags = []
    for i in range(n):
        parts = ["strategic"] if strategic[i] else []
        parts.append(str(region[i]))
        parts += ["reference"] * bool(reference[i]) + ["partner"] * bool(partner[i])
        tags.append(";".join(parts))
    return np.array(tags, dtype=object)


# ---------------------------------------------------------------------------------------------- contracts


def _draw_life(rng: np.random.Generator, profile: _Profile, cal: _Calendar) -> _Life:
    """The subscription chain and trajectory of one account: when it declines, renews, shrinks or churns."""
    created: np.datetime64 = profile.created
    term = int(profile.term)
    horizon = (cal.end + 400 * _DAY - created) / _DAY
    count = int(horizon // (28 * term)) + 2
    boundaries = _add_months(created, np.arange(count + 1) * term)
    starts, ends = boundaries[:-1], boundaries[1:]
    covering = int(np.argmax(ends > cal.end))  # first term still running at `end`

    trajectory = str(profile.trajectory)
    target_term, lead = _decline_target(rng, trajectory, ends, created, cal)
    if trajectory in DECLINING and target_term < 0:
        trajectory = "healthy"
    rescued = trajectory in DECLINING - {"budget_cut", "seat_contraction"} and rng.random() < _RESCUE
    neglected = trajectory in DECLINING and rng.random() < 0.3

    churn_term = -1
    if trajectory in {"slow_fade", "sudden_drop", "champion_leaves", "budget_cut"} and not rescued:
        churn_term = target_term
    elif trajectory == "seat_contraction" and rng.random() < _CONTRACTION_CHURN:
        churn_term = target_term + 1
    elif trajectory in _HEALTHY_CHURN_PER_YEAR:
        hazard = 1 - (1 - _HEALTHY_CHURN_PER_YEAR[trajectory]) ** (term / 12)
        churns = (rng.random(len(ends)) < hazard) & (ends > cal.start) & (ends <= cal.end)
        churn_term = int(np.argmax(churns)) if churns.any() else -1

    churned = churn_term >= 0 and ends[churn_term] <= cal.end
    last = churn_term if churned else covering
    seats, mrr = _term_values(rng, profile, trajectory, target_term, rescued, starts, cal)
    target = ends[target_term] if target_term >= 0 else np.datetime64("NaT", "D")
    decline = target - lead * _DAY if trajectory in DECLINING - {"budget_cut"} else np.datetime64("NaT", "D")
    return _Life(
        trajectory=trajectory,
        starts=starts[: last + 1],
        ends=ends[: last + 1],
        seats=seats[: last + 1],
        mrr=mrr[: last + 1],
        churn=ends[last] if churned else np.datetime64("NaT", "D"),
        decline_start=decline,
        target=target,
        rescued=bool(rescued),
        neglected=bool(neglected),
    )


def _decline_target(
    rng: np.random.Generator, trajectory: str, ends: np.ndarray, created: np.datetime64, cal: _Calendar
) -> tuple[int, int]:
    """Pick the renewal a decline leads to and how many days (45-180) before it the decline starts.

    The decline must start inside the window, after onboarding and with 60 quiet days before it, so a
    model (and the tests) can see the change; the renewal may lie up to 120 days after `end`.
    Returns (-1, 0) when no renewal qualifies.
    """
    if trajectory not in DECLINING:
        return -1, 0
    base = max(cal.start, created)
    days_after_base = (ends - base) / _DAY
    days_after_end = (ends - cal.end) / _DAY
    if trajectory == "budget_cut":  # no warning, so only a renewal already decided counts
        ok = (days_after_base >= 60) & (days_after_end <= 0)
        return (int(rng.choice(np.flatnonzero(ok))), 0) if ok.any() else (-1, 0)
    low = np.maximum(45, days_after_end + 15)
    high = np.minimum(180, days_after_base - 60)
    ok = (days_after_base >= 135) & (days_after_end <= 120) & (low <= high)
    if not ok.any():
        return -1, 0
    term = int(rng.choice(np.flatnonzero(ok)))
    return term, int(rng.integers(low[term], high[term] + 1))


def _term_values(
    rng: np.random.Generator,
    profile: _Profile,
    trajectory: str,
    target_term: int,
    rescued: bool,
    starts: np.ndarray,
    cal: _Calendar,
) -> tuple[np.ndarray, np.ndarray]:
    """Seats and MRR of each term: growth for expanding accounts, cuts for contracting or rescued ones."""
    term = int(profile.term)
    seats = np.empty(len(starts), dtype=np.int64)
    price = np.empty(len(starts))
    current, unit = int(profile.seats), float(profile.price)
    recent = starts >= cal.start - 180 * _DAY  # growth history only where it matters
    for k in range(len(starts)):
        yearly = rng.random() < term / 12  # about one commercial review a year
        if k > 0 and recent[k]:
            if trajectory == "expanding" and rng.random() < min(1.0, term / 6):
                current = int(np.ceil(current * rng.uniform(1.1, 1.3)))
            elif trajectory == "healthy" and yearly and rng.random() < 0.25:
                current += max(1, round(current * rng.uniform(0.05, 0.15)))
            if yearly and trajectory in {"healthy", "expanding"}:
                unit *= 1 + rng.uniform(0.0, 0.05)
        if k == target_term + 1 and k > 0:
            if trajectory == "seat_contraction":
                current = max(2, min(current - 1, round(current * rng.uniform(0.45, 0.7))))
            elif rescued:
                current = max(2, round(current * rng.uniform(0.8, 1.0)))
                unit *= 0.9
        seats[k], price[k] = current, unit
    return seats, np.round(seats * price, 2)


# ---------------------------------------------------------------------------------------------- users


def _draw_roster(rng: np.random.Generator, profile: _Profile, life: _Life, cal: _Calendar) -> _Roster:
    """Users present over time: initial team, joiners as seats grow, leavers in a contraction."""
    first, last = _live_range(profile, life, cal)
    created = int((profile.created - cal.start) / _DAY)  # negative before the window
    seats_at_start = int(life.seats[int(np.searchsorted(life.starts, max(cal.start, profile.created), "right")) - 1])
    util = rng.uniform(0.88, 0.98) if life.trajectory == "expanding" else rng.uniform(0.65, 0.9)
    initial = max(2, round(util * seats_at_start))

    joins = [np.full(initial, created)]
    if profile.created > cal.start:  # a new account invites its team over the first weeks
        joins[0][2:] += rng.integers(0, 28, size=max(initial - 2, 0))
    for k in range(1, len(life.starts)):
        grown = int(life.seats[k] - life.seats[k - 1])
        day = cal.index(life.starts[k])
        if grown > 0 and first < day < last:
            joins.append(day + rng.integers(-60, 30, size=round(util * grown)))
    join = np.concatenate(joins)
    n = len(join)
    role = np.full(n, MEMBER)
    role[0], role[1] = CHAMPION, DECISION_MAKER
    admins = 1 + (n >= 40) if n >= 5 else 0
    role[2 : 2 + admins] = ADMIN
    leave = np.full(n, cal.days + 1)

    if life.trajectory in DECLINING - {"budget_cut"}:
        decline = cal.index(life.decline_start)
        target = cal.index(life.target)
        if life.trajectory == "champion_leaves":
            leave[0] = decline + rng.integers(0, 7)
            if life.rescued:  # a new internal advocate takes over
                join = np.append(join, decline + rng.integers(20, 60))
                role = np.append(role, ADMIN)
                leave = np.append(leave, cal.days + 1)
        elif life.trajectory == "seat_contraction":
            # Enough users leave before the renewal that the cut seats still leave some slack.
            cut = np.flatnonzero(life.starts == life.target)
            seats_after = int(life.seats[cut[0]]) if len(cut) else round(0.6 * seats_at_start)
            regular = np.flatnonzero(role == MEMBER)
            keep = round(seats_after * rng.uniform(0.7, 0.9)) - (n - len(regular))
            count = int(np.clip(len(regular) - keep, min(1, len(regular)), len(regular)))
            leavers = rng.choice(regular, size=count, replace=False)
            leave[leavers] = rng.integers(decline, max(target, decline + 1), size=len(leavers))

    n = len(join)
    activity = np.clip(0.22 * rng.lognormal(0.0, 0.7, size=n) * profile.level, 0.02, 0.9)
    activity[role == CHAMPION] = np.clip(0.85 * profile.level, 0.5, 0.95)
    activity[role == DECISION_MAKER] = 0.12
    activity[role == ADMIN] = rng.uniform(0.4, 0.7, size=int((role == ADMIN).sum()))
    intensity = rng.lognormal(0.0, 0.5, size=n) * np.where(role == CHAMPION, 1.5, 1.0)
    return _Roster(
        role=role,
        join=join,
        leave=leave,
        activity=activity,
        intensity=intensity,
        features=_feature_propensity(rng, profile, life, role),
    )


def _feature_propensity(rng: np.random.Generator, profile: _Profile, life: _Life, role: np.ndarray) -> np.ndarray:
    """Users x features chance of using each feature on an active day, from the account's adoption breadth."""
    available = np.array([f in _PLAN_FEATURES[profile.plan] for f in FEATURE_NAMES])
    key = np.array([f in KEY_FEATURES[profile.plan] for f in FEATURE_NAMES])
    breadth = rng.beta(2, 3) if life.trajectory in DECLINING - {"budget_cut"} else rng.beta(4, 2)
    adopted = available & (rng.random(len(FEATURE_NAMES)) < np.where(key, breadth, 0.5))
    adopted[_LOGIN] = True
    if not (adopted & key).any():  # every customer uses at least one key feature
        adopted[rng.choice(np.flatnonzero(key))] = True
    user_breadth = np.where(role == CHAMPION, 1.0, rng.uniform(0.3, 0.95, size=len(role)))
    uses = rng.random((len(role), len(FEATURE_NAMES))) < user_breadth[:, None]
    uses[:, _LOGIN] = True
    return (uses & adopted) * _FEATURE_POP


# ---------------------------------------------------------------------------------------------- activity


def _live_range(profile: _Profile, life: _Life, cal: _Calendar) -> tuple[int, int]:
    """Day indices [first, last) on which the account is a customer inside the window."""
    first = cal.index(max(cal.start, profile.created))
    last = cal.index(life.churn) if not np.isnat(life.churn) else cal.days
    return first, last


def _trend(rng: np.random.Generator, profile: _Profile, life: _Life, cal: _Calendar) -> np.ndarray:
    """Account-wide activity multiplier per day: onboarding ramp, growth or decline, weekly noise."""
    t = np.arange(cal.days, dtype=float)
    trend = np.ones(cal.days)
    if profile.created > cal.start:
        age = t - cal.index(profile.created)
        trend *= 0.15 + 0.85 * (1 - np.exp(-np.maximum(age, 0) / 18))
    if life.trajectory == "expanding":
        trend *= np.interp(t, [0, cal.days], [1.0, rng.uniform(1.1, 1.3)])
    elif life.trajectory in DECLINING - {"budget_cut"}:
        decline, target = cal.index(life.decline_start), cal.index(life.target)
        floor = {
            "slow_fade": rng.uniform(0.12, 0.35),
            "sudden_drop": rng.uniform(0.05, 0.25),
            "champion_leaves": rng.uniform(0.35, 0.6),
            "seat_contraction": rng.uniform(0.45, 0.65),
        }[life.trajectory]
        bottom = decline + int(rng.integers(2, 7)) if life.trajectory == "sudden_drop" else target
        xs, ys = [decline, max(bottom, decline + 1)], [1.0, floor]
        if life.rescued:
            xs, ys = [*xs, target + 1, target + 45], [*ys, floor, rng.uniform(0.75, 0.95)]
        trend *= np.interp(t, xs, ys)
    weeks = cal.days // 7 + 1
    return trend * np.exp(rng.normal(0.0, 0.08, size=weeks))[np.arange(cal.days) // 7]


def _simulate_events(
    rng: np.random.Generator,
    account: int,
    user_offset: int,
    profile: _Profile,
    life: _Life,
    roster: _Roster,
    cal: _Calendar,
) -> dict[str, np.ndarray]:
    """One account's events as arrays: a Bernoulli draw per user-day, then per feature on active days."""
    first, last = _live_range(profile, life, cal)
    days = np.arange(first, last)
    trend = _trend(rng, profile, life, cal)[days]
    present = (roster.join[:, None] <= days[None, :]) & (days[None, :] < roster.leave[:, None])
    p_active = np.clip(roster.activity[:, None] * (cal.day_factor[days] * trend)[None, :], 0.0, 0.97)
    user, cell_day = np.nonzero(present & (rng.random(present.shape) < p_active))
    # Breadth narrows with activity: a fading account also stops using its secondary features.
    breadth = np.sqrt(np.clip(trend[cell_day], 0.0, 1.0))
    chance = roster.features[user] * breadth[:, None]
    chance[:, _LOGIN] = 1.0
    cell, feature = np.nonzero(rng.random(chance.shape) < chance)

    offset_s = _REGION_UTC_OFFSET_H[profile.region] * 3600
    morning = rng.random(len(cell_day)) < 0.55
    local = np.where(morning, rng.normal(10.3, 1.3, len(cell_day)), rng.normal(15.0, 1.6, len(cell_day)))
    session = np.clip(local, 6.5, 21.5) * 3600
    delay = np.where(feature == _LOGIN, 0.0, rng.exponential(1800.0, len(cell)))
    second = (session[cell] + delay - offset_s).astype(np.int64) % _SECONDS_PER_DAY
    quantity = 1 + rng.poisson(_FEATURE_QTY[feature] * roster.intensity[user[cell]])
    day = days[cell_day[cell]]
    order = np.lexsort((second, day))
    return {
        "account": np.full(len(cell), account, dtype=np.int32)[order],
        "user": (user[cell] + user_offset).astype(np.int32)[order],
        "feature": feature.astype(np.int8)[order],
        "day": day.astype(np.int32)[order],
        "second": second.astype(np.int32)[order],
        "quantity": quantity.astype(np.int32)[order],
    }


def _trouble_days(life: _Life, cal: _Calendar) -> np.ndarray:
    """Boolean per day: the account is visibly struggling (from decline start to churn or recovery)."""
    trouble = np.zeros(cal.days, dtype=bool)
    if np.isnat(life.decline_start):
        return trouble
    if life.rescued:
        stop = life.target + 30 * _DAY
    elif life.trajectory == "seat_contraction":  # struggles on after the seat cut
        stop = cal.end if np.isnat(life.churn) else life.churn
    else:
        stop = life.target
    trouble[cal.index(life.decline_start) : cal.index(stop)] = True
    return trouble


def _business_seconds(rng: np.random.Generator, n: int, region: str) -> np.ndarray:
    """UTC second of day for n actions taken in local office hours."""
    local = rng.uniform(8.5, 18.0, size=n) * 3600
    return (local - _REGION_UTC_OFFSET_H[region] * 3600).astype(np.int64) % _SECONDS_PER_DAY


def _poisson_days(rng: np.random.Generator, rate: np.ndarray, first: int) -> np.ndarray:
    """Day indices of events drawn from a Poisson rate per day, days counted from `first`."""
    counts = rng.poisson(rate)
    return np.repeat(np.arange(first, first + len(rate)), counts)


def _simulate_tickets(
    rng: np.random.Generator,
    account: int,
    profile: _Profile,
    life: _Life,
    trouble: np.ndarray,
    cal: _Calendar,
) -> dict[str, np.ndarray]:
    """Support tickets: steady for everyone, more, more severe and less liked in trouble."""
    first, last = _live_range(profile, life, cal)
    busy = cal.day_factor[first:last] / _WEEKDAY_FACTOR.mean()
    size = np.log1p(profile.seats) / np.log1p(_SEATS[profile.segment][0])
    rate = _TICKETS_PER_MONTH[profile.segment] / 30 * busy * size * np.where(trouble[first:last], 2.5, 1.0)
    day = _poisson_days(rng, rate, first)
    hot = trouble[day].astype(np.int64)
    priority = (rng.random(len(day))[:, None] > np.cumsum(_PRIORITY_MIX[hot], axis=1)).sum(axis=1)
    opened = day.astype(np.int64) * _SECONDS_PER_DAY + _business_seconds(rng, len(day), profile.region)
    closed = opened + (_RESOLUTION_HOURS[priority] * rng.lognormal(0.0, 0.8, len(day)) * 3600).astype(np.int64)
    csat = (rng.random(len(day))[:, None] > np.cumsum(_CSAT_MIX[hot], axis=1)).sum(axis=1) + 1
    is_open = closed >= cal.days * _SECONDS_PER_DAY
    csat = np.where(is_open | (rng.random(len(day)) > 0.55), 0, csat)  # 0 = no answer
    return {
        "account": np.full(len(day), account, dtype=np.int32),
        "opened": opened,
        "closed": np.where(is_open, -1, closed),
        "priority": priority,
        "csat": csat,
    }


def _simulate_nps(
    rng: np.random.Generator,
    account: int,
    user_offset: int,
    profile: _Profile,
    life: _Life,
    roster: _Roster,
    trouble: np.ndarray,
    cal: _Calendar,
) -> dict[str, np.ndarray]:
    """Half-yearly NPS waves; a few users answer, scoring low when the account struggles."""
    first, last = _live_range(profile, life, cal)
    waves = np.arange(first + rng.integers(30, 182), last, 182)
    response = np.select([roster.role == CHAMPION, roster.role == DECISION_MAKER], [0.6, 0.45], 0.12)
    day = waves[None, :] + rng.integers(0, 14, size=(len(roster.role), len(waves)))
    present = (roster.join[:, None] <= day) & (day < roster.leave[:, None]) & (day < last)
    user, wave = np.nonzero(present & (rng.random(day.shape) < response[:, None]))
    day = day[user, wave]
    mean = np.where(trouble[day], 4.0, 8.8 if life.trajectory == "expanding" else 8.0)
    mean = mean + np.where(roster.role[user] == CHAMPION, 0.5, 0.0)
    score = np.clip(np.round(rng.normal(mean, 1.6)), 0, 10).astype(np.int64)
    return {
        "account": np.full(len(day), account, dtype=np.int32),
        "at": day.astype(np.int64) * _SECONDS_PER_DAY + _business_seconds(rng, len(day), profile.region),
        "user": (user + user_offset).astype(np.int32),
        "score": score,
    }


def _simulate_touchpoints(
    rng: np.random.Generator,
    account: int,
    profile: _Profile,
    life: _Life,
    trouble: np.ndarray,
    cal: _Calendar,
) -> dict[str, np.ndarray]:
    """CSM touches: segment cadence, onboarding, renewal windows, and reaction to trouble unless neglected."""
    first, last = _live_range(profile, life, cal)
    t = np.arange(first, last)
    context = np.zeros(len(t), dtype=np.int64)
    rate = np.full(len(t), _TOUCHES_PER_MONTH[profile.segment] / 30)
    onboarding = (
        (t >= cal.index(profile.created)) & (t < cal.index(profile.created) + 45) & (profile.created > cal.start)
    )
    rate[onboarding] += 2.0 / 45
    context[onboarding] = 1
    if int(profile.term) >= 6:
        renewal_idx = np.array([cal.index(e) for e in life.ends])
        near = ((renewal_idx[None, :] - t[:, None] > 0) & (renewal_idx[None, :] - t[:, None] <= 60)).any(axis=1)
        rate[near] += (2.0 if profile.segment != "smb" else 0.6) / 60
        context[near] = 2
    hot = trouble[first:last]
    if hot.any():
        reacts = t >= cal.index(life.decline_start) + 21  # the CSM notices after a few weeks
        rate[hot] *= 0.15 if life.neglected else np.where(reacts[hot], 2.5, 1.0)
        context[hot & reacts] = 3
    day = _poisson_days(rng, rate * cal.day_factor[t], first)
    ctx = context[day - first]
    kind = (rng.random(len(day))[:, None] > np.cumsum(_TOUCH_MIX[ctx], axis=1)).sum(axis=1)
    return {
        "account": np.full(len(day), account, dtype=np.int32),
        "at": day.astype(np.int64) * _SECONDS_PER_DAY + _business_seconds(rng, len(day), profile.region),
        "kind": np.minimum(kind, len(_TOUCH_KINDS) - 1),
    }


# ---------------------------------------------------------------------------------------------- frames


def _utc(seconds: np.ndarray, cal: _Calendar) -> pd.Series:
    """Seconds since the window start as a UTC datetime series."""
    origin = cal.start.astype("datetime64[s]")
    return pd.Series(origin + seconds.astype("timedelta64[s]")).dt.tz_localize("UTC")


def _dates(values: np.ndarray) -> pd.Series:
    """Day-precision numpy dates as naive midnight datetimes (NaT stays NaT)."""
    return pd.Series(np.asarray(values, dtype="datetime64[D]").astype("datetime64[s]"))


def _accounts_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    created = columns["created"].astype("datetime64[s]") + columns["created_second"].astype("timedelta64[s]")
    frame = pd.DataFrame({c: pd.Series(columns[c], dtype="str") for c in COLUMNS["accounts"] if c != CREATED_AT})
    frame[CREATED_AT] = pd.Series(created).dt.tz_localize("UTC")
    return frame[list(COLUMNS["accounts"])]


def _subscriptions_frame(columns: dict[str, np.ndarray], lives: list[_Life]) -> pd.DataFrame:
    """One row per term; only a churned account's last term is cancelled."""
    counts = np.array([len(life.starts) for life in lives])
    account = np.repeat(columns[ACCOUNT_ID], counts)
    status = np.concatenate(
        [
            np.where(np.arange(len(life.starts)) == len(life.starts) - 1, not np.isnat(life.churn), False)
            for life in lives
        ]
    )
    number = np.concatenate([np.arange(1, c + 1) for c in counts])
    return pd.DataFrame(
        {
            SUBSCRIPTION_ID: [f"{a}-s{k:03d}" for a, k in zip(account, number, strict=True)],
            ACCOUNT_ID: account,
            START_DATE: _dates(np.concatenate([life.starts for life in lives])),
            END_DATE: _dates(np.concatenate([life.ends for life in lives])),
            MRR: np.concatenate([life.mrr for life in lives]),
            PLAN: np.repeat(columns[PLAN], counts),
            SEATS: np.concatenate([life.seats for life in lives]),
            STATUS: np.where(status, "cancelled", "active"),
        }
    ).astype({SUBSCRIPTION_ID: "str", ACCOUNT_ID: "str", PLAN: "str", STATUS: "str"})


def _users_frame(
    rng: np.random.Generator, profiles: list[_Profile], rosters: list[_Roster], cal: _Calendar
) -> pd.DataFrame:
    """One row per user; user_id is `<account_id>-uNNN`, the champion is u001 and the decision maker u002."""
    ids, accounts, emails, names, roles = [], [], [], [], []
    created: list[np.ndarray] = []
    domains: set[str] = set()
    for profile, roster in zip(profiles, rosters, strict=True):
        domain = _slug(profile.name).replace("-", "") or "customer"
        domain = f"{domain}{profile.account_id[4:]}" if domain in domains else domain
        domains.add(domain)
        seen: set[str] = set()
        first = rng.choice(_FIRST_NAMES, size=len(roster.role))
        last = rng.choice(_LAST_NAMES, size=len(roster.role))
        for k in range(len(roster.role)):
            local = f"{_slug(first[k])}.{_slug(last[k])}"
            candidate, n = local, 1
            while candidate in seen:
                n += 1
                candidate = f"{local}{n}"
            seen.add(candidate)
            ids.append(f"{profile.account_id}-u{k + 1:03d}")
            accounts.append(profile.account_id)
            emails.append(f"{candidate}@{domain}.example")
            names.append(f"{first[k]} {last[k]}")
            roles.append(ROLES[roster.role[k]])
        signup = (profile.created - cal.start) / _DAY
        join = np.maximum(roster.join, signup).astype(np.int64)
        created.append(join * _SECONDS_PER_DAY + _business_seconds(rng, len(join), profile.region))
    created_s = np.concatenate(created)
    return pd.DataFrame(
        {
            USER_ID: pd.Series(ids, dtype="str"),
            ACCOUNT_ID: pd.Series(accounts, dtype="str"),
            EMAIL: pd.Series(emails, dtype="str"),
            NAME: pd.Series(names, dtype="str"),
            ROLE: pd.Series(roles, dtype="str"),
            CREATED_AT: _utc(created_s, cal),
        }
    )


def _slug(text: str) -> str:
    """ASCII lower-case slug for e-mail addresses (drops accents and emoji)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text.lower()).split())


def _concat(parts: list[dict[str, np.ndarray]], key: str) -> np.ndarray:
    return np.concatenate([part[key] for part in parts])


def _events_frame(
    parts: list[dict[str, np.ndarray]],
    account_ids: np.ndarray,
    user_ids: np.ndarray,
    cal: _Calendar,
    seed: int,
) -> pd.DataFrame:
    day = _concat(parts, "day").astype(np.int64)
    seconds = day * _SECONDS_PER_DAY + _concat(parts, "second")
    n = len(seconds)
    number = pc.utf8_lpad(pa.array(np.arange(n)).cast(pa.large_string()), width=9, padding="0")
    message = pc.binary_join_element_wise(
        pa.scalar(f"evt-{seed}-", pa.large_string()), number, pa.scalar("", pa.large_string())
    )
    return pd.DataFrame(
        {
            ACCOUNT_ID: pd.Categorical.from_codes(
                _concat(parts, "account"), categories=pd.Index(account_ids, dtype="str")
            ),
            EVENT: pd.Categorical.from_codes(
                _concat(parts, "feature"), categories=pd.Index(FEATURE_NAMES, dtype="str")
            ),
            TIMESTAMP: _utc(seconds, cal),
            USER_ID: pd.Categorical.from_codes(_concat(parts, "user"), categories=pd.Index(user_ids, dtype="str")),
            QUANTITY: _concat(parts, "quantity"),
            MESSAGE_ID: message.to_pandas(),
        }
    )


def _tickets_frame(parts: list[dict[str, np.ndarray]], account_ids: np.ndarray, cal: _Calendar) -> pd.DataFrame:
    closed = _concat(parts, "closed")
    csat = pd.array(_concat(parts, "csat"), dtype="Int64")
    csat[csat == 0] = pd.NA
    return pd.DataFrame(
        {
            TICKET_ID: pd.Series([f"tkt-{i + 1:06d}" for i in range(len(closed))], dtype="str"),
            ACCOUNT_ID: pd.Series(account_ids[_concat(parts, "account")], dtype="str"),
            OPENED_AT: _utc(_concat(parts, "opened"), cal),
            CLOSED_AT: _utc(closed, cal).where(closed >= 0),
            PRIORITY: pd.Series(np.array(_PRIORITIES)[_concat(parts, "priority")], dtype="str"),
            CSAT: csat,
        }
    )


def _nps_frame(
    rng: np.random.Generator,
    parts: list[dict[str, np.ndarray]],
    account_ids: np.ndarray,
    user_ids: np.ndarray,
    cal: _Calendar,
) -> pd.DataFrame:
    score = _concat(parts, "score")
    category = np.select([score >= 9, score >= 7], ["promoter", "passive"], "detractor")
    comments = [
        rng.choice(_NPS_COMMENTS[c]) if talk else None
        for c, talk in zip(category, rng.random(len(score)) < 0.7, strict=True)
    ]
    return pd.DataFrame(
        {
            ACCOUNT_ID: pd.Series(account_ids[_concat(parts, "account")], dtype="str"),
            RESPONDED_AT: _utc(_concat(parts, "at"), cal),
            SCORE: score,
            USER_ID: pd.Series(user_ids[_concat(parts, "user")], dtype="str"),
            COMMENT: pd.Series(comments, dtype="str"),
        }
    )


def _touchpoints_frame(
    rng: np.random.Generator,
    parts: list[dict[str, np.ndarray]],
    account_ids: np.ndarray,
    csm_emails: np.ndarray,
    cal: _Calendar,
) -> pd.DataFrame:
    account = _concat(parts, "account")
    kind = np.array(_TOUCH_KINDS)[_concat(parts, "kind")]
    notes = [rng.choice(_TOUCH_NOTES[k]) for k in kind]
    return pd.DataFrame(
        {
            ACCOUNT_ID: pd.Series(account_ids[account], dtype="str"),
            AT: _utc(_concat(parts, "at"), cal),
            KIND: pd.Series(kind, dtype="str"),
            CSM_EMAIL: pd.Series(csm_emails[account], dtype="str"),
            NOTES: pd.Series(notes, dtype="str"),
        }
    )


def _trainings_frame() -> pd.DataFrame:
    """The fixed training catalogue: every feature is taught by at least one entry."""
    rows = [
        (tid, title, ";".join(features), f"https://academy.cs-health.example/{tid}", level, fmt)
        for tid, title, features, level, fmt in _TRAININGS
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS["trainings"])).astype("str")


def _ground_truth_frame(columns: dict[str, np.ndarray], lives: list[_Life]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            ACCOUNT_ID: pd.Series(columns[ACCOUNT_ID], dtype="str"),
            TRAJECTORY: pd.Series([life.trajectory for life in lives], dtype="str"),
            DECLINE_START: _dates(np.array([life.decline_start for life in lives])),
            CHURN_DATE: _dates(np.array([life.churn for life in lives])),
            SEGMENT: pd.Series(columns[SEGMENT], dtype="str"),
        }
    )


# ---------------------------------------------------------------------------------------------- files

_ISO_TIMESTAMP, _ISO_DATE = "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"
_EVENT_CHUNK = 2_000_000


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """CSV with ISO 8601 UTC timestamps, plain dates and empty cells for missing values."""
    out = frame.copy()
    for column in out.columns:
        dtype = out[column].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.strftime(_ISO_TIMESTAMP)
        elif pd.api.types.is_datetime64_dtype(dtype):
            out[column] = out[column].dt.strftime(_ISO_DATE)
    out.to_csv(path, index=False, encoding="utf-8")


def _write_events(events: pd.DataFrame, path: Path) -> None:
    """Parquet in row groups, so a 10,000-account portfolio never needs a second copy of all events."""
    schema = pa.schema([(c, pa.int64() if c == QUANTITY else pa.string()) for c in COLUMNS["events"]])
    with pq.ParquetWriter(path, schema) as writer:
        for begin in range(0, max(len(events), 1), _EVENT_CHUNK):
            chunk = events.iloc[begin : begin + _EVENT_CHUNK]
            arrays = {column: _arrow_strings(chunk[column]) for column in (ACCOUNT_ID, EVENT, USER_ID, MESSAGE_ID)}
            arrays[TIMESTAMP] = _iso_timestamps(chunk[TIMESTAMP])
            arrays[QUANTITY] = pa.array(chunk[QUANTITY].to_numpy(), type=pa.int64())
            writer.write_table(pa.table([arrays[c].cast(schema.field(c).type) for c in schema.names], schema=schema))


def _arrow_strings(column: pd.Series) -> pa.Array:
    """A categorical or string column as a plain Arrow string array (decoding in C++, not Python)."""
    array = pa.Array.from_pandas(column)
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def _iso_timestamps(stamps: pd.Series) -> pa.Array:
    """UTC datetimes as `YYYY-MM-DDTHH:MM:SSZ`, about ten times faster than strftime."""
    seconds = stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    text = pc.replace_substring(pa.array(seconds).cast(pa.string()), " ", "T")
    return pc.binary_join_element_wise(text, "Z", "")
