"""Create or reuse: the rules for handing a caller one Checkout Session per session id and cart.

1. An open session for the same session id and cart that does not expire soon is reused
   (no Stripe call).
2. Otherwise the caller claims the cart by inserting a `pending` row; the partial unique index
   lets exactly one concurrent caller (in any process or instance) win. Losers wait for the
   winner's result. A winner that died leaves a lease that expires; the next caller takes the
   row over and retries with the same Idempotency-Key, so Stripe collapses it too.
3. The winner creates the session at Stripe and records it; a failure deletes the claim.
4. A new cart for the same session id supersedes the old open session (expired at Stripe,
   best effort, in the background).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from checkout_api import metrics
from checkout_api.checkout.background import BackgroundTasks
from checkout_api.checkout.cart import Cart
from checkout_api.errors import CheckoutInProgress, ProblemError
from checkout_api.gateway import CreateSessionRequest, Deadline, StripeGateway, StripeSession
from checkout_api.store.crypto import SecretBox
from checkout_api.store.sessions import SessionRepository, StoredSession

log = structlog.get_logger("checkout_api.checkout")

WAIT_POLL_SECONDS = (0.02, 0.05, 0.1, 0.2)  # growing pauses while another caller creates


@dataclass(frozen=True, slots=True)
class HandedOut:
    """A session handed to the caller. `created` is False when it was reused."""

    stripe_id: str
    client_secret: str
    status: str
    expires_at: int
    created: bool

    def __repr__(self) -> str:
        return f"HandedOut(stripe_id={self.stripe_id!r}, created={self.created})"


@dataclass(frozen=True, slots=True)
class CheckoutPolicy:
    mode: str
    return_url: str
    reuse_min_remaining_seconds: int
    attempt_lease_seconds: float


class CheckoutService:
    def __init__(
        self,
        *,
        gateway: StripeGateway,
        sessions: SessionRepository,
        secrets: SecretBox,
        policy: CheckoutPolicy,
        background: BackgroundTasks,
        new_session_guard: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._guard = new_session_guard
        self._gateway = gateway
        self._sessions = sessions
        self._secrets = secrets
        self._policy = policy
        self._background = background

    async def create_or_reuse(self, session_id: str, cart: Cart, deadline: Deadline) -> HandedOut:
        fingerprint = cart.fingerprint()
        waits = 0
        while True:
            row = await self._sessions.find_active(session_id, fingerprint)
            if row is None:
                if self._guard is not None:
                    await self._guard(session_id)  # e.g. the per-session-id rate limit
                key = uuid.uuid4().hex
                row_id = await self._sessions.insert_pending(
                    session_id, fingerprint, key, self._lease()
                )
                if row_id is not None:
                    return await self._create(row_id, key, session_id, cart, deadline)
                continue  # another caller claimed it first: read what they hold
            if row.state == "open":
                reused = await self._reuse(row, deadline)
                if reused is not None:
                    return reused
                continue  # it was retired: claim a fresh attempt
            if (row.lease_expires_at or 0) < time.time():
                if await self._sessions.take_over(row.id, row.lease_expires_at, self._lease()):
                    log.warning("checkout.attempt.taken_over", session_id=session_id, row_id=row.id)
                    return await self._create(
                        row.id, row.idempotency_key, session_id, cart, deadline
                    )
                continue
            pause = WAIT_POLL_SECONDS[min(waits, len(WAIT_POLL_SECONDS) - 1)]
            if deadline.remaining() <= pause:
                raise CheckoutInProgress(retry_after=1)
            waits += 1
            await asyncio.sleep(pause)

    async def _create(
        self, row_id: int, key: str, session_id: str, cart: Cart, deadline: Deadline
    ) -> HandedOut:
        request = CreateSessionRequest(
            line_items=cart.lines,
            mode=self._policy.mode,
            return_url=self._policy.return_url,
            client_reference_id=session_id,
            idempotency_key=key,
        )
        try:
            session = await self._gateway.create_session(request, deadline)
        except BaseException:
            # No half-written record: the claim goes, so a later request starts afresh.
            await asyncio.shield(self._sessions.delete_pending(row_id))
            raise
        if not session.client_secret:
            await self._sessions.delete_pending(row_id)
            raise ProblemError("Stripe returned a session without a client secret.")
        sealed = self._secrets.seal(session.client_secret, bound_to=session.id)
        superseded = await self._sessions.mark_open(row_id, session_id, session, sealed)
        for stripe_id in superseded:
            self._expire_later(stripe_id, reason="cart_changed")
        metrics.SESSIONS.labels("created").inc()
        log.info(
            "checkout.session.created",
            session_id=session_id,
            stripe_id=session.id,
            superseded=len(superseded),
        )
        return _handed_out(session.id, session.client_secret, session, created=True)

    async def _reuse(self, row: StoredSession, deadline: Deadline) -> HandedOut | None:
        """The stored open session, or None after retiring one that cannot be handed out."""
        assert row.stripe_id is not None
        if (row.expires_at or 0) - time.time() < self._policy.reuse_min_remaining_seconds:
            await self._retire(row, reason="expiring_soon")
            return None
        secret = self._secrets.open(row.client_secret_enc, bound_to=row.stripe_id)
        if secret is None:  # sealed under a rotated key: ask Stripe
            fresh = await self._gateway.retrieve_session(row.stripe_id, deadline)
            if fresh is None or fresh.status != "open" or not fresh.client_secret:
                await self._retire(row, reason="not_open_at_stripe")
                return None
            secret = fresh.client_secret
            await self._sessions.save_secret(row.id, self._secrets.seal(secret, bound_to=fresh.id))
        metrics.SESSIONS.labels("reused").inc()
        log.info("checkout.session.reused", session_id=row.session_id, stripe_id=row.stripe_id)
        return HandedOut(
            stripe_id=row.stripe_id,
            client_secret=secret,
            status=row.status or "open",
            expires_at=row.expires_at or 0,
            created=False,
        )

    async def _retire(self, row: StoredSession, *, reason: str) -> None:
        await self._sessions.mark_superseded(row.id)
        if row.stripe_id:
            self._expire_later(row.stripe_id, reason=reason)

    def _expire_later(self, stripe_id: str, *, reason: str) -> None:
        metrics.SESSIONS.labels("superseded").inc()
        self._background.spawn(self._expire_at_stripe(stripe_id, reason))

    async def _expire_at_stripe(self, stripe_id: str, reason: str) -> None:
        """Best effort: a superseded session that stays open at Stripe simply lapses."""
        try:
            await self._gateway.expire_session(stripe_id, Deadline(10.0))
            log.info("checkout.session.superseded", stripe_id=stripe_id, reason=reason)
        except ProblemError as error:
            log.warning(
                "checkout.session.expire_failed",
                stripe_id=stripe_id,
                reason=reason,
                code=error.code,
            )

    def _lease(self) -> float:
        return time.time() + self._policy.attempt_lease_seconds


def _handed_out(stripe_id: str, secret: str, session: StripeSession, *, created: bool) -> HandedOut:
    return HandedOut(
        stripe_id=stripe_id,
        client_secret=secret,
        status=session.status,
        expires_at=session.expires_at,
        created=created,
    )
