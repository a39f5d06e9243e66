"""The servers under test and how each is started: the service, the quickstart baselines, and
the Stripe stand-in. All listen on 127.0.0.1 only; the environment handed to them is scrubbed of
proxy variables so that no request can leave the machine.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from harness import procs

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
VENV_BIN = Path(sys.executable).parent
SERVICE_BIN = VENV_BIN / "checkout-api"
WEBHOOK_SECRET = "whsec_bench"
PRICE = "price_bench_1"
_SCRUB = ("STRIPE_", "CHECKOUT_", "DATABASE_URL", "RATE_LIMIT", "SESSION_RATE_LIMIT", "LOG_")
_PROXY = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy"}


def base_env() -> dict[str, str]:
    """The parent's environment minus proxies and any service settings; loopback never proxied."""
    env = {
        k: v for k, v in os.environ.items() if k.lower() not in _PROXY and not k.startswith(_SCRUB)
    }
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", PYTHONUNBUFFERED="1")
    return env


@dataclass(frozen=True)
class Target:
    """A server under test: name, routes, and the argv/env that start it."""

    name: str
    label: str
    create_path: str
    webhook_path: str
    ready_path: str
    kinds: frozenset[str] = frozenset({"new", "reuse", "webhook"})  # the scenarios it serves

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def command(
        self,
        port: int,
        standin_url: str,
        workers: int,
        threads: int,
        tmp: Path,
        extra: dict[str, str],
    ) -> tuple[list[str], dict[str, str], str | None]:
        env = base_env()
        if self.name == "service":
            env.update(
                STRIPE_SECRET_KEY="sk_test_bench",
                STRIPE_API_BASE=standin_url,
                CHECKOUT_PRICES=PRICE,
                CHECKOUT_RETURN_URL="http://127.0.0.1/return?session_id={CHECKOUT_SESSION_ID}",
                DATABASE_URL=f"sqlite:///{tmp}/bench.db",
                STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
                LOG_LEVEL="WARNING",
                RATE_LIMIT="1000000/second",
                SESSION_RATE_LIMIT="1000000/second",
            )
            env.update(extra)
            argv = [
                str(SERVICE_BIN),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ]
            return argv, env, str(tmp)  # cwd: a scratch dir, so no developer .env is read
        env.update(
            STRIPE_SECRET_KEY="sk_test_bench",
            STRIPE_API_BASE=standin_url,
            CHECKOUT_PRICE=PRICE,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        if self.name in ("lean", "lean-sdk"):
            argv = [
                sys.executable,
                str(BENCH_DIR / "baselines" / "lean_proxy.py"),
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--client",
                "sdk" if self.name == "lean-sdk" else "aiohttp",
            ]
        elif self.name == "gunicorn":
            argv = [
                str(VENV_BIN / "gunicorn"),
                "--chdir",
                str(BENCH_DIR / "baselines"),
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(threads),
                "--bind",
                f"127.0.0.1:{port}",
                "--backlog",
                "2048",
                "--log-level",
                "warning",
                "quickstart_flask:app",
            ]
        else:  # flask-dev: `python server.py` -> app.run(port=...), as the quickstart runs it
            argv = [
                sys.executable,
                str(BENCH_DIR / "baselines" / "quickstart_flask.py"),
                "--port",
                str(port),
            ]
        return argv, env, str(tmp)


SERVICE = Target("service", "checkout-api (uvicorn)", "/checkoutsession", "/webhook", "/readyz")
GUNICORN = Target(
    "gunicorn",
    "quickstart Flask, gunicorn gthread",
    "/create-checkout-session",
    "/webhook",
    "/healthz",
)
FLASK_DEV = Target(
    "flask-dev",
    "quickstart Flask, app.run (1 process)",
    "/create-checkout-session",
    "/webhook",
    "/healthz",
)
LEAN = Target(
    "lean",
    "lean aiohttp proxy (no SDK, no store): a reference floor",
    "/checkoutsession",
    "",
    "/healthz",
    kinds=frozenset({"new"}),
)
LEAN_SDK = Target(
    "lean-sdk",
    "the same proxy through the Stripe SDK: what the SDK costs",
    "/checkoutsession",
    "",
    "/healthz",
    kinds=frozenset({"new"}),
)
TARGETS = {t.name: t for t in (SERVICE, GUNICORN, FLASK_DEV, LEAN, LEAN_SDK)}
DEFAULT_TARGETS = ("service", "gunicorn", "flask-dev", "lean")  # lean-sdk: on request


def service_available() -> str | None:
    """None if `checkout-api serve` can be started, else why not."""
    if not SERVICE_BIN.exists():
        return f"{SERVICE_BIN} is missing (pip install -e . in the venv?)"
    if not (REPO / "src" / "checkout_api" / "cli.py").exists():
        return "src/checkout_api/cli.py does not exist yet"
    return None


def start_standin(port: int, latency_ms: float, log_dir: Path) -> procs.Proc:
    argv = [
        sys.executable,
        str(BENCH_DIR / "standin.py"),
        "--port",
        str(port),
        "--latency-ms",
        f"{latency_ms:g}",
    ]
    proc = procs.start(f"standin-{port}", argv, base_env(), log_dir)
    procs.wait_ready(proc, f"http://127.0.0.1:{port}/_standin/stats", timeout=15)
    return proc


def start_target(
    target: Target,
    port: int,
    standin_url: str,
    workers: int,
    threads: int,
    tmp: Path,
    service_env: dict[str, str] | None = None,
) -> procs.Proc:
    scratch = tmp / f"{target.name}-{port}"
    scratch.mkdir(parents=True, exist_ok=True)
    argv, env, cwd = target.command(port, standin_url, workers, threads, scratch, service_env or {})
    proc = procs.start(f"{target.name}-{port}", argv, env, tmp, cwd=cwd)
    try:
        procs.wait_ready(proc, target.url(port) + target.ready_path, timeout=60)
    except procs.StartError:
        proc.stop()
        raise
    return proc
