"""Direct SQLite access for the hot paths: reads inline, writes on one writer thread.

Why not SQLAlchemy + aiosqlite here: every statement through them costs several thread hops
plus statement building and cache-key work. Measured on the benchmark machine
(docs/performance.md): `find_active` 0.90 ms and `insert_pending` 1.15 ms of CPU through
SQLAlchemy + aiosqlite, against 0.011 ms and 0.24 ms here. The repositories that use this
(`sqlite_sessions.py`, `sqlite_lifecycle.py`) cover creating, reusing and webhook intake;
everything else stays on SQLAlchemy, and Alembic still owns the schema.

- Reads run inline on the event loop: in WAL mode a reader never waits for a writer, and an
  indexed lookup costs about 10 microseconds, less than a thread hop.
- Writes that arrive together share one transaction (group commit, each under its own
  savepoint; see `SqliteDirect.write`), run on one writer thread per process, so the event
  loop never waits for a lock another process holds.
- Writers of all processes queue on a kernel file lock (`flock`) before `BEGIN IMMEDIATE`:
  the kernel hands the lock over the moment it is free. SQLite's own busy handler polls with
  sleeps that grow to 100 ms, which made the latency tail of two writing processes long.
  Writers that do not take the file lock (the SQLAlchemy paths, `purge`) still get SQLite's
  locking; `BEGIN IMMEDIATE` is retried every 0.2-1 ms while they hold it.
- WAL checkpoints run on their own thread (`wal_checkpointer.py`), never inside a commit.
- Reads wait at most 0.25 s for a lock (only WAL recovery takes one), as they run on the loop;
  opening the reader (once per process) may wait for a committing writer.

Values are written as SQLAlchemy's SQLite dialect writes them (datetimes as
`YYYY-MM-DD HH:MM:SS.ffffff` UTC, booleans as 0/1), so both paths read each other's rows.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import random
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from checkout_api.store.db import SQLITE_BUSY_TIMEOUT_MS, SQLITE_PRAGMAS
from checkout_api.store.wal_checkpointer import CHECKPOINT_INTERVAL_SECONDS, WalCheckpointer

T = TypeVar("T")
_LOCK_RETRY_SECONDS = (0.0002, 0.001)
READ_BUSY_TIMEOUT_SECONDS = 0.25


def database_file(engine: AsyncEngine) -> str | None:
    """The SQLite file behind `engine`, or None (not SQLite, or in memory)."""
    url = make_url(engine.url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


class SqliteDirect:
    def __init__(
        self, path: str, *, checkpoint_interval: float = CHECKPOINT_INTERVAL_SECONDS
    ) -> None:
        self._path = path
        self._checkpoint_interval = checkpoint_interval
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._lock_file: int | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-write")
        self._queued: list[_Write[Any]] = []
        self._batch_in_flight = False
        self._checkpointer: WalCheckpointer | None = None

    def read_one(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if self._reader is None:
            self._reader = _connect(self._path, timeout=READ_BUSY_TIMEOUT_SECONDS)
        row: tuple[Any, ...] | None = self._reader.execute(sql, args).fetchone()
        return row

    def write(self, work: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        """Run `work(connection)` under its own savepoint in the next group transaction.

        Group commit: the writes of concurrent requests made in one turn of the event loop,
        or while the previous transaction is on the writer thread, go together into one
        transaction, each under a savepoint, so one failure rolls back only its own work.
        One lock turn and one COMMIT then serve many requests: with one transaction per
        write, thread hops and lock turns were most of a write's latency
        (docs/performance.md). The future resolves only after COMMIT; cancelling it after
        the batch has started does not undo the work.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queued.append(_Write(work, future))
        if not self._batch_in_flight:
            self._batch_in_flight = True
            loop.call_soon(self._start_batch, loop)  # the rest of this loop turn joins it
        return future

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close_writer)
        self._thread.shutdown(wait=True)
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
            self._checkpointer = None

    def _start_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = [write for write in self._queued if not write.future.cancelled()]
        self._queued = []
        if not batch:
            self._batch_in_flight = False
            return
        done = loop.run_in_executor(self._thread, self._commit_when_free, batch)
        done.add_done_callback(
            lambda finished: self._finish_batch(loop, batch, finished.exception())
        )

    def _finish_batch(
        self, loop: asyncio.AbstractEventLoop, batch: list[_Write[Any]], error: BaseException | None
    ) -> None:
        if error is None and self._checkpointer is not None:
            self._checkpointer.committed()
        for write in batch:
            if write.future.cancelled():
                continue
            if error is not None:
                write.future.set_exception(error)
            elif write.error is not None:
                write.future.set_exception(write.error)
            else:
                write.future.set_result(write.result)
        if self._queued:
            loop.call_soon(self._start_batch, loop)
        else:
            self._batch_in_flight = False

    def _commit_when_free(self, batch: list[_Write[Any]]) -> None:
        """On the writer thread: wait for the lock, then commit `batch`."""
        db, lock = self._open_writer()
        give_up = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
        # Blocking: the kernel hands the lock over the moment it is released. Polling it instead
        # (every 0.05-1 ms) measured a p99 of 0.6-0.9 s for webhook intake against 0.11 s.
        # A holder that is killed releases it at once; only a stopped one would hold it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            _begin_immediate(db, give_up)
            _commit(db, batch)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

    def _open_writer(self) -> tuple[sqlite3.Connection, int]:
        if self._writer is None or self._lock_file is None:
            self._writer = _connect(self._path, timeout=0)
            self._writer.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job
            self._lock_file = os.open(f"{self._path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
            self._checkpointer = WalCheckpointer(
                lambda: _connect(self._path, timeout=0), self._checkpoint_interval
            )
        return self._writer, self._lock_file

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None


class _Write(Generic[T]):
    """One caller's work in a group transaction, and what came of it."""

    __slots__ = ("error", "future", "result", "work")

    def __init__(self, work: Callable[[sqlite3.Connection], T], future: asyncio.Future[T]) -> None:
        self.work = work
        self.future = future
        self.result: T | None = None
        self.error: Exception | None = None

    def run(self, db: sqlite3.Connection) -> None:
        db.execute("SAVEPOINT write")
        try:
            self.result = self.work(db)
        except Exception as error:
            if not db.in_transaction:
                raise  # SQLite rolled the whole transaction back (e.g. disk full): all fail
            db.execute("ROLLBACK TO write")  # this caller's failure only: the rest commit
            self.error = error
        db.execute("RELEASE write")


def _commit(db: sqlite3.Connection, batch: list[_Write[Any]]) -> None:
    """Run each write of `batch` in the open transaction, then COMMIT; all or nothing on error."""
    try:
        for write in batch:
            write.run(db)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # also after a failed COMMIT, so the next BEGIN works
            db.execute("ROLLBACK")
        raise


def _begin_immediate(db: sqlite3.Connection, give_up: float) -> None:
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > give_up:
                raise
        time.sleep(random.uniform(*_LOCK_RETRY_SECONDS))  # the writer thread, not the loop


def _connect(path: str, *, timeout: float) -> sqlite3.Connection:
    """A connection whose busy timeout is `timeout`; its set-up may wait for other writers."""
    # isolation_level=None: we issue BEGIN/COMMIT ourselves.
    db = sqlite3.connect(
        path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    for pragma in SQLITE_PRAGMAS:  # journal_mode needs a lock a committing writer may hold
        db.execute(pragma)
    db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return db


def now_text() -> str:
    """Now, as SQLAlchemy's SQLite dialect stores a DateTime."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def parse_datetime(value: str | None) -> datetime | None:
    """A stored DateTime, read back as SQLAlchemy's SQLite dialect reads it (naive UTC)."""
    return None if value is None else datetime.fromisoformat(value)
