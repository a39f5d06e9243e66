"""The whole-run secret check: no key, webhook secret or client secret in logs or responses.

`tests/conftest.py` routes the service's real logging pipeline into `LOGS`, records every
in-process response, and `tests/processes.py` adds the logs of every service subprocess.
At the end of the run `problems()` must be empty or the run fails.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

LEAK_PATTERN = re.compile(r"sk_(test|live)_\w+|rk_(test|live)_\w+|whsec_\w+|_secret_[A-Za-z0-9]")


class LogSink(io.TextIOBase):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        self.lines.append(text)
        return len(text)


LOGS = LogSink()
RESPONSES: list[tuple[str, int, str]] = []


def leaked(text: str) -> list[str]:
    return [match.group(0)[:24] for match in LEAK_PATTERN.finditer(text)]


def record_response(path: str, status: int, body: str) -> None:
    RESPONSES.append((path, status, body))


def record_log_file(path: Path) -> None:
    try:
        LOGS.lines.extend(path.read_text(errors="replace").splitlines())
    except OSError:
        pass


def problems() -> list[str]:
    found = [f"log: {line[:200]}" for line in LOGS.lines if leaked(line)]
    for path, status, body in RESPONSES:
        hits = leaked(body)
        # The one place a client secret belongs: the answer that hands it out.
        handed_out = path == "/checkoutsession" and status in (200, 201)
        if hits and not (handed_out and all(hit.startswith("_secret_") for hit in hits)):
            found.append(f"response {status} {path}: {hits}")
    return found


def summary() -> str:
    return f"{len(LOGS.lines)} log records and {len(RESPONSES)} responses"
