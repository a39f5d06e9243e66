"""WAL checkpoints off the write path, for the writer in `sqlite_direct.py`.

SQLite checkpoints by default inside the COMMIT that takes the WAL past 1000 pages: that
commit copies the pages into the database file first. Measured here, a checkpoint of a few
thousand pages takes 35-50 ms, during which that commit holds the write lock that every
writer of every worker queues on. `SqliteDirect`'s writer therefore has automatic
checkpoints off and this thread checkpoints instead, twice a second when something was
written. PASSIVE mode never blocks writers or readers, so commits go on while it copies.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger("checkout_api.store")

CHECKPOINT_INTERVAL_SECONDS = 0.5


class WalCheckpointer:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        interval: float = CHECKPOINT_INTERVAL_SECONDS,
    ) -> None:
        self._connect = connect
        self._interval = interval
        self._written = threading.Event()
        self._stopping = threading.Event()
        self.checkpointed = threading.Event()  # set after each run, for tests
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        """Something was written: checkpoint at the next turn."""
        self._written.set()

    def stop(self) -> None:
        self._stopping.set()
        self._written.set()
        self._thread.join()

    def _run(self) -> None:
        db: sqlite3.Connection | None = None
        try:
            while True:
                self._written.wait()
                self._written.clear()
                if self._stopping.is_set():
                    return
                try:
                    db = db or self._connect()
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:  # e.g. another process checkpointing
                    log.warning("sqlite.checkpoint_failed", error_type=type(error).__name__)
                    self._written.set()  # try again at the next turn
                self.checkpointed.set()
                self._stopping.wait(self._interval)  # at most one run per interval
        finally:
            if db is not None:
                db.close()
