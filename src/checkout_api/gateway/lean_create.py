"""Checkout Session create, the one hot Stripe call, without the SDK's per-call work.

Every new session makes this call. Through `StripeClient.raw_request_async` it cost about
0.13 ms more CPU per call than this path: 0.64-0.68 against 0.51-0.53 ms of worker CPU per new
session, and 22 % more new sessions per second in the CPU-bound scenario (docs/performance.md,
"The SDK"). On every call the SDK rebuilds its headers (its user agent as JSON, a scan of
the environment), formats five log messages that its logger then drops, form-encodes with a
regex per value, and parses the answer with the stdlib JSON parser into a response object.

What this path keeps of the SDK, so that the contract stays the SDK's:
- the transport: the gateway's `stripe.AIOHTTPClient`, entered where the requestor enters it
  (`request_with_retries_async`, no retries: ours are in client.py), so the pool, proxy,
  timeout, client telemetry and network failures raised as `APIConnectionError` are as before;
- the headers: built once, at start-up, by the SDK's own requestor (API key, the pinned
  Stripe-Version, user agents); only the Idempotency-Key is ours, per call. The gateway's
  client sets no Stripe-Account or Stripe-Context, which would also be per-client options;
- the errors: a non-2xx answer goes to the SDK's requestor, which raises the error class, with
  the attributes, that `raw_request_async` would raise.
What it does itself: form-encodes the parameters as the SDK does, and parses a 2xx answer with
orjson. `tests/gateway/test_lean_create.py` holds it to the SDK: the same request on the wire
for the same parameters, the same error for each failure. A `stripe` upgrade that changes
either fails there. Every other Stripe call goes through the SDK unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

import orjson
import stripe

SESSIONS_PATH = "/v1/checkout/sessions"


@dataclass(frozen=True, slots=True)
class CreateAnswer:
    """A 2xx answer: the session as parsed JSON, and Stripe's request id."""

    data: dict[str, Any]
    request_id: str | None


class LeanCreate:
    def __init__(
        self, client: stripe.StripeClient, http_client: stripe.AIOHTTPClient, api_base: str
    ) -> None:
        # The SDK's requestor is private API; the parity tests fail if it changes shape.
        self._requestor = client._requestor
        self._http = http_client
        self._url = api_base.rstrip("/") + SESSIONS_PATH
        headers = self._requestor.request_headers(
            "post",
            "V1",
            {"api_key": self._requestor.api_key, "stripe_version": self._requestor.stripe_version},
        )
        headers.pop("Idempotency-Key", None)  # the SDK generated one: each call sets its own
        self._headers = headers

    async def __call__(self, params: Mapping[str, Any], idempotency_key: str) -> CreateAnswer:
        headers = {**self._headers, "Idempotency-Key": idempotency_key}
        body, status, answer_headers = await self._http.request_with_retries_async(
            "post", self._url, headers, form_encode(params), max_network_retries=0
        )
        if not 200 <= status < 300:
            self._requestor._interpret_response(body, status, answer_headers, "V1")
            raise stripe.APIError(f"Stripe answered HTTP {status}", body, status)  # not reached
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise stripe.APIError(
                f"Invalid response body from API (HTTP response code was {status})",
                body,
                status,
                headers=cast(dict[str, str], answer_headers),  # case-insensitive, as the SDK's
            ) from None
        return CreateAnswer(data, answer_headers.get("Request-Id"))


def form_encode(params: Mapping[str, Any]) -> str:
    """Stripe's form encoding, as the SDK writes it: `a[b][0][c]=v`, brackets left literal.

    Only the plain values our parameters use: strings, numbers, booleans, None (left out),
    mappings and sequences of them. Anything the SDK would convert first (a datetime to a
    timestamp, an object to its id) is refused rather than sent as its `str()`.
    """
    encoded = urlencode(list(_fields(params, "")))
    return encoded.replace("%5B", "[").replace("%5D", "]")


def _fields(params: Mapping[str, Any], prefix: str) -> Iterator[tuple[str, str]]:
    for key, value in params.items():
        yield from _field(f"{prefix}[{key}]" if prefix else key, value)


def _field(name: str, value: Any) -> Iterator[tuple[str, str]]:
    if value is None:
        return
    if isinstance(value, Mapping):
        yield from _fields(value, name)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _field(f"{name}[{index}]", item)
    elif isinstance(value, bool):
        yield name, "true" if value else "false"
    elif isinstance(value, str | int | float):
        yield name, str(value)
    else:
        raise TypeError(f"{name}: no Stripe form encoding for {type(value).__name__}")
