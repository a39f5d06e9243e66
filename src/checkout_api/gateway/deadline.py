"""A request's time budget: how long is left, measured on the monotonic clock."""

from __future__ import annotations

import time


class Deadline:
    __slots__ = ("_ends_at",)

    def __init__(self, seconds: float) -> None:
        self._ends_at = time.monotonic() + seconds

    def remaining(self) -> float:
        return max(0.0, self._ends_at - time.monotonic())

    def expired(self) -> bool:
        return self.remaining() <= 0.0
