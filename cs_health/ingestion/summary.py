"""What an import reports: counts, rejects (also written beside the file), and the run it records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cs_health.db.base import naive_utc
from cs_health.db.tables import ImportRun
from cs_health.ingestion.rejects import Reject, rejects_path, write_rejects
from cs_health.ingestion.validation import Validated


@dataclass
class ImportSummary:
    kind: str
    source: str
    location_label: str
    accepted: int = 0
    new: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)
    rejects_file: Path | None = None
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    refused_by_strict: bool = False

    @property
    def stored(self) -> bool:
        return not self.dry_run and not self.refused_by_strict


def summarise(kind: str, path: Path, parts: Sequence[Validated], *, dry_run: bool, strict: bool) -> ImportSummary:
    """The summary of a file's validated records (in one part, or several in file order): its rejects, written
    beside the file, and whether it is stored; until it is, `accepted` counts the records that passed."""
    first = parts[0]
    summary = ImportSummary(
        kind,
        str(path),
        first.location_label,
        rejected=sum(part.rejected_records for part in parts),
        rejects=sorted((reject for part in parts for reject in part.rejects), key=lambda reject: reject.location),
        ignored_columns=first.ignored_columns,
        dry_run=dry_run,
    )
    if summary.rejects:
        summary.rejects_file = rejects_path(path)
        write_rejects(summary.rejects, summary.rejects_file, first.location_label)
    summary.refused_by_strict = strict and summary.rejected > 0
    if not summary.stored:
        summary.accepted = sum(len(part.frame) for part in parts)
    return summary


def import_run(summary: ImportSummary, started: dt.datetime) -> ImportRun:
    """The run line of a stored file import (`cs-health status` lists the recent ones)."""
    return ImportRun(
        kind=summary.kind,
        source=Path(summary.source).name,
        accepted=summary.accepted,
        duplicates=summary.duplicates,
        rejected=summary.rejected,
        started_at=started,
        finished_at=naive_utc(dt.datetime.now(dt.UTC)),
    )
