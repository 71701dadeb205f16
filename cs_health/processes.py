"""Whether a process recorded earlier (a run's owner, an import's scratch stage) still exists on this host."""

from __future__ import annotations

import os


def process_alive(pid: int) -> bool:
    """Signal 0 checks the process without touching it; a PermissionError means someone else's process holds
    that id now, which is alive as far as anyone can tell."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
