"""A client that vanishes mid-response must not take the server down.

Regression: `checkout-api` once restored SIGPIPE's default action for every command, so a
response written to a connection the client had already closed killed the serving process
(seen under the benchmark's load: wrk closing its connections mid-request). Writing to a dead
socket raises SIGPIPE at a moment no test controls, so this sends the signal itself: whatever
raises it, the servers must carry on.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
import pytest

from tests.conftest import EmulatorHandle
from tests.hardening.conftest import service_env
from tests.processes import ServiceProcess

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("workers", [1, 2])
def test_sigpipe_does_not_stop_the_server(
    emulator: EmulatorHandle, sqlite_url: str, tmp_path: Path, workers: int
) -> None:
    service = ServiceProcess.start(service_env(emulator, sqlite_url), tmp_path, workers=workers)
    try:
        serving = [service.process.pid, *child_pids(service.process.pid)]
        for pid in serving:
            os.kill(pid, signal.SIGPIPE)
        with httpx.Client(timeout=10, trust_env=False) as http:
            answer = http.post(f"{service.base_url}/checkoutsession", json={"session_id": "v1"})
        assert answer.status_code == 201
        # Every process that was serving still is (a dead worker would have been replaced).
        assert [service.process.pid, *child_pids(service.process.pid)] == serving
        assert len(serving) >= (1 if workers == 1 else 1 + workers)  # the signal reached them
    finally:
        service.stop()


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []
