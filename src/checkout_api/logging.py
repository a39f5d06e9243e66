"""Structured logging: JSON lines by default, `LOG_FORMAT=console` for people.

Every record, ours and the libraries' (uvicorn, stripe, sqlalchemy), passes through `redact`
before it is rendered: Stripe keys, webhook secrets, client secrets and anything shaped like a
card number are masked wherever they appear, in any field, and fields named like secrets
are dropped to a marker.

Our own records take structlog's native path (a level-filtering logger writing rendered lines
to the stream); only the libraries' records go through the standard library's `logging`. At
INFO every request logs two lines, and through `logging` each cost about 48 microseconds
against 18 this way (docs/performance.md, "Logging").
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

SECRET_PATTERN = re.compile(
    r"(?:sk|rk|pk)_(?:test|live)_[A-Za-z0-9]+"  # API keys (publishable ones are masked too)
    r"|whsec_[A-Za-z0-9+/=_-]+"  # webhook signing secrets
    r"|\b(?:cs|pi|seti)_[A-Za-z0-9_]*?_secret_[A-Za-z0-9_]+"  # client secrets
    r"|(?<![0-9A-Za-z_])[2-6](?:[ -]?\d){12,18}(?![0-9A-Za-z_])"  # card-number-shaped runs
)
SECRET_FIELDS = frozenset(
    {
        "client_secret",
        "clientsecret",
        "secret",
        "api_key",
        "authorization",
        "password",
        "stripe_secret_key",
        "webhook_secret",
        "card",
        "card_number",
        "number",
        "cvc",
    }
)
REDACTED = "[redacted]"
# Library loggers and the least severe level they may log at, whatever LOG_LEVEL says.
LIBRARY_FLOORS = {
    "stripe": logging.WARNING,  # at DEBUG the SDK logs response bodies, client secrets included
    "sqlalchemy": logging.WARNING,  # INFO and below is SQL with its parameters
    "aiosqlite": logging.INFO,  # DEBUG: every statement with its parameters
    "asyncpg": logging.INFO,
    "alembic": logging.INFO,
    "asyncio": logging.INFO,
    "aiohttp": logging.INFO,
    "httpcore": logging.INFO,
    "httpx": logging.INFO,
    "hpack": logging.INFO,
    "redis": logging.INFO,
    "multipart": logging.INFO,
    "python_multipart": logging.INFO,
}


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return SECRET_PATTERN.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: REDACTED if _secret_name(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _secret_name(name: object) -> bool:
    return isinstance(name, str) and name.lower().replace("-", "_") in SECRET_FIELDS


def redact(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    if _plainly_clean(event_dict):
        return event_dict
    return redact_each_field(event_dict)


def redact_each_field(event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event_dict.items():
        if _secret_name(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str | dict | list | tuple):
            event_dict[key] = _scrub(value)
    return event_dict


def _plainly_clean(event_dict: MutableMapping[str, Any]) -> bool:
    """True when a flat record has no secret-named field and no value `SECRET_PATTERN` matches.

    The common case, answered with one regex scan: the string values joined by NUL, which no
    alternative of the pattern can match across (each needs letters, digits, `_` or the
    boundaries around a run of digits), so a match in the joined text is a match in a value.
    """
    texts = []
    for key, value in event_dict.items():
        if _secret_name(key):
            return False
        if isinstance(value, str):
            texts.append(value)
        elif not (value is None or isinstance(value, int | float)):
            return False  # nested or foreign values: the field-by-field walk
    return SECRET_PATTERN.search("\x00".join(texts)) is None


def _orjson_dumps(value: Any, **_kwargs: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def configure_logging(
    level: str = "INFO", fmt: str = "json", stream: Any = None, *, cache_loggers: bool = True
) -> None:
    # Both paths add the same fields; the libraries' records also carry `extra=` fields.
    enrich: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    finish: list[Any] = [structlog.processors.format_exc_info, redact]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    )
    stream = stream or sys.stderr
    structlog.configure(
        processors=[*enrich, *finish, renderer],
        logger_factory=_NamedWriteLoggerFactory(stream),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=cache_loggers,
    )
    # Only the libraries' records reach this handler (ours never pass through `logging`).
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*enrich, structlog.stdlib.ExtraAdder(), *finish],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries that would print tracebacks or bodies: route through us, quiet where needed.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # we log access ourselves
    # LOG_LEVEL=DEBUG is for our own records. Libraries' debug records carry raw SQL
    # parameters and wire data (session ids, customer emails, sealed secrets) that no
    # pattern can redact.
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))


class _NamedWriteLogger(structlog.WriteLogger):
    """structlog's line writer, carrying the name it was asked for (the `logger` field)."""

    def __init__(self, file: Any, name: str) -> None:
        super().__init__(file)
        self.name = name


class _NamedWriteLoggerFactory:
    def __init__(self, file: Any) -> None:
        self._file = file

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(self._file, args[0] if args else "")
