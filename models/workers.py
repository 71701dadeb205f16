"""Worker process pools that end with the process that started them.

A pool's workers normally end when their parent shuts the pool down or exits. A parent killed outright (SIGKILL,
the out-of-memory killer, a crashed scheduler) shuts nothing down, and its idle workers would live on, each
holding what it last read (a reader of the usage rollups holds a gigabyte or more). Each worker here watches its
parent and exits once the parent is gone.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PARENT_CHECK_SECONDS = 1.0


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes (no fork: the parent holds database connections and threads) that
    exit when this process is gone."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def _exit_with_parent(parent: int) -> None:
    """Runs in each worker as it starts: a daemon thread that ends the worker once `parent` is no longer its
    parent (an orphan is re-parented, so its parent id changes)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
