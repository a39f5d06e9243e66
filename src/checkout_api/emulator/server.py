"""Building and serving the emulator: `create_app`, `run` (blocking) and `start_in_thread`.

`connections_opened` counts TCP connections the server accepts; it is hooked into the
aiohttp server built by `run` and `start_in_thread` (an app served some other way reports 0).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from types import TracebackType
from typing import Any

from aiohttp import web

from checkout_api.emulator import api, control
from checkout_api.emulator.config import EmulatorConfig
from checkout_api.emulator.state import EmulatorState

STATE = web.AppKey("emulator_state", EmulatorState)
SHUTDOWN_TIMEOUT = 2.0


def create_app(config: EmulatorConfig) -> web.Application:
    state = EmulatorState(config)
    app = web.Application()
    app[STATE] = state
    app.add_routes(api.routes(state))
    app.add_routes(control.routes(state))
    app.on_shutdown.append(_release_hung_requests)
    app.on_cleanup.append(_close_state)
    return app


async def _release_hung_requests(app: web.Application) -> None:
    app[STATE].released.set()


async def _close_state(app: web.Application) -> None:
    await app[STATE].close()


async def _start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    _count_connections(runner, app[STATE])
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_address=True)
    await site.start()
    bound = runner.addresses[0][1]
    return runner, int(bound)


def _count_connections(runner: web.AppRunner, state: EmulatorState) -> None:
    server = runner.server
    assert server is not None
    accept = server.connection_made

    def connection_made(handler: Any, transport: Any) -> None:
        state.stats.connections_opened += 1
        accept(handler, transport)

    server.connection_made = connection_made  # type: ignore[method-assign]


def run(host: str, port: int, config: EmulatorConfig) -> None:
    """Serve until SIGINT/SIGTERM; prints one line saying where it listens."""
    asyncio.run(_serve_forever(host, port, config))


async def _serve_forever(host: str, port: int, config: EmulatorConfig) -> None:
    runner, bound = await _start(create_app(config), host, port)
    print(f"stripe emulator listening on http://{host}:{bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError, ValueError):
            pass
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


class RunningEmulator:
    """An emulator serving on its own event loop in a daemon thread."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        thread: threading.Thread,
        runner: web.AppRunner,
        host: str,
        port: int,
    ) -> None:
        self._loop = loop
        self._thread = thread
        self._runner = runner
        self.host = host
        self.port = port
        self.base_url = f"http://{host}:{port}"
        self._stopped = False

    @property
    def state(self) -> EmulatorState:
        return self._runner.app[STATE]

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            future.result(timeout=SHUTDOWN_TIMEOUT + 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_in_thread(
    config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningEmulator:
    """Start serving in a daemon thread; returns once the socket accepts connections."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    outcome: dict[str, Any] = {}

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            app = create_app(config or EmulatorConfig())
            outcome["runner"], outcome["port"] = loop.run_until_complete(_start(app, host, port))
        except BaseException as exc:
            outcome["error"] = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    thread = threading.Thread(target=main, name="stripe-emulator", daemon=True)
    thread.start()
    ready.wait()
    if "error" in outcome:
        thread.join()
        raise outcome["error"]
    return RunningEmulator(loop, thread, outcome["runner"], host, outcome["port"])
