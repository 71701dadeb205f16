"""The `cs-health` command line: the public contract of DESIGN section 5.

Exit status: 0 done, 1 an error (named in one plain line), 2 rejected input (a bad file, record or flag).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cs_health.audit import service as audit
from cs_health.audit.schemas import Actor, AuditAction
from cs_health.config import get_settings
from cs_health.db.engine import Database, database_for
from cs_health.db.migrate import ensure_ready, upgrade
from cs_health.exceptions import CSHealthError, InvalidInput
from cs_health.ingestion.rejects import describe
from cs_health.ingestion.service import ImportSummary, import_file
from cs_health.progress import Progress as ProgressCallback
from cs_health.status.service import status as status_report

EXIT_REJECTED = 2

app = typer.Typer(
    help="cs-health: customer-success health monitoring for SaaS.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(help="Export results.", no_args_is_help=True)
outbox_app = typer.Typer(help="The e-mail outbox.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
user_app = typer.Typer(help="Dashboard users (CSMs and admins).", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(outbox_app, name="outbox")
app.add_typer(apikey_app, name="apikey")
app.add_typer(user_app, name="user")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


class Kind(StrEnum):
    accounts = "accounts"
    users = "users"
    subscriptions = "subscriptions"
    events = "events"
    tickets = "tickets"
    nps = "nps"
    touchpoints = "touchpoints"
    trainings = "trainings"


def plain_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Domain errors become one plain line on stderr and a non-zero exit, never a traceback."""

    @wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except InvalidInput as error:
            err.print(f"error: {error.message}", markup=False)
            raise typer.Exit(EXIT_REJECTED) from error
        except CSHealthError as error:
            err.print(f"error: {error.message}", markup=False)
            raise typer.Exit(1) from error

    return run


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def open_database() -> Database:
    """The configured database, refusing to run on a schema `cs-health init` has not brought up to date."""
    database = database_for(get_settings().DATABASE_URL)
    ensure_ready(database.engine)
    return database


@contextmanager
def progress_bar(description: str) -> Iterator[ProgressCallback]:
    """A progress bar on a terminal; silent when output is piped."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int, phase: str | None = None) -> None:
            label = f"{description}: {phase}" if phase else description
            progress.update(task, completed=done, total=total, description=label)

        yield update


@app.command()
@plain_errors
def init() -> None:
    """Create or upgrade the database."""
    settings = get_settings()
    database = database_for(settings.DATABASE_URL)
    before, after = upgrade(database.engine)
    url = database.engine.url.render_as_string(hide_password=True)
    state = "created" if before is None else ("already up to date" if before == after else f"upgraded from {before}")
    out.print(f"database {url}: {state} (schema {after})", markup=False, highlight=False)


def print_import_summary(summary: ImportSummary, shown: int) -> None:
    source = Path(summary.source).name
    verb = "would accept" if summary.dry_run else ("accepted" if summary.stored else "would have accepted")
    line = f"{source}: {summary.accepted:,} {verb}"
    if summary.kind == "events":
        line += f", {summary.duplicates:,} duplicates"
    elif summary.stored:
        line += f" ({summary.new:,} new, {summary.accepted - summary.new:,} updated)"
    line += f", {summary.rejected:,} rejected"
    out.print(line, markup=False, highlight=False)
    for reject in summary.rejects[:shown]:
        err.print(describe(reject, summary.source, summary.location_label), markup=False, highlight=False)
    if len(summary.rejects) > shown:
        err.print(f"... and {len(summary.rejects) - shown:,} more problems", markup=False)
    if summary.rejects_file:
        err.print(f"all rejected records: {summary.rejects_file}", markup=False, highlight=False)
    if summary.ignored_columns:
        err.print(f"warning: ignored unknown column(s): {', '.join(summary.ignored_columns)}", markup=False)
    if summary.refused_by_strict:
        err.print("--strict: nothing was imported because some records were rejected", markup=False)
    elif summary.dry_run:
        err.print("--dry-run: nothing was written", markup=False)


@app.command("import")
@plain_errors
def import_command(
    kind: Annotated[Kind, typer.Argument(help="What the file holds.")],
    file: Annotated[Path, typer.Argument(help="CSV, JSON Lines or Parquet, optionally .gz.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and report; write nothing.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Accept nothing unless every record is valid.")] = False,
) -> None:
    """Import a file: good records go in, bad ones are reported (exit 2) and written to a rejects file."""
    settings = get_settings()
    database = open_database()
    with progress_bar(f"importing {kind.value}") as update:
        summary = import_file(
            database,
            kind.value,
            file,
            now=now(),
            dry_run=dry_run,
            strict=strict,
            chunk_rows=settings.IMPORT_CHUNK_ROWS,
            on_progress=update,
        )
    print_import_summary(summary, settings.MAX_REJECTS_SHOWN)
    if summary.rejected:
        raise typer.Exit(EXIT_REJECTED)


@app.command()
@plain_errors
def status() -> None:
    """JSON: counts, last run, data freshness."""
    database = open_database()
    with database.transaction() as session:
        report = status_report(session, now())
    sys.stdout.write(json.dumps(report, indent=2) + "\n")


@app.command()
@plain_errors
def demo(
    accounts: Annotated[int, typer.Option(min=1, help="How many accounts to generate.")] = 300,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same portfolio.")] = 7,
    months: Annotated[int, typer.Option(min=3, max=60, help="Months of history.")] = 24,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after the pipeline.")] = False,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """Generate a realistic synthetic portfolio, run the whole pipeline and serve the dashboard."""
    from cs_health.demo.service import run_demo

    run_demo(accounts=accounts, seed=seed, months=months, today=now().date(), console=out, progress=progress_bar)
    if not no_serve:
        serve_app(host, port)


def serve_app(host: str, port: int) -> None:
    import gc

    import uvicorn

    from cs_health.app import create_app
    from cs_health.auth.dependencies import warm_up_key_lookup
    from cs_health.ingestion.endpoints import start_event_writer

    app = create_app()
    start_event_writer()  # and wait until it is ready: uvicorn listens only once this returns
    warm_up_key_lookup()
    # Everything loaded by now (libraries, routes, ORM metadata: ~300k objects) lives as long as the process;
    # frozen, it is no longer re-scanned by every full garbage collection, a ~150 ms pause that busy ingestion
    # otherwise triggers every few hundred requests.
    gc.collect()
    gc.freeze()
    out.print(f"serving the dashboard on http://{host}:{port}/  (Ctrl+C to stop)", markup=False, highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@app.command()
@plain_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """REST API + dashboard."""
    open_database()
    serve_app(host, port)


AsOf = Annotated[str | None, typer.Option("--as-of", help="The date to compute for (YYYY-MM-DD); default today.")]


def parse_as_of(value: str | None) -> dt.date:
    """The --as-of date (default today, UTC); a bad date is a plain error naming the flag."""
    if value is None:
        return now().date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise InvalidInput(f"--as-of: {value!r} is not a date (YYYY-MM-DD)") from error


@app.command()
@plain_errors
def run(as_of: AsOf = None) -> None:
    """Nightly pipeline for one date (default today)."""
    from cs_health.pipeline import run_pipeline

    day = parse_as_of(as_of)
    report = run_pipeline(open_database(), get_settings(), day)
    health = report.health
    if health is None or not health.accounts:
        out.print(f"{day}: no active accounts to score (import subscriptions first)", markup=False, highlight=False)
        return
    bands = ", ".join(f"{band} {count}" for band, count in sorted(health.bands.items()))
    seconds = ", ".join(f"{stage} {value:.1f} s" for stage, value in report.seconds.items())
    out.print(f"{day}: scored {health.accounts:,} accounts ({bands}); {seconds}", markup=False, highlight=False)


@app.command()
@plain_errors
def train(as_of: AsOf = None) -> None:
    """(Re)train the churn model on history before DATE; prints the backtest."""
    from cs_health.churn.service import train as train_model
    from cs_health.health.service import scorecard_from

    settings = get_settings()
    day = parse_as_of(as_of)
    with open_database().transaction() as session:
        result = train_model(
            session, day, settings=settings, scorecard=scorecard_from(settings.SCORECARD_FILE), now=now()
        )
        version, document, notes = result.record.version, result.record.backtest, result.notes
    out.print(f"trained {version} on the history before {day}", markup=False, highlight=False)
    for note in notes:
        out.print(f"note: {note}", markup=False, highlight=False)
    print_backtest(document)


def _figure(row: dict[str, Any], name: str, digits: int) -> str:
    value = row.get(name)
    return "-" if value is None else f"{value:.{digits}f}"


def print_backtest(document: dict[str, Any]) -> None:
    """The backtest as a plain table: what the model adds over the health score and days to renewal alone."""
    from models import backtest as metrics

    rows = document.get("metrics", [])
    if not rows:
        out.print("no backtest: too little history after the training cut", markup=False)
        return
    window = document.get("window", {})
    out.print(
        f"backtest: trained as of {window.get('train_as_of')}, tested on {len(window.get('test_dates', []))} "
        f"observation dates up to {window.get('as_of')}",
        markup=False,
        highlight=False,
    )
    header = f"{'horizon':>8} {'scorer':<16} {'ROC AUC':>8} {'lift@10%':>9} {'Brier':>7} {'ECE':>6}"
    out.print(f"{header} {'churns':>7} {'rows':>6}", markup=False, highlight=False)
    for row in rows:
        out.print(
            f"{str(row['horizon_days']) + 'd':>8} {row['scorer']:<16} {_figure(row, metrics.AUC, 3):>8} "
            f"{_figure(row, metrics.LIFT, 2):>9} {_figure(row, metrics.BRIER, 4):>7} {_figure(row, metrics.ECE, 3):>6} "
            f"{int(row.get(metrics.POSITIVES) or 0):>7} {int(row.get(metrics.COUNT) or 0):>6}",
            markup=False,
            highlight=False,
        )
    for name, table in document.get("calibration", {}).items():
        if not name.endswith("churn_model"):
            continue
        cells = ", ".join(
            f"{bin_[metrics.MEAN_PREDICTED]:.2f}->{bin_[metrics.OBSERVED]:.2f} (n={int(bin_[metrics.COUNT])})"
            for bin_ in table
            if bin_.get(metrics.COUNT) and bin_.get(metrics.OBSERVED) is not None
        )
        out.print(f"calibration {name} (predicted -> observed): {cells}", markup=False, highlight=False)


@export_app.command("scores")
@plain_errors
def export_scores(
    out_file: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    as_of: AsOf = None,
) -> None:
    """CSV of scores, churn probabilities and stages per account (the newest scored date by default)."""
    from cs_health.health.export import export_scores as export

    database = open_database()
    with database.transaction() as session:  # the audit event is committed only once the file is written
        frame = export(session, parse_as_of(as_of) if as_of else None)
        frame.to_csv(out_file, index=False)
        details = {"as_of": frame["as_of"].iloc[0] if len(frame) else None, "accounts": len(frame)}
        audit.record(session, Actor.cli(), AuditAction.SCORES_EXPORTED, at=now(), target=str(out_file), details=details)
    out.print(f"wrote {len(frame):,} accounts to {out_file}", markup=False, highlight=False)


@app.command()
@plain_errors
def report(
    account_id: Annotated[str, typer.Argument(help="The account to report on.")],
    period: Annotated[str, typer.Option(help="2026-10 (month) or 2026-Q3 (quarter).")],
    out_file: Annotated[Path, typer.Option("--out", help="File to write.")],
    kind: Annotated[str, typer.Option(help="monthly or qbr.")] = "monthly",
    format: Annotated[str, typer.Option(help="html or pdf.")] = "html",
    audience: Annotated[str, typer.Option(help="client (no risk figures) or internal.")] = "client",
) -> None:
    """Generate a monthly client report or QBR."""
    from cs_health.qbr import service as reports

    request = reports.parse_request(period, kind, audience, format)
    settings = get_settings()
    moment = now()
    with open_database().transaction() as session:
        generated = reports.generate(
            session,
            account_id,
            request,
            reports_dir=settings.reports_dir,
            today=moment.date(),
            now=moment,
            key_features=settings.KEY_FEATURES,
        )
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_bytes(generated.content)
        reports.audit_export(session, account_id, request, Actor.cli(), moment)
    line = f"wrote {out_file} ({len(generated.content):,} bytes; archived as {generated.path})"
    out.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
@plain_errors
def scheduler() -> None:
    """The one scheduler process (nightly run, outbox, monthly reports)."""
    from cs_health.scheduler import run_scheduler

    run_scheduler(open_database(), get_settings(), lambda line: out.print(line, markup=False, highlight=False))


@outbox_app.command("send")
@plain_errors
def outbox_send() -> None:
    """Deliver pending e-mail now."""
    from cs_health.renewals.jobs import BATCH, DeliverySummary, deliver_outbox

    settings = get_settings()
    database = open_database()
    total = DeliverySummary()
    while True:
        batch = deliver_outbox(database, settings, now=now())
        total.sent, total.written = total.sent + batch.sent, total.written + batch.written
        total.retrying, total.failed = total.retrying + batch.retrying, total.failed + batch.failed
        total.directory = batch.directory
        if batch.attempted < BATCH:
            break
    line = f"outbox: {total.sent:,} sent, {total.retrying:,} failed (will retry), {total.failed:,} failed for good"
    if total.directory is not None:
        line += f", {total.written:,} written to files in {total.directory} (no SMTP_HOST set)"
    out.print(line, markup=False, highlight=False)


@apikey_app.command("create")
@plain_errors
def apikey_create(
    scopes: Annotated[str, typer.Option(help="Comma-separated: ingest,read,admin (admin implies all).")] = "read",
    name: Annotated[str | None, typer.Option(help="A label to recognise the key by.")] = None,
    expires_days: Annotated[int | None, typer.Option("--expires-days", min=1, help="Expire after D days.")] = None,
) -> None:
    """Create an API key; prints it alone on the last line. It is shown this once and stored only hashed."""
    from cs_health.auth import service as keys

    wanted = keys.parse_scopes(scopes)
    with open_database().transaction() as session:
        created = keys.create(session, wanted, now=now(), actor=Actor.cli(), name=name, expires_days=expires_days)
    expires = f", expires {created.info.expires_at:%Y-%m-%d %H:%M} UTC" if created.info.expires_at else ""
    summary = f"created API key {created.info.prefix} ({', '.join(created.info.scopes)}{expires}); shown only once:"
    out.print(summary, markup=False, highlight=False)
    sys.stdout.write(created.key + "\n")


@apikey_app.command("list")
@plain_errors
def apikey_list() -> None:
    """The API keys (prefix, name, scopes, state, dates); never their secrets."""
    from cs_health.auth import service as keys

    with open_database().transaction() as session:
        listed = keys.list_keys(session)
    moment = now().replace(tzinfo=None)

    def when(value: dt.datetime | None) -> str:
        return f"{value:%Y-%m-%d %H:%M}" if value else "-"

    out.print("prefix\tname\tscopes\tstate\tcreated\texpires\tlast_used", markup=False, highlight=False)
    for key in listed:
        row = [key.prefix, key.name or "-", ",".join(key.scopes), key.state(moment)]
        row += [when(key.created_at), when(key.expires_at), when(key.last_used_at)]
        out.print("\t".join(row), markup=False, highlight=False)


@apikey_app.command("revoke")
@plain_errors
def apikey_revoke(prefix: Annotated[str, typer.Argument(help="The key's prefix, as `apikey list` shows it.")]) -> None:
    """Revoke an API key at once; requests with it get 401 from then on."""
    from cs_health.auth import service as keys

    with open_database().transaction() as session:
        revoked = keys.revoke(session, prefix, now=now(), actor=Actor.cli())
    out.print(f"revoked API key {revoked.prefix}", markup=False, highlight=False)


@user_app.command("create")
@plain_errors
def user_create(
    email: Annotated[str, typer.Argument(help="The login e-mail.")],
    role: Annotated[str, typer.Option(help="csm or admin.")] = "csm",
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Create a dashboard user (password at least 10 characters, stored as an argon2 hash)."""
    from cs_health.dashboard import service as dashboard

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)  # asks twice
    with open_database().transaction() as session:
        user = dashboard.create_user(session, email, role, password, now(), actor=Actor.cli())
    out.print(f"created dashboard user {user.email} (role {user.role})", markup=False, highlight=False)


def parse_since(value: str | None) -> dt.datetime | None:
    """--since as a date (midnight UTC) or an ISO 8601 time (naive means UTC); a bad one names the flag."""
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidInput(f"--since: {value!r} is not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from error


@app.command("audit")
@plain_errors
def audit_log(
    since: Annotated[str | None, typer.Option(help="Only events at or after this date or time (UTC).")] = None,
    action: Annotated[AuditAction | None, typer.Option(help="Only this action.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many events, newest first.")] = 100,
) -> None:
    """The audit log: key, user, override, scorecard, alert-rule and export events (newest first)."""
    with open_database().transaction() as session:
        page = audit.page(session, action, parse_since(since), 1, limit)
    lines = ["at\tactor\taction\ttarget\tdetails"]  # tab-separated, so it reads in a terminal and in `cut`
    for event in page.items:
        who = f"{event.actor_kind}:{event.actor}" + (f" ({event.actor_name})" if event.actor_name else "")
        details = json.dumps(event.details, ensure_ascii=False, sort_keys=True)
        lines.append("\t".join([f"{event.at:%Y-%m-%d %H:%M:%S}", who, event.action, event.target or "-", details]))
    sys.stdout.write("\n".join(lines) + "\n")
    if page.total > len(page.items):
        err.print(f"{page.total - len(page.items):,} older events not shown (use --limit or --since)", markup=False)


@app.command()
@plain_errors
def prune(
    older_than: Annotated[int, typer.Option("--older-than", min=1, help="Delete raw events older than DAYS.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count only; delete nothing.")] = False,
) -> None:
    """Delete old raw events; the daily rollups (what every score reads) are kept. A replay of a pruned event
    is no longer recognised as a duplicate, so keep at least as many days as your senders may retry."""
    from cs_health.ingestion.repository import delete_events_before

    cutoff = now().replace(tzinfo=None) - dt.timedelta(days=older_than)
    with open_database().transaction() as session:
        count = delete_events_before(session, cutoff, dry_run)
    verb = "would delete" if dry_run else "deleted"
    out.print(f"{verb} {count:,} raw events from before {cutoff:%Y-%m-%d %H:%M} UTC; rollups kept", markup=False)


@app.command()
@plain_errors
def backup(target: Annotated[Path, typer.Argument(help="The backup file to write.")]) -> None:
    """Online backup of the SQLite database (consistent while the service runs)."""
    from cs_health.db.backup import backup as copy_database

    size = copy_database(open_database(), target)
    out.print(f"backed up the database to {target} ({size:,} bytes)", markup=False, highlight=False)


def main() -> Any:
    """Console-script entry point."""
    return app()


if __name__ == "__main__":
    main()
