"""Reference: the leanest async Python proxy for a new Checkout Session (not a product).

The floor against which the service's own cost is judged: aiohttp in and aiohttp out on
uvloop, no Stripe SDK, no store, no validation, no logging, no metrics. Per request it reads
the JSON body, POSTs the same form parameters as the service to the Stripe stand-in over one
pooled client session (Authorization, Stripe-Version, a random Idempotency-Key) and answers
the client secret. It only creates sessions, so the harness runs it in scenarios a, b and c.

`--client sdk` sends the same request through the official SDK instead (`StripeClient`
`raw_request_async` over `stripe.AIOHTTPClient`, as the service's create did before it took
the lean path in `gateway/lean_create.py`): the difference between the two is what the SDK
costs under load (target `lean-sdk`).

Worker processes share one listening socket, accepted the way uvicorn's workers accept.

Run: `python bench/baselines/lean_proxy.py --port 4243 --workers 2 [--client sdk]` with
STRIPE_API_BASE, STRIPE_SECRET_KEY and CHECKOUT_PRICE in the environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import urllib.parse
import uuid

import aiohttp
import stripe
import uvloop
from aiohttp import web

API_BASE = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:12111")
SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "sk_test_bench")
PRICE = os.environ.get("CHECKOUT_PRICE", "price_bench_1")
API_VERSION = stripe.api_version  # the version the SDK pins, as the SDK would send it
RETURN_URL = "http://127.0.0.1/return?session_id={CHECKOUT_SESSION_ID}"
SESSION = web.AppKey("session", aiohttp.ClientSession)
SDK = web.AppKey("sdk", stripe.StripeClient)


def params(session_id: str) -> dict[str, str]:
    return {
        "line_items[0][price]": PRICE,
        "line_items[0][quantity]": "1",
        "mode": "payment",
        "ui_mode": "embedded_page",
        "return_url": RETURN_URL,
        "client_reference_id": session_id,
    }


async def create(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    form = urllib.parse.urlencode(params(body["session_id"]))
    headers = {
        "Authorization": f"Bearer {SECRET_KEY}",
        "Stripe-Version": API_VERSION,
        "Idempotency-Key": str(uuid.uuid4()),
        "Content-Type": "application/x-www-form-urlencoded",
    }
    async with request.app[SESSION].post(
        f"{API_BASE}/v1/checkout/sessions", data=form, headers=headers
    ) as answer:
        session = json.loads(await answer.read())
        if answer.status != 200:
            return web.json_response({"error": session.get("error", {})}, status=502)
    return web.json_response({"clientSecret": session["client_secret"]})


async def create_with_sdk(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    try:
        answer = await request.app[SDK].raw_request_async(
            "post",
            "/v1/checkout/sessions",
            idempotency_key=str(uuid.uuid4()),
            **params(body["session_id"]),
        )
    except stripe.StripeError as error:
        return web.json_response({"error": str(error)}, status=502)
    session = answer.data
    return web.json_response({"clientSecret": session["client_secret"]})


def sdk_client(session: aiohttp.ClientSession) -> stripe.StripeClient:
    return stripe.StripeClient(
        SECRET_KEY,
        base_addresses={"api": API_BASE},
        http_client=stripe.AIOHTTPClient(session=session),
        max_network_retries=0,
    )


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def serve(sock: socket.socket, client: str) -> None:
    app = web.Application()
    app.router.add_post("/checkoutsession", create_with_sdk if client == "sdk" else create)
    app.router.add_get("/healthz", healthz)
    app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
    if client == "sdk":
        app[SDK] = sdk_client(app[SESSION])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock, backlog=4096).start()
    try:
        await asyncio.Event().wait()  # until the harness stops the process group
    finally:
        await app[SESSION].close()
        await runner.cleanup()


def worker(sock: socket.socket, client: str) -> None:
    uvloop.run(serve(sock, client))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4243)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--client", choices=("aiohttp", "sdk"), default="aiohttp")
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.set_inheritable(True)
    procs = [
        multiprocessing.get_context("spawn").Process(target=worker, args=(sock, args.client))
        for _ in range(args.workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()


if __name__ == "__main__":
    main()
