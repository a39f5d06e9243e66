"""Migrations reach head on a fresh database and from the first revision; purge keeps the rest."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, inspect, select, text

from checkout_api.store import migrate
from checkout_api.store.db import create_engine
from checkout_api.store.retention import purge_finished
from checkout_api.store.sessions import now_utc
from checkout_api.store.tables import checkout_sessions, fulfillments, webhook_events
from tests.processes import EXECUTABLE, clean_env

HEAD = "0002"


async def read(database_url: str, work: Any) -> Any:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            return await work(connection)
    finally:
        await engine.dispose()


async def revision(connection: Any) -> str:
    return str(
        (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    )


async def tables(connection: Any) -> set[str]:
    return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


def session_row(n: int, state: str, age_days: int, **extra: Any) -> dict[str, Any]:
    stamp = now_utc() - timedelta(days=age_days)
    return {
        "payment_status": None,
        "fulfilled_at": None,
        "session_id": f"s{n}",
        "cart_fingerprint": "f",
        "idempotency_key": f"k{n}",
        "state": state,
        "stripe_id": f"cs_test_{n}",
        "status": state if state != "superseded" else "open",
        "created_at": stamp,
        "updated_at": stamp,
        **extra,
    }


def test_fresh_database_reaches_head(database_url: str) -> None:
    migrate.upgrade(database_url)

    assert asyncio.run(read(database_url, revision)) == HEAD
    assert {"checkout_sessions", "webhook_events", "fulfillments"} <= asyncio.run(
        read(database_url, tables)
    )


def test_upgrade_from_the_first_migration_keeps_the_data(database_url: str) -> None:
    migrate.upgrade(database_url, "0001")

    async def seed(connection: Any) -> None:
        await connection.execute(
            text(
                "INSERT INTO checkout_sessions (session_id, cart_fingerprint, idempotency_key, state,"
                " stripe_id, status, created_at, updated_at) VALUES"
                " ('s1', 'f', 'k1', 'open', 'cs_test_1', 'open', :now, :now)"
            ),
            {"now": now_utc()},
        )

    asyncio.run(read(database_url, seed))
    migrate.upgrade(database_url)

    async def check(connection: Any) -> Any:
        return (
            await connection.execute(
                select(checkout_sessions.c.stripe_id, checkout_sessions.c.fulfilled_at)
            )
        ).all()

    assert asyncio.run(read(database_url, revision)) == HEAD
    assert [tuple(r) for r in asyncio.run(read(database_url, check))] == [("cs_test_1", None)]


def test_concurrent_starters_migrate_once(database_url: str, tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=database_url)
    runs = [
        subprocess.Popen(
            [str(EXECUTABLE), "migrate"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(3)
    ]
    outputs = [run.communicate(timeout=120)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert asyncio.run(read(database_url, revision)) == HEAD


def test_purge_deletes_only_finished_records_past_the_cut_off(
    database_url: str, tmp_path: Path
) -> None:
    migrate.upgrade(database_url)
    rows = [
        session_row(1, "expired", 40),
        session_row(2, "superseded", 40),
        session_row(3, "complete", 40, payment_status="paid", fulfilled_at=now_utc()),
        session_row(4, "complete", 40, payment_status="paid"),  # paid, not yet fulfilled: kept
        session_row(5, "open", 40),  # still open: kept
        session_row(6, "expired", 5),  # too recent: kept
    ]

    async def seed(connection: Any) -> None:
        await connection.execute(insert(checkout_sessions), rows)
        await connection.execute(
            insert(webhook_events).values(
                id="evt_old",
                type="x",
                event_created=0,
                livemode=False,
                result="ignored",
                received_at=now_utc() - timedelta(days=40),
            )
        )
        await connection.execute(
            insert(fulfillments).values(
                stripe_id="cs_test_9",
                session_id="s9",
                attempts=0,
                next_attempt_at=0,
                created_at=now_utc() - timedelta(days=40),
            )
        )

    asyncio.run(read(database_url, seed))

    result = subprocess.run(
        [str(EXECUTABLE), "purge", "--older-than", "30"],
        env=clean_env(DATABASE_URL=database_url),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "3 sessions, 1 webhook_events, 0 fulfillments" in result.stdout

    async def left(connection: Any) -> Any:
        return sorted(
            (await connection.execute(select(checkout_sessions.c.stripe_id))).scalars().all()
        )

    assert asyncio.run(read(database_url, left)) == ["cs_test_4", "cs_test_5", "cs_test_6"]
    assert asyncio.run(purge_finished_now(database_url)) == {
        "sessions": 0,
        "webhook_events": 0,
        "fulfillments": 0,
    }


async def purge_finished_now(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        return await purge_finished(engine, now_utc() - timedelta(days=30))
    finally:
        await engine.dispose()
