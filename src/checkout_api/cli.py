"""The `checkout-api` command: serve, migrate, purge, emulator, demo."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from checkout_api.config import Settings, StoreSettings, describe_errors, load_settings

DEMO_SECRET_KEY = "sk_test_emulator"
DEMO_PUBLISHABLE_KEY = "pk_test_emulator"
DEMO_WEBHOOK_SECRET = "whsec_demo_emulator_signing_secret"
DEMO_PRICES = "price_demo_tshirt,price_demo_mug"


def _settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ValidationError as error:
        _exit_with(error)


def _store_settings_or_exit() -> StoreSettings:
    try:
        return StoreSettings()
    except ValidationError as error:
        _exit_with(error)


def _exit_with(error: ValidationError) -> NoReturn:
    for line in describe_errors(error):
        print(f"checkout-api: configuration error: {line}", file=sys.stderr)
    raise SystemExit(2) from None


def _uvicorn_config(settings: Settings, app: Any, host: str, port: int, workers: int) -> Any:
    import uvicorn

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=workers,
        factory=isinstance(app, str),
        loop="uvloop",
        http="httptools",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=True,
        proxy_headers=False,  # TRUSTED_PROXIES decides, in api/limits.py
        backlog=4096,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )


PROMETHEUS_FILE_KINDS = ("counter", "gauge", "histogram", "summary")


def _reset_metrics_dir() -> None:
    """Before any worker imports `metrics`: drop the metric files a previous run left."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for kind in PROMETHEUS_FILE_KINDS:  # only prometheus_client's own files, never others
        for stale in path.glob(f"{kind}_*.db"):
            stale.unlink()


def serve(host: str, port: int, workers: int, **overrides: Any) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from checkout_api.logging import configure_logging
    from checkout_api.store import migrate

    settings = _settings_or_exit(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    _reset_metrics_dir()
    if workers > 1:
        if settings.migrate_on_start:
            migrate.upgrade(settings.database_url)
        os.environ["MIGRATE_ON_START"] = "false"  # done once, here, for every worker
        config = _uvicorn_config(
            settings, "checkout_api.asgi:create_app_from_env", host, port, workers
        )
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    from checkout_api.app import create_app

    server = uvicorn.Server(_uvicorn_config(settings, create_app(settings), host, port, 1))
    server.run()
    if not server.started:
        raise SystemExit(3)


def run_migrate() -> None:
    from checkout_api.store import migrate

    settings = _store_settings_or_exit()
    migrate.upgrade(settings.database_url)
    print("checkout-api: database is at the latest migration")


def run_purge(days: int) -> None:
    from checkout_api.store.db import create_engine
    from checkout_api.store.retention import purge_finished
    from checkout_api.store.sessions import now_utc

    settings = _store_settings_or_exit()

    async def purge() -> dict[str, int]:
        engine = create_engine(settings.database_url)
        try:
            return await purge_finished(engine, now_utc() - timedelta(days=days))
        finally:
            await engine.dispose()

    counts = asyncio.run(purge())
    summary = ", ".join(f"{count} {table}" for table, count in counts.items())
    print(f"checkout-api: purged records finished over {days} days ago: {summary}")


def run_emulator(
    host: str,
    port: int,
    latency_ms: float,
    rate_limit: float | None,
    webhook_url: str | None,
    webhook_secret: str | None,
) -> None:
    from checkout_api.emulator import EmulatorConfig, run

    run(
        host,
        port,
        EmulatorConfig(
            latency_ms=latency_ms,
            rate_limit_per_second=rate_limit,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
        ),
    )


def run_demo(host: str, port: int, emulator_port: int) -> None:
    """The emulator and the service together on loopback: no keys, no network."""
    from checkout_api.emulator import EmulatorConfig, start_in_thread

    service_url = f"http://{host}:{port}"
    emulator = start_in_thread(
        EmulatorConfig(webhook_url=f"{service_url}/webhook", webhook_secret=DEMO_WEBHOOK_SECRET),
        host="127.0.0.1",
        port=emulator_port,
    )
    print(f"checkout-api demo: Stripe emulator on {emulator.base_url}", flush=True)
    print(
        f"checkout-api demo: try\n  curl -s -X POST {service_url}/checkoutsession "
        "-H 'Content-Type: application/json' -d '{\"session_id\": \"visitor-1\"}'\n"
        f"  or open {service_url}/ in a browser",
        flush=True,
    )
    try:
        serve(
            host,
            port,
            1,
            stripe_secret_key=DEMO_SECRET_KEY,
            stripe_publishable_key=DEMO_PUBLISHABLE_KEY,
            stripe_api_base=emulator.base_url,
            stripe_webhook_secret=DEMO_WEBHOOK_SECRET,
            checkout_prices=DEMO_PRICES,
            checkout_return_url=f"{service_url}/return?session_id={{CHECKOUT_SESSION_ID}}",
            database_url=os.environ.get("DATABASE_URL", "sqlite:///data/demo.db"),
            log_format=os.environ.get("LOG_FORMAT", "console"),
        )
    finally:
        emulator.stop()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="checkout-api", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="serve the API (configuration from env/.env)")
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--workers", type=int, default=1)
    commands.add_parser("migrate", help="bring the database to the latest migration")
    purge_cmd = commands.add_parser("purge", help="delete finished records older than DAYS")
    purge_cmd.add_argument("--older-than", type=int, required=True, metavar="DAYS")
    emulator_cmd = commands.add_parser("emulator", help="run the Stripe emulator")
    emulator_cmd.add_argument("--host", default="127.0.0.1")
    emulator_cmd.add_argument("--port", type=int, default=12111)
    emulator_cmd.add_argument("--latency-ms", type=float, default=0.0)
    emulator_cmd.add_argument("--rate-limit", type=float, default=None, metavar="PER_SECOND")
    emulator_cmd.add_argument("--webhook-url", default=None)
    emulator_cmd.add_argument("--webhook-secret", default=None)
    demo_cmd = commands.add_parser("demo", help="emulator + service on loopback, no keys needed")
    demo_cmd.add_argument("--host", default="127.0.0.1")
    demo_cmd.add_argument("--port", type=int, default=8000)
    demo_cmd.add_argument("--emulator-port", type=int, default=12111)
    return root


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command in ("migrate", "purge"):
        # One-shot commands piped into `head` and the like end quietly. Never for the servers:
        # with the default action a client that resets its connection kills the process.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if args.command == "serve":
        serve(args.host, args.port, args.workers)
    elif args.command == "migrate":
        run_migrate()
    elif args.command == "purge":
        if args.older_than < 0:
            raise SystemExit("checkout-api: --older-than must be 0 or more days")
        run_purge(args.older_than)
    elif args.command == "emulator":
        run_emulator(
            args.host,
            args.port,
            args.latency_ms,
            args.rate_limit,
            args.webhook_url,
            args.webhook_secret,
        )
    elif args.command == "demo":
        run_demo(args.host, args.port, args.emulator_port)
