"""A Stripe API emulator for Checkout Sessions: a separate program, never imported by the service.

    create_app(config) -> aiohttp.web.Application
    run(host, port, config)                  blocking; prints "stripe emulator listening on ..."
    start_in_thread(config, host, port)      -> RunningEmulator(.base_url, .stop(), context manager)
    signing.sign(payload, secret, timestamp) -> Stripe-Signature header value

Modules: config (settings, demo prices), server (serving), api (/v1 pipeline and endpoints), auth,
control (/_emulator test API), sessions and pricing (Stripe's Checkout rules), schema (the
parameters the stripe SDK declares), forms (Stripe's form encoding), errors (Stripe's error
JSON), events and signing (webhooks), state (what an instance remembers).
"""

from checkout_api.emulator.config import DEMO_PRICES, EmulatorConfig
from checkout_api.emulator.server import RunningEmulator, create_app, run, start_in_thread

__all__ = [
    "DEMO_PRICES",
    "EmulatorConfig",
    "RunningEmulator",
    "create_app",
    "run",
    "start_in_thread",
]
