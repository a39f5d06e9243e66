"""A lean Stripe stand-in for benchmarks: checkout sessions with a fixed upstream latency.

    .venv/bin/python bench/standin.py --port 12111 --latency-ms 300

Raw asyncio protocol + httptools (+ uvloop when installed), so that its own CPU per request
stays far below the servers under test (`bench/run.py --scenario s` measures its ceiling).

Routes (form-encoded bodies, JSON answers, Stripe error shape on failure):
  POST /v1/checkout/sessions              create an open session (id cs_test_..., client_secret)
  GET  /v1/checkout/sessions/{id}         retrieve
  POST /v1/checkout/sessions/{id}/expire  open -> expired (400 otherwise)
  POST /_standin/sessions/{id}/complete   bench control: mark complete + paid (no latency)
  GET  /_standin/stats                    counters as JSON (no latency)
POST requests honour Idempotency-Key minimally: the first answer to a key is replayed verbatim
with `Idempotent-Replayed: true` (parameters are not compared). Responses are delayed by
--latency-ms and sent in request order per connection. The session store is bounded
(--max-sessions, oldest evicted).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import json
import os
import signal
import sys
import time
from typing import Any
from urllib.parse import parse_qsl, unquote

import httptools

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import stripe_objects

PREFIX = "/v1/checkout/sessions"


class Store:
    """Sessions, idempotent replays and counters shared by all connections."""

    def __init__(self, max_sessions: int) -> None:
        # OrderedDict, not dict: evicting a plain dict's oldest key (`next(iter(d))`) scans
        # every slot its earlier deletions left at the front, so once full the stand-in grew
        # slower run by run (0.07 -> 0.28 ms of CPU per create within one scenario b).
        self.sessions: collections.OrderedDict[str, dict[str, object]] = collections.OrderedDict()
        self.replays: collections.OrderedDict[bytes, tuple[int, bytes]] = collections.OrderedDict()
        self.max_sessions = max_sessions
        self.tag = stripe_objects.random_token(8)
        self.counter = 0
        self.stats: collections.Counter[str] = collections.Counter()

    def bounded(self, table: collections.OrderedDict[Any, Any]) -> None:
        """Evict the oldest entries beyond --max-sessions."""
        while len(table) > self.max_sessions:
            table.popitem(last=False)

    def create(self, body: bytes) -> tuple[int, bytes]:
        params = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        self.counter += 1
        sid = f"cs_test_b1{self.tag}{self.counter:010d}{stripe_objects.random_token(36)}"
        fields = stripe_objects.new_session(params, sid, int(time.time()))
        self.sessions[sid] = fields
        self.bounded(self.sessions)
        return 200, stripe_objects.session_json(fields).encode()

    def route(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if method == "POST" and path == PREFIX:
            self.stats["create"] += 1
            return self.create(body)
        if not path.startswith(PREFIX + "/"):
            return error(404, "resource_missing", f"Unrecognized request URL ({method}: {path}).")
        rest = path[len(PREFIX) + 1 :]
        sid, _, action = rest.partition("/")
        fields = self.sessions.get(unquote(sid))
        if fields is None:
            return error(404, "resource_missing", f"No such checkout.session: '{sid}'", "id")
        if method == "GET" and not action:
            self.stats["retrieve"] += 1
        elif method == "POST" and action == "expire":
            self.stats["expire"] += 1
            if fields["status"] != "open":
                return error(
                    400,
                    "checkout_session_not_open",
                    "Only Checkout Sessions with a status of open can be expired.",
                )
            fields.update(status="expired", client_secret=None)
        else:
            return error(404, "resource_missing", f"Unrecognized request URL ({method}: {path}).")
        return 200, stripe_objects.session_json(fields).encode()

    def control(self, method: str, path: str) -> tuple[int, bytes]:
        if path == "/_standin/stats":
            return 200, json.dumps({**self.stats, "sessions": len(self.sessions)}).encode()
        parts = path.split("/")
        if method == "POST" and len(parts) == 5 and parts[2:5:2] == ["sessions", "complete"]:
            fields = self.sessions.get(parts[3])
            if fields is None:
                return error(404, "resource_missing", f"No such checkout.session: '{parts[3]}'")
            fields.update(stripe_objects.completed(fields))
            return 200, stripe_objects.session_json(fields).encode()
        return error(404, "resource_missing", f"Unrecognized request URL ({method}: {path}).")


def error(status: int, code: str, message: str, param: str | None = None) -> tuple[int, bytes]:
    """A Stripe-shaped error body."""
    body = {
        "error": {"type": "invalid_request_error", "code": code, "message": message, "param": param}
    }
    return status, json.dumps(body).encode()


REQUEST_IDS = itertools.count(1)
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


def http_response(status: int, body: bytes, keep_alive: bool, replayed: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Request-Id: req_{next(REQUEST_IDS):014d}\r\n"
        f"Stripe-Version: {stripe_objects.API_VERSION}\r\n"
        + ("Idempotent-Replayed: true\r\n" if replayed else "")
        + ("Connection: keep-alive\r\n" if keep_alive else "Connection: close\r\n")
        + "\r\n"
    )
    return head.encode() + body


class Connection(asyncio.Protocol):
    """One client connection: parse requests, answer each after the configured latency."""

    def __init__(self, store: Store, latency: float) -> None:
        self.store, self.latency = store, latency
        self.parser = httptools.HttpRequestParser(self)
        self.pending: collections.deque[tuple[float, bytes, bool]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.body: list[bytes] = []
        self.headers: dict[bytes, bytes] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer:
            self.timer.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode()
        path = self.url.decode("latin-1").partition("?")[0]
        headers, body = self.headers, b"".join(self.body)
        key, keep_alive = headers.get(b"idempotency-key"), self.parser.should_keep_alive()
        self._reset()
        store, replayed, delay = self.store, False, self.latency
        if path.startswith("/_standin/"):
            status, payload = store.control(method, path)
            delay = 0.0
        elif b"authorization" not in headers:
            status, payload = error(401, "api_key_missing", "You did not provide an API key.")
        elif method == "POST" and key and key in store.replays:
            (status, payload), replayed = store.replays[key], True
            store.stats["replayed"] += 1
        else:
            status, payload = store.route(method, path, body)
            if method == "POST" and key:
                store.replays[key] = (status, payload)
                store.bounded(store.replays)
        store.stats["requests"] += 1
        loop = asyncio.get_running_loop()
        response = http_response(status, payload, keep_alive, replayed)
        self.pending.append((loop.time() + delay, response, keep_alive))
        if self.timer is None:
            self.timer = loop.call_at(self.pending[0][0], self._flush)

    def _flush(self) -> None:
        self.timer = None
        if self.transport is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self.pending and self.pending[0][0] <= now:
            _, data, keep_alive = self.pending.popleft()
            self.transport.write(data)
            if not keep_alive:
                self.transport.close()
                self.pending.clear()
                return
        if self.pending:
            self.timer = loop.call_at(self.pending[0][0], self._flush)


async def serve(host: str, port: int, latency: float, max_sessions: int) -> None:
    store = Store(max_sessions)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(store, latency), host, port, backlog=4096, reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"standin listening on http://{host}:{port} latency={latency * 1000:g}ms", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--max-sessions", type=int, default=200_000)
    args = parser.parse_args()
    main_coro = serve(args.host, args.port, args.latency_ms / 1000.0, args.max_sessions)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main_coro)
    else:
        uvloop.run(main_coro)


if __name__ == "__main__":
    main()
