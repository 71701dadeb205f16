"""The portfolio a nightly run reads, loaded once and shared by its stages.

Reading the usage rollups is most of a run's cost on a large portfolio (tens of millions of rows), and the
health, forecast and churn stages each need a window of the same tables. The run reads the widest window its
stages need once, at its start (before it writes anything, so SQLite can read it column-wise; see
cs_health/db/frames.py), and each stage gets exactly its own window cut from it in memory, so results do not
depend on which other stages ran.

A run that retrains the churn model needs the whole history, though only its last stage does. Its first `get`
also begins reading the older days (`prefetch`), in other reader processes beside the nightly windows', and the
earlier stages run while that read finishes, so the longest read overlaps the run's own work instead of
preceding it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import cast

import pandas as pd
from sqlalchemy.orm import Session

from cs_health.db.frames import PendingFrame
from cs_health.health.repository import USAGE_HISTORY_DAYS, load_portfolio, start_daily_usage, start_user_activity
from models.frames import DAY, PortfolioData

OlderDays = Callable[[], tuple[pd.DataFrame, pd.DataFrame]]
StartRead = Callable[[Session, dt.date, dt.date], PendingFrame]


@dataclass
class PortfolioInputs:
    """The portfolio as of `as_of`; `get` reloads only when asked for more history than it holds."""

    as_of: dt.date
    _data: PortfolioData | None = None
    _history_days: int = 0
    _user_history_days: int = 0
    _older: OlderDays | None = None
    _older_reach: tuple[int, int] = (0, 0)

    def get(
        self,
        session: Session,
        history_days: int = USAGE_HISTORY_DAYS,
        user_history_days: int | None = None,
        *,
        prefetch: tuple[int, int] | None = None,
    ) -> PortfolioData:
        """Daily usage over `history_days` and per-user activity over `user_history_days` (default the same)
        before `as_of`, with every other table whole. `prefetch` (usage days, per-user days): a longer history a
        later `get` will ask for; the read of its older days begins before this one's, so they run side by side
        (see `prefetch`)."""
        user_history_days = history_days if user_history_days is None else user_history_days
        if self._needs(history_days, user_history_days):
            self._collect_older()
        if self._needs(history_days, user_history_days):
            self._history_days = max(history_days, self._history_days)
            self._user_history_days = max(user_history_days, self._user_history_days)
            if prefetch is not None:
                self._start_prefetch(session, *prefetch)
            self._data = load_portfolio(session, self.as_of, self._history_days, self._user_history_days)
        data = cast(PortfolioData, self._data)
        return replace(
            data,
            daily_usage=_since(data.daily_usage, self.as_of, history_days, self._history_days),
            user_activity=_since(data.user_activity, self.as_of, user_history_days, self._user_history_days),
        )

    def prefetch(self, session: Session, history_days: int, user_history_days: int) -> None:
        """Begins reading the days older than those held, back to `history_days` (usage) and `user_history_days`
        (per user); the first `get` that needs them waits for the rest of that read. Call after a `get`."""
        if self._data is not None:
            self._start_prefetch(session, history_days, user_history_days)

    def _start_prefetch(self, session: Session, history_days: int, user_history_days: int) -> None:
        if self._older is not None or not self._beyond_held(history_days, user_history_days):
            return
        usage = self._start_older(session, start_daily_usage, history_days, self._history_days)
        users = self._start_older(session, start_user_activity, user_history_days, self._user_history_days)
        self._older = lambda: (usage(), users())
        self._older_reach = (max(history_days, self._history_days), max(user_history_days, self._user_history_days))

    def _start_older(self, session: Session, start: StartRead, days: int, held_days: int) -> PendingFrame:
        """The read of the days from `days` back to `held_days` back (nothing when none is missing)."""
        if days <= held_days:
            return pd.DataFrame
        return start(session, self.as_of - dt.timedelta(days=days), self.as_of - dt.timedelta(days=held_days))

    def _needs(self, history_days: int, user_history_days: int) -> bool:
        return self._data is None or self._beyond_held(history_days, user_history_days)

    def _beyond_held(self, history_days: int, user_history_days: int) -> bool:
        return history_days > self._history_days or user_history_days > self._user_history_days

    def _collect_older(self) -> None:
        """Adds a prefetched read's older days in front of the held ones (each day comes from one read, so a
        frame ordered by day equals a single read's)."""
        if self._older is None or self._data is None:
            return
        usage, users = self._older()
        self._older = None
        self._data = replace(
            self._data,
            daily_usage=_before(usage, self._data.daily_usage),
            user_activity=_before(users, self._data.user_activity),
        )
        self._history_days, self._user_history_days = self._older_reach


def _before(older: pd.DataFrame, held: pd.DataFrame) -> pd.DataFrame:
    """`older`'s rows, then `held`'s; a text column both read as categoricals stays one, over the union of their
    sorted values (pd.concat would turn differing categories into tens of millions of strings)."""
    if not len(older):
        return held
    for name in held.columns:
        if isinstance(held[name].dtype, pd.CategoricalDtype) and isinstance(older[name].dtype, pd.CategoricalDtype):
            values = older[name].cat.categories.union(held[name].cat.categories)
            older = older.assign(**{name: older[name].cat.set_categories(values)})
            held = held.assign(**{name: held[name].cat.set_categories(values)})
    return pd.concat([older, held], ignore_index=True)


def _since(frame: pd.DataFrame, as_of: dt.date, days: int, loaded_days: int) -> pd.DataFrame:
    """The rows of the last `days` days (the frame itself when that is all it holds)."""
    if days >= loaded_days:
        return frame
    cut = pd.Timestamp(as_of - dt.timedelta(days=days))
    return frame[(frame[DAY] >= cut).to_numpy()].reset_index(drop=True)
