"""A fulfillment hook for tests, configured as FULFILLMENT_HOOK=tests.checkout.hooks:record."""

from __future__ import annotations

import asyncio
from typing import Any

calls: list[Any] = []
failures_left = 0
called = asyncio.Event()


async def record(fulfilled: Any) -> None:
    global failures_left
    calls.append(fulfilled)
    called.set()
    if failures_left > 0:
        failures_left -= 1
        raise RuntimeError("the shop's system is down")


def reset(*, fail_times: int = 0) -> asyncio.Event:
    global failures_left, called
    calls.clear()
    failures_left = fail_times
    called = asyncio.Event()
    return called
