"""/metrics with `serve --workers 2` and PROMETHEUS_MULTIPROC_DIR: any worker answers for all."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict

from checkout_api.metrics import _forget_dead_workers
from tests.conftest import EmulatorHandle
from tests.hardening.conftest import metric, service_env
from tests.processes import ServiceProcess

pytestmark = pytest.mark.slow

SESSIONS = 30


async def test_every_worker_reports_the_sum_of_all_workers(
    emulator: EmulatorHandle, database_url: str, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"stale")  # a previous run's file
    env = service_env(emulator, database_url, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    service = ServiceProcess.start(env, tmp_path, workers=2)
    try:
        # A fresh connection per request, so the kernel spreads them over both workers.
        async def create(n: int) -> int:
            async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
                url = f"{service.base_url}/checkoutsession"
                return (await http.post(url, json={"session_id": f"mp-{n}"})).status_code

        statuses = await asyncio.gather(*(create(n) for n in range(SESSIONS)))
        assert statuses == [201] * SESSIONS

        readings = []
        for _ in range(4):
            async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
                text = (await http.get(f"{service.base_url}/metrics")).text
            readings.append(metric(text, "checkout_sessions_total", result="created"))
        # Live gauges are per worker process (and go at a clean stop, so look now).
        writers = {path.stem.rsplit("_", 1)[1] for path in metrics_dir.glob("gauge_*.db")}
    finally:
        service.stop()

    assert readings == [float(SESSIONS)] * 4
    assert not (metrics_dir / "counter_999999.db").exists()
    assert len(writers) >= 2, f"only {writers} wrote metrics"


def test_a_crashed_workers_live_gauges_are_dropped_at_the_next_scrape(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])  # a pid that is gone once reaped
    dead.wait()
    for name in (f"gauge_livesum_{dead.pid}.db", f"gauge_livesum_{os.getpid()}.db"):
        MmapedDict(str(tmp_path / name)).close()

    _forget_dead_workers(str(tmp_path))

    assert sorted(p.name for p in tmp_path.iterdir()) == [f"gauge_livesum_{os.getpid()}.db"]
