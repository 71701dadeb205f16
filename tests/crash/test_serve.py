"""`cs-health serve` as a real process with its default event writer process: a writer killed with SIGKILL is
replaced by the next request, and Ctrl+C on the terminal (SIGINT to the whole process group) stops the server and
its writer cleanly, with every answered event stored and no process left behind."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from cs_health.db.engine import Database
from cs_health.db.tables import DailyUsage, UsageEvent
from tests.crash.support import SAFETY_SECONDS, wait_until

pytestmark = pytest.mark.slow

AT = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(tzinfo=None).isoformat()


def events(prefix: str, count: int = 50) -> list[dict[str, object]]:
    return [
        {"account_id": "acc-1", "event": "login", "timestamp": AT, "message_id": f"{prefix}-{n}"} for n in range(count)
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children(pid: int) -> list[int]:
    """Live (not yet exited) child processes of `pid`, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if entry.name.isdigit() and fields[1] == str(pid) and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Whether `pid` is a live process (an exited one not yet reaped by its parent is a zombie, not live)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def writer_of(server: subprocess.Popen[str]) -> int:
    """The event writer process among the server's children (multiprocessing's resource tracker is the other)."""
    for pid in children(server.pid):
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    raise AssertionError("the server has no event writer process")


def stored(database: Database) -> tuple[int, int]:
    with database.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(UsageEvent)) or 0,
            session.scalar(select(func.coalesce(func.sum(DailyUsage.events), 0))) or 0,
        )


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> subprocess.Popen[str]:
    if not Path("/proc/self/stat").exists():
        pytest.skip("finds the writer process through Linux /proc")
    port = free_port()
    environment = {**os.environ, "CS_HEALTH_DATABASE_URL": database_url, "CS_HEALTH_INGEST_WRITER": "process"}
    process = subprocess.Popen(
        [sys.executable, "-m", "cs_health.cli", "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it
    )
    process.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]

    def answering() -> bool:
        try:
            return httpx.get(f"{process.url}/healthz", timeout=1).status_code == 200  # type: ignore[attr-defined]
        except httpx.TransportError:
            return False

    wait_until(answering, process, "the server answered")
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=SAFETY_SECONDS)


def test_a_killed_writer_is_replaced_and_ctrl_c_stops_server_and_writer_cleanly(
    server: subprocess.Popen[str], ingest_key: str, database: Database
) -> None:
    headers = {"Authorization": f"Bearer {ingest_key}"}
    url = server.url  # type: ignore[attr-defined]
    with httpx.Client(base_url=url, headers=headers, timeout=SAFETY_SECONDS) as client:
        assert client.post("/api/v1/events", json=events("first")).json()["accepted"] == 50
        first_writer = writer_of(server)
        os.kill(first_writer, signal.SIGKILL)
        # gone from /proc once the server has reaped it, which it does after it has seen the pipe close
        wait_until(lambda: not Path(f"/proc/{first_writer}").exists(), server, "the server reaped the killed writer")
        answer = client.post("/api/v1/events", json=events("second"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 50
        second_writer = writer_of(server)
        assert second_writer != first_writer
        assert client.post("/api/v1/events", json=events("third")).json()["accepted"] == 50

    os.killpg(server.pid, signal.SIGINT)  # Ctrl+C: the terminal signals the whole group
    server.wait(timeout=SAFETY_SECONDS)
    assert server.returncode == 0, server.stderr.read() if server.stderr else ""
    assert not running(second_writer), "the writer process outlived its server"
    assert stored(database) == (150, 150)
