"""The portfolio a nightly run reads, loaded once and shared by its stages.

Reading the usage rollups is most of a run's cost on a large portfolio (tens of millions of rows), and the
health, forecast and churn stages each need a window of the same tables. The run reads the widest window its
stages need once, at its start (before it writes anything, so SQLite can read it column-wise; see
cs_health/db/frames.py), and each stage gets exactly its own window cut from it in memory, so results do not
depend on which other stages ran.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import pandas as pd
from sqlalchemy.orm import Session

from cs_health.health.repository import USAGE_HISTORY_DAYS, load_portfolio
from models.frames import DAY, PortfolioData


@dataclass
class PortfolioInputs:
    """The portfolio as of `as_of`; `get` reloads only when asked for more history than it holds."""

    as_of: dt.date
    _data: PortfolioData | None = None
    _history_days: int = 0
    _user_history_days: int = 0

    def get(
        self, session: Session, history_days: int = USAGE_HISTORY_DAYS, user_history_days: int | None = None
    ) -> PortfolioData:
        """Daily usage over `history_days` and per-user activity over `user_history_days` (default the same)
        before `as_of`, with every other table whole."""
        user_history_days = history_days if user_history_days is None else user_history_days
        if self._data is None or history_days > self._history_days or user_history_days > self._user_history_days:
            self._history_days = max(history_days, self._history_days)
            self._user_history_days = max(user_history_days, self._user_history_days)
            self._data = load_portfolio(session, self.as_of, self._history_days, self._user_history_days)
        return replace(
            self._data,
            daily_usage=_since(self._data.daily_usage, self.as_of, history_days, self._history_days),
            user_activity=_since(self._data.user_activity, self.as_of, user_history_days, self._user_history_days),
        )


def _since(frame: pd.DataFrame, as_of: dt.date, days: int, loaded_days: int) -> pd.DataFrame:
    """The rows of the last `days` days (the frame itself when that is all it holds)."""
    if days >= loaded_days:
        return frame
    cut = pd.Timestamp(as_of - dt.timedelta(days=days))
    return frame[(frame[DAY] >= cut).to_numpy()].reset_index(drop=True)
