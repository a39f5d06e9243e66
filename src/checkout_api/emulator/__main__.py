"""`python -m checkout_api.emulator`: serve the Stripe emulator from the command line."""

from __future__ import annotations

import argparse
import os

from checkout_api.emulator import EmulatorConfig, run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m checkout_api.emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    parser.add_argument("--webhook-url", default=os.environ.get("EMULATOR_WEBHOOK_URL"))
    parser.add_argument("--webhook-secret", default=os.environ.get("EMULATOR_WEBHOOK_SECRET"))
    args = parser.parse_args(argv)
    config = EmulatorConfig(
        latency_ms=args.latency_ms,
        rate_limit_per_second=args.rate_limit,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )
    run(args.host, args.port, config)


if __name__ == "__main__":
    main()
