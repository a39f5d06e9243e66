"""The shop's own fulfillment: an extension point called once per fulfilled session.

Configure one of:
- FULFILLMENT_HOOK=`package.module:function`: an async (or plain) callable taking a
  `FulfilledSession`. Raise to have the call retried.
- FULFILLMENT_WEBHOOK_URL (+ FULFILLMENT_WEBHOOK_SECRET): a signed JSON POST per fulfilled
  session, `Checkout-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">` (Stripe's scheme),
  `Idempotency-Key: <stripe session id>`. Any non-2xx answer is retried.

Delivery goes through the `fulfillments` outbox written in the same transaction that marks
the session fulfilled, so a crash or a failing hook loses nothing: the worker retries with
exponential backoff (capped at an hour) until it succeeds. Delivery is at least once; the
Stripe session id is the receiver's idempotency key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

import aiohttp
import orjson
import structlog

from checkout_api.store.fulfillments import DueFulfillment, FulfillmentRepository

log = structlog.get_logger("checkout_api.fulfillment")

RETRY_BASE_SECONDS = 2.0
RETRY_CAP_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class FulfilledSession:
    stripe_id: str
    session_id: str
    amount_total: int | None
    currency: str | None
    customer_email: str | None


FulfillmentHook = Callable[[FulfilledSession], Awaitable[None] | None]


def load_callable(target: str) -> FulfillmentHook:
    """`package.module:function` -> the function (validated at start-up)."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ValueError("FULFILLMENT_HOOK must look like package.module:function")
    hook = getattr(importlib.import_module(module_name), attribute)
    if not callable(hook):
        raise ValueError(f"FULFILLMENT_HOOK {target} is not callable")
    return hook  # type: ignore[no-any-return]


class HttpNotifier:
    """POSTs a signed notification to the shop's endpoint."""

    def __init__(self, url: str, secret: str, *, timeout: float = 5.0) -> None:
        self._url = url
        self._secret = secret.encode()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, fulfilled: FulfilledSession) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        body = orjson.dumps({"type": "checkout.fulfilled", **asdict(fulfilled)})
        stamp = str(int(time.time()))
        digest = hmac.new(self._secret, stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "Checkout-Signature": f"t={stamp},v1={digest}",
            "Idempotency-Key": fulfilled.stripe_id,
        }
        async with self._session.post(self._url, data=body, headers=headers) as response:
            if response.status >= 300:
                raise RuntimeError(f"fulfillment endpoint answered {response.status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class FulfillmentWorker:
    """Drains the outbox: woken when a session is fulfilled, and polling for retries."""

    def __init__(
        self,
        repository: FulfillmentRepository,
        hook: FulfillmentHook,
        *,
        poll_seconds: float = 2.0,
        lease_seconds: float = 60.0,
    ) -> None:
        self._repository = repository
        self._hook = hook
        self._poll = poll_seconds
        self._lease = lease_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.settled = asyncio.Event()  # set after each delivery attempt is recorded

    def nudge(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        closer = getattr(self._hook, "close", None)
        if closer is not None:
            await closer()

    async def run_once(self) -> int:
        """Deliver what is due now; the number of deliveries attempted."""
        due = await self._repository.claim_due(limit=50, lease_seconds=self._lease)
        for item in due:
            await self._deliver(item)
        return len(due)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as error:  # the store may be briefly down: try again later
                log.error("fulfillment.worker_failed", error_type=type(error).__name__)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except TimeoutError:
                pass
            self._wake.clear()

    async def _deliver(self, item: DueFulfillment) -> None:
        try:
            await self._attempt(item)
        finally:
            self.settled.set()

    async def _attempt(self, item: DueFulfillment) -> None:
        fulfilled = FulfilledSession(
            stripe_id=item.stripe_id,
            session_id=item.session_id,
            amount_total=item.amount_total,
            currency=item.currency,
            customer_email=item.customer_email,
        )
        try:
            outcome = self._hook(fulfilled)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception as error:
            delay = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2**item.attempts)
            await self._repository.mark_failed(
                item.stripe_id, retry_at=time.time() + delay, error=type(error).__name__
            )
            log.warning(
                "fulfillment.hook_failed",
                stripe_id=item.stripe_id,
                attempt=item.attempts + 1,
                retry_in_seconds=delay,
                error_type=type(error).__name__,
            )
            return
        await self._repository.mark_delivered(item.stripe_id)
        log.info("fulfillment.hook_delivered", stripe_id=item.stripe_id, attempt=item.attempts + 1)
