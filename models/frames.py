"""The input frames of the analytic core: column names and the shape the shell hands over.

The shell reads each table once, set-based, and passes plain pandas frames; nothing here touches a database.
Timestamps may be naive (meaning UTC) or tz-aware; the core converts them to naive UTC once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import pandas as pd

# Shared keys.
ACCOUNT_ID, USER_ID = "account_id", "user_id"
# daily_usage / user_activity.
DAY, EVENT, EVENTS, QUANTITY, USERS = "day", "event", "events", "quantity", "users"
# accounts.
SEGMENT, PLAN, CREATED_AT, TAGS = "segment", "plan", "created_at", "tags"
# subscriptions.
START_DATE, END_DATE, MRR, ARR, SEATS, STATUS = "start_date", "end_date", "mrr", "arr", "seats", "status"
# contacts.
ROLE = "role"
CHAMPION, DECISION_MAKER = "champion", "decision_maker"
# tickets, nps, touchpoints.
OPENED_AT, CLOSED_AT, PRIORITY, CSAT = "opened_at", "closed_at", "priority", "csat"
HIGH_PRIORITIES = ("high", "urgent")
RESPONDED_AT, SCORE = "responded_at", "score"
AT, KIND = "at", "kind"


@dataclass(frozen=True)
class FrameSpec:
    """Name, required columns and the time column (the one the as-of cut applies to) of one input frame."""

    name: str
    columns: tuple[str, ...]
    time_column: str | None = None
    optional: tuple[str, ...] = ()

    def empty(self) -> pd.DataFrame:
        """A frame with the right columns and no rows, for a table the caller does not have."""
        return pd.DataFrame({column: pd.Series(dtype="object") for column in (*self.columns, *self.optional)})

    def check(self, frame: pd.DataFrame) -> None:
        """Raise ValueError naming the frame and the missing columns."""
        missing = [column for column in self.columns if column not in frame.columns]
        if missing:
            raise ValueError(f"{self.name}: missing column(s) {', '.join(missing)}")


DAILY_USAGE = FrameSpec("daily_usage", (ACCOUNT_ID, DAY, EVENT, EVENTS, QUANTITY, USERS), DAY)
USER_ACTIVITY = FrameSpec("user_activity", (ACCOUNT_ID, USER_ID, DAY, EVENTS), DAY)
ACCOUNTS = FrameSpec("accounts", (ACCOUNT_ID, SEGMENT, PLAN, CREATED_AT), CREATED_AT, optional=(TAGS,))
SUBSCRIPTIONS = FrameSpec(
    "subscriptions", (ACCOUNT_ID, START_DATE, END_DATE, MRR), START_DATE, optional=(ARR, SEATS, PLAN, STATUS)
)
CONTACTS = FrameSpec("contacts", (USER_ID, ACCOUNT_ID, ROLE))
TICKETS = FrameSpec("tickets", (ACCOUNT_ID, OPENED_AT, CLOSED_AT, PRIORITY, CSAT), OPENED_AT)
NPS = FrameSpec("nps", (ACCOUNT_ID, RESPONDED_AT, SCORE), RESPONDED_AT, optional=(USER_ID,))
TOUCHPOINTS = FrameSpec("touchpoints", (ACCOUNT_ID, AT, KIND), AT)

SPECS: dict[str, FrameSpec] = {
    spec.name: spec
    for spec in (DAILY_USAGE, USER_ACTIVITY, ACCOUNTS, SUBSCRIPTIONS, CONTACTS, TICKETS, NPS, TOUCHPOINTS)
}


@dataclass(frozen=True)
class PortfolioData:
    """Every input of the feature computation, one frame per table, read by the shell in one pass each.

    - daily_usage: account_id, day (midnight), event, events, quantity, users (distinct users that day and feature)
    - user_activity: account_id, user_id, day, events (per user per day over all features)
    - accounts: account_id, segment, plan, created_at, tags (list)
    - subscriptions: account_id, start_date, end_date (exclusive: the renewal date), mrr, arr, seats, plan, status
    - contacts: user_id, account_id, role; tickets: account_id, opened_at, closed_at, priority, csat
    - nps: account_id, responded_at, score, user_id; touchpoints: account_id, at, kind
    Tables the caller lacks default to empty frames (their features become NaN or zero counts).
    """

    daily_usage: pd.DataFrame
    user_activity: pd.DataFrame
    accounts: pd.DataFrame
    subscriptions: pd.DataFrame
    contacts: pd.DataFrame = field(default_factory=CONTACTS.empty)
    tickets: pd.DataFrame = field(default_factory=TICKETS.empty)
    nps: pd.DataFrame = field(default_factory=NPS.empty)
    touchpoints: pd.DataFrame = field(default_factory=TOUCHPOINTS.empty)

    def __post_init__(self) -> None:
        for item in fields(self):
            SPECS[item.name].check(getattr(self, item.name))
