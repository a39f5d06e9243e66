"""Engines: turn the plain DATABASE_URL people have into an async SQLAlchemy engine.

`sqlite:///path.db` -> aiosqlite (WAL, busy timeout, directory created on first start);
`postgresql://user@host/db` (or `postgres://`) -> asyncpg.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 5000
# Every SQLite connection, SQLAlchemy's and store/sqlite_direct.py's alike.
SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON")


def async_url(database_url: str) -> str:
    url = make_url(database_url.replace("postgres://", "postgresql://", 1))
    if url.get_backend_name() == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    elif url.get_backend_name() == "postgresql":
        url = url.set(drivername="postgresql+asyncpg")
    else:
        raise ValueError(f"DATABASE_URL: unsupported database {url.get_backend_name()!r}")
    return url.render_as_string(hide_password=False)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(database_url: str, *, pool_size: int = 20) -> AsyncEngine:
    url = make_url(async_url(database_url))
    options: dict[str, Any] = {"pool_pre_ping": False}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        options["pool_size"] = 5
    else:
        options["pool_size"] = pool_size
        options["max_overflow"] = pool_size
        options["pool_recycle"] = 1800
    engine = create_async_engine(url, **options)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()
