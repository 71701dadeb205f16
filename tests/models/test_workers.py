"""Pool workers end with their parent, even one killed outright, instead of living on as orphans."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

PARENT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from models.workers import process_pool

    if __name__ == "__main__":
        pool = process_pool(1)
        Path(sys.argv[1]).write_text(str(pool.submit(os.getpid).result()))
        os.kill(os.getpid(), signal.SIGKILL)  # no shutdown, no exit handlers: as the OOM killer would
    """
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split(")")[-1].split()[0] == "Z")  # a zombie is gone


def test_a_killed_parents_workers_exit(tmp_path: Path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    root = Path(__file__).resolve().parents[2]
    written = tmp_path / "worker.pid"
    with (tmp_path / "output.txt").open("w") as output:  # a file, not a pipe: an orphan would hold a pipe open
        result = subprocess.run(
            [sys.executable, str(script), str(written)],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
    assert result.returncode == -9, (tmp_path / "output.txt").read_text()
    worker = int(written.read_text())
    for _ in range(300):  # the worker looks for its parent every second; a liveness wait, not a speed limit
        if not alive(worker):
            break
        time.sleep(0.1)
    assert not alive(worker), f"worker {worker} outlived its killed parent"
