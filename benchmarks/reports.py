"""PDF seconds per report: last month's client PDF of each account of a 100-account demo portfolio.

Builds the demo in a temporary folder (SQLite unless CS_HEALTH_DATABASE_URL is set), then times only the report
generation (database reads, context, charts, HTML, PDF, archive) per account. Target: <= 1 s per report.

    python benchmarks/reports.py [--accounts 100] [--months 12]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as `python benchmarks/reports.py`, this file's folder comes first on sys.path and its names (reports.py,
# alerts.py) would hide the `reports` and `alerts` packages; the repository root goes there instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE.parent)] + [entry for entry in sys.path if Path(entry or ".").resolve() != HERE]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--months", type=int, default=12)
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cs-health-bench-reports-"))
    os.environ.setdefault("CS_HEALTH_DATABASE_URL", f"sqlite:///{folder / 'bench.db'}")
    os.environ["CS_HEALTH_DATA_DIR"] = str(folder / "data")

    from contextlib import nullcontext

    from rich.console import Console

    from cs_health.config import get_settings
    from cs_health.db.engine import database_for
    from cs_health.demo.service import run_demo
    from cs_health.qbr import repository, service
    from cs_health.qbr.jobs import last_month

    today = dt.datetime.now(dt.UTC).date()
    run_demo(
        accounts=arguments.accounts,
        seed=7,
        months=arguments.months,
        today=today,
        console=Console(quiet=True),
        progress=lambda _description: nullcontext(lambda _done, _total: None),
    )
    settings = get_settings()
    database = database_for(settings.DATABASE_URL)
    period = last_month(today)
    request = service.parse_request(period.label, "monthly", "client", "pdf")
    with database.transaction() as session:
        accounts = repository.active_accounts(session, period.last_day) or []
    seconds, cpu, sizes = [], [], []
    for account_id in accounts:
        started, started_cpu = time.perf_counter(), time.process_time()
        with database.transaction() as session:
            report = service.generate(
                session,
                account_id,
                request,
                reports_dir=settings.reports_dir,
                today=today,
                now=dt.datetime.now(dt.UTC),
                key_features=settings.KEY_FEATURES,
            )
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        sizes.append(len(report.content))
    if not seconds:
        print("no active accounts in the demo portfolio")
        return
    ordered = sorted(seconds)
    print(f"reports: {len(seconds)} client PDFs for {period.label} ({os.cpu_count()} CPUs, shared machine)")
    print(
        f"total: {sum(seconds):.1f} s; per report: mean {statistics.fmean(seconds):.3f} s, "
        f"median {statistics.median(seconds):.3f} s, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.3f} s, "
        f"first (cold: imports, fonts) {seconds[0]:.3f} s, max {ordered[-1]:.3f} s"
    )
    print(
        f"CPU per report (less sensitive to other load on the machine): mean {statistics.fmean(cpu):.3f} s, "
        f"median {statistics.median(cpu):.3f} s; load average now {os.getloadavg()[0]:.1f}"
    )
    print(
        f"mean PDF size: {statistics.fmean(sizes) / 1024:.0f} KiB; target <= 1 s per report: "
        f"{'met' if statistics.fmean(seconds) <= 1 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
