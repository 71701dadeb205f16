"""What the importer says about records it refused: where they are, which field, and why."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Reject:
    """One problem with one record. `location` is a file line (CSV, JSON Lines) or a row index (Parquet, HTTP)."""

    location: int
    field: str
    reason: str
    record: dict[str, Any] = field(default_factory=dict, compare=False)


def describe(reject: Reject, source: str, location_label: str) -> str:
    """A plain-language line such as `events.csv:17: timestamp: not an ISO 8601 timestamp ('2026-13-01')`."""
    where = f"{source}:{reject.location}" if location_label == "line" else f"{source} row {reject.location}"
    return f"{where}: {reject.field}: {reject.reason}"


def rejects_path(source: Path) -> Path:
    """The rejects file beside the input: `events.csv.gz` -> `events.csv.gz.rejects.csv`."""
    return source.with_name(source.name + ".rejects.csv")


def write_rejects(rejects: Iterable[Reject], path: Path, location_label: str) -> int:
    """Writes every reject with its original record as JSON, so a user can fix and re-import them."""
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([location_label.replace(" ", "_"), "field", "reason", "record"])
        for reject in rejects:
            writer.writerow([reject.location, reject.field, reject.reason, json.dumps(reject.record, default=str)])
            count += 1
    return count
