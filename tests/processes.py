"""Starting and stopping the real `checkout-api` command as a subprocess, for tests.

Readiness is polled with short bounded attempts (never a fixed sleep), and every process is
stopped with SIGTERM, then SIGKILL only if it hangs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import leaks

EXECUTABLE = Path(sys.executable).parent / "checkout-api"
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 15.0
# Settings a test chooses itself; a developer's shell must not leak into it.
SCRUBBED_ENV_PREFIXES = (
    "STRIPE_",
    "CHECKOUT_",
    "DATABASE_",
    "DATA_ENCRYPTION_",
    "FULFILLMENT_",
    "RATE_LIMIT",
    "SESSION_RATE_LIMIT",
    "TRUSTED_PROXIES",
    "CORS_",
    "LOG_",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
)


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(SCRUBBED_ENV_PREFIXES)
    }
    env.update(extra)
    return env


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def wait_until_ready(
    urls: list[str], process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    """Poll each URL with short attempts until it answers 200; fail fast if the process died."""
    deadline = time.monotonic() + timeout
    pending = list(urls)
    with httpx.Client(timeout=0.5, trust_env=False) as client:
        while pending:
            if process.poll() is not None:
                pytest.fail(
                    f"process exited with {process.returncode} before ready:\n{log_tail(log)}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"not ready after {timeout}s ({pending[0]}):\n{log_tail(log)}")
            try:
                if client.get(pending[0]).status_code == 200:
                    pending.pop(0)
                    continue
            except httpx.TransportError:
                pass
            time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait for a clean shutdown, SIGKILL only if it hangs."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL) if _own_group(process) else process.kill()
        process.wait()


def _own_group(process: subprocess.Popen[bytes]) -> bool:
    try:
        return os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        return False


@dataclass
class ServiceProcess:
    """One `checkout-api serve` in its own process group (workers included)."""

    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, env: dict[str, str], workdir: Path, *, workers: int = 1) -> ServiceProcess:
        if not EXECUTABLE.exists():
            pytest.fail(f"{EXECUTABLE} is missing: install the package (pip install -e .)")
        port = free_port()
        log = workdir / f"serve-{port}.log"
        command = [str(EXECUTABLE), "serve", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--workers", str(workers)]
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command,
                cwd=workdir,
                env=clean_env(**env),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = cls(f"http://127.0.0.1:{port}", process, log)
        try:
            wait_until_ready([f"{service.base_url}/readyz"], process, log, READY_TIMEOUT_SECONDS)
        except BaseException:
            service.kill()
            raise
        return service

    def stop(self) -> None:
        stop(self.process)
        leaks.record_log_file(self.log)

    def kill(self) -> None:
        """SIGKILL the whole group: a crash, with no chance to clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        leaks.record_log_file(self.log)
