"""The progress callback long work reports through (the CLI draws it as a bar on a terminal)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """`done` of `total` units so far; `phase` names the step under way once counting units says nothing (one
    statement storing a whole import, a commit), so the bar does not sit at 100 % in silence."""

    def __call__(self, done: int, total: int, phase: str | None = None) -> None: ...
