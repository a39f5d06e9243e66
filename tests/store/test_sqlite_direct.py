"""The direct SQLite path: writers of several processes take turns instead of failing."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from checkout_api.store import migrate
from checkout_api.store.db import create_engine
from checkout_api.store.sqlite_direct import SqliteDirect, _begin_immediate
from checkout_api.store.sqlite_sessions import SqliteSessionRepository
from checkout_api.store.wal_checkpointer import WalCheckpointer

WRITES = 200


def database(tmp_path: Path) -> str:
    path = tmp_path / "direct.db"
    migrate.upgrade(f"sqlite:///{path}")
    return str(path)


def insert_event(n: str) -> str:
    return (
        "INSERT INTO webhook_events (id, type, event_created, livemode, result, received_at)"
        f" VALUES ('evt_{n}', 't', 0, 0, 'ignored', '2026-12-04 00:00:00.000000')"
    )


async def test_two_writers_on_one_file_never_see_a_locked_database(tmp_path: Path) -> None:
    path = await asyncio.to_thread(database, tmp_path)  # migrations run their own loop
    first, second = SqliteDirect(path), SqliteDirect(path)  # like two worker processes
    try:
        await asyncio.gather(
            *(
                (first if n % 2 else second).write(
                    lambda db, n=n: db.execute(insert_event(str(n))).rowcount
                )
                for n in range(WRITES)
            )
        )
    finally:
        await first.close()
        await second.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM webhook_events").fetchone() == (WRITES,)


def test_a_writer_outside_the_file_lock_is_waited_for(tmp_path: Path) -> None:
    path = database(tmp_path)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # e.g. `purge`, through SQLAlchemy
    waiter = sqlite3.connect(path, isolation_level=None, timeout=0)
    release = threading.Timer(0.2, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        _begin_immediate(
            waiter, time.monotonic() + 5
        )  # raises "database is locked" unless it waits its turn
        waiter.execute(insert_event("after"))
        waiter.execute("COMMIT")
    finally:
        release.join()
        holder.close()
        waiter.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id FROM webhook_events").fetchall() == [("evt_after",)]


async def test_a_cancelled_claim_leaves_no_pending_row(tmp_path: Path) -> None:
    """A request cancelled while its claim waits for the writer must not strand the claim."""
    path = await asyncio.to_thread(database, tmp_path)
    engine = create_engine(f"sqlite:///{path}")
    direct = SqliteDirect(path)
    sessions = SqliteSessionRepository(engine, direct)
    other_writer = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other_writer, fcntl.LOCK_EX)  # another worker is writing
    try:
        claim = asyncio.ensure_future(sessions.insert_pending("visitor", "cart", "key-1", 0.0))
        await asyncio.sleep(0)  # the claim is queued behind the lock
        claim.cancel()
        fcntl.flock(other_writer, fcntl.LOCK_UN)  # the queued insert now commits
        with pytest.raises(asyncio.CancelledError):
            await claim
        assert await sessions.all_rows() == []
    finally:
        os.close(other_writer)
        await direct.close()
        await engine.dispose()


class _Refused(Exception):
    pass


async def test_writes_queued_together_share_one_transaction_and_fail_alone(tmp_path: Path) -> None:
    """Group commit: a failed write rolls back only its own work; the others still commit."""
    path = await asyncio.to_thread(database, tmp_path)
    direct = SqliteDirect(path)
    outsider = sqlite3.connect(path, check_same_thread=False)  # sees only committed rows

    def insert(n: str) -> Callable[[sqlite3.Connection], int]:
        def work(db: sqlite3.Connection) -> int:
            db.execute(insert_event(n))
            (committed,) = outsider.execute("SELECT count(*) FROM webhook_events").fetchone()
            return int(committed)

        return work

    def insert_then_fail(db: sqlite3.Connection) -> int:
        db.execute(insert_event("refused"))
        raise _Refused

    try:
        await direct.write(insert("warm-up"))
        writes = [  # three requests in one turn of the event loop
            direct.write(insert("first")),
            direct.write(insert_then_fail),
            direct.write(insert("second")),
        ]
        results = await asyncio.gather(*writes, return_exceptions=True)
    finally:
        await direct.close()
    # Each write saw only the warm-up row committed: all three ran in one transaction.
    assert results[0] == 1
    assert results[2] == 1
    assert isinstance(results[1], _Refused)
    rows = outsider.execute("SELECT id FROM webhook_events ORDER BY id").fetchall()
    outsider.close()
    assert rows == [("evt_first",), ("evt_second",), ("evt_warm-up",)]


async def first_checkpoint(direct: SqliteDirect) -> WalCheckpointer:
    """Open the writer with one small write and wait for the checkpoint that follows it."""
    await direct.write(lambda db: db.execute(insert_event("first")).rowcount)
    checkpointer = direct._checkpointer
    assert checkpointer is not None
    assert await asyncio.to_thread(checkpointer.checkpointed.wait, 10)
    return checkpointer


def insert_large_events(count: int) -> Callable[[sqlite3.Connection], object]:
    """About one 4 KB page per event."""
    return lambda db: [db.execute(insert_event(f"{n}-{'x' * 4000}")) for n in range(count)]


async def test_a_commit_never_checkpoints_the_wal_itself(tmp_path: Path) -> None:
    """A commit past SQLite's automatic threshold (1000 pages) leaves the database file alone."""
    path = await asyncio.to_thread(database, tmp_path)
    direct = SqliteDirect(path, checkpoint_interval=3600)  # one checkpoint, then none
    try:
        await first_checkpoint(direct)
        size_before = os.path.getsize(path)
        await direct.write(insert_large_events(1500))
        assert os.path.getsize(path) == size_before
    finally:
        await direct.close()


async def test_the_checkpoint_thread_copies_the_wal_into_the_database(tmp_path: Path) -> None:
    path = await asyncio.to_thread(database, tmp_path)
    direct = SqliteDirect(path, checkpoint_interval=0.01)
    try:
        checkpointer = await first_checkpoint(direct)
        size_before = os.path.getsize(path)
        checkpointer.checkpointed.clear()
        await direct.write(insert_large_events(100))
        assert await asyncio.to_thread(checkpointer.checkpointed.wait, 10)
        assert os.path.getsize(path) > size_before
    finally:
        await direct.close()
