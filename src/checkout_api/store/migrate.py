"""Run Alembic migrations to head, safely when several instances start at once.

PostgreSQL: a session-level advisory lock serialises the upgrades of concurrent starters.
SQLite: an exclusive file lock beside the database does the same across processes.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from checkout_api.config import sqlite_path
from checkout_api.store.db import create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ADVISORY_LOCK_ID = 7_245_193_001  # any constant; names "checkout-api migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Blocking: bring the database to `revision`. Call from a thread in async code."""
    with _file_lock(database_url):
        asyncio.run(_upgrade(database_url, revision))


async def _upgrade(database_url: str, revision: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_upgrade_on, alembic_config(database_url), revision)
            await connection.commit()
    finally:
        await engine.dispose()


def _upgrade_on(connection: Connection, config: Config, revision: str) -> None:
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": ADVISORY_LOCK_ID})
        connection.commit()
    try:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    finally:
        if postgres:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": ADVISORY_LOCK_ID})


@contextmanager
def _file_lock(database_url: str) -> Iterator[None]:
    path = sqlite_path(database_url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate-lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
