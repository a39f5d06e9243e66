"""Repository for `checkout_sessions`: named queries, one short transaction each.

Dialect differences (the insert-if-absent) live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from checkout_api.gateway.models import StripeSession
from checkout_api.store.tables import ACTIVE_STATES, checkout_sessions

T = checkout_sessions


@dataclass(frozen=True, slots=True)
class StoredSession:
    id: int
    session_id: str
    cart_fingerprint: str
    idempotency_key: str
    state: str
    lease_expires_at: float | None
    stripe_id: str | None
    status: str | None
    payment_status: str | None
    amount_total: int | None
    currency: str | None
    expires_at: int | None
    livemode: bool | None
    client_secret_enc: bytes | None
    customer_email: str | None
    fulfilled_at: datetime | None

    def __repr__(self) -> str:
        return f"StoredSession(id={self.id}, stripe_id={self.stripe_id!r}, state={self.state!r})"


_COLUMNS = [T.c[name] for name in StoredSession.__slots__]


def now_utc() -> datetime:
    return datetime.now(UTC)


def insert_ignoring_conflicts(connection: AsyncConnection, table: Any) -> Any:
    """`INSERT ... ON CONFLICT DO NOTHING` in the connection's dialect."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


class SessionRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def find_active(self, session_id: str, fingerprint: str) -> StoredSession | None:
        query = select(*_COLUMNS).where(
            T.c.session_id == session_id,
            T.c.cart_fingerprint == fingerprint,
            T.c.state.in_(ACTIVE_STATES),
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return StoredSession(*row) if row else None

    async def find_by_stripe_id(self, stripe_id: str) -> StoredSession | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(*_COLUMNS).where(T.c.stripe_id == stripe_id))
            ).first()
        return StoredSession(*row) if row else None

    async def insert_pending(
        self, session_id: str, fingerprint: str, idempotency_key: str, lease_expires_at: float
    ) -> int | None:
        """Claim the right to create; None when another attempt holds it already."""
        now = now_utc()
        async with self._engine.begin() as connection:
            statement = (
                insert_ignoring_conflicts(connection, T)
                .values(
                    session_id=session_id,
                    cart_fingerprint=fingerprint,
                    idempotency_key=idempotency_key,
                    state="pending",
                    lease_expires_at=lease_expires_at,
                    created_at=now,
                    updated_at=now,
                )
                .returning(T.c.id)
            )
            row = (await connection.execute(statement)).first()
        return int(row[0]) if row else None

    async def take_over(
        self, row_id: int, seen_lease: float | None, lease_expires_at: float
    ) -> bool:
        """Compare-and-set the lease of a crashed attempt; True when this caller won it."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(T)
                .where(T.c.id == row_id, T.c.state == "pending", T.c.lease_expires_at == seen_lease)
                .values(lease_expires_at=lease_expires_at, updated_at=now_utc())
            )
        return result.rowcount == 1

    async def delete_pending(self, row_id: int) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(T).where(T.c.id == row_id, T.c.state == "pending"))

    async def mark_open(
        self, row_id: int, session_id: str, session: StripeSession, client_secret_enc: bytes | None
    ) -> list[str]:
        """Record the created session; supersede the caller's other open carts.

        Returns the Stripe ids that were superseded (to be expired at Stripe, best effort).
        """
        now = now_utc()
        async with self._engine.begin() as connection:
            await connection.execute(
                update(T)
                .where(T.c.id == row_id)
                .values(
                    state="open",
                    lease_expires_at=None,
                    client_secret_enc=client_secret_enc,
                    updated_at=now,
                    **_stripe_fields(session),
                )
            )
            superseded = await connection.execute(
                update(T)
                .where(T.c.session_id == session_id, T.c.state == "open", T.c.id != row_id)
                .values(state="superseded", client_secret_enc=None, updated_at=now)
                .returning(T.c.stripe_id)
            )
            return [stripe_id for stripe_id in superseded.scalars().all() if stripe_id]

    async def mark_superseded(self, row_id: int) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(T)
                .where(T.c.id == row_id, T.c.state == "open")
                .values(state="superseded", client_secret_enc=None, updated_at=now_utc())
            )

    async def save_secret(self, row_id: int, client_secret_enc: bytes) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(T)
                .where(T.c.id == row_id, T.c.state == "open")
                .values(client_secret_enc=client_secret_enc)
            )

    async def all_rows(self) -> Sequence[StoredSession]:
        """Every row, oldest first (operators' and tests' view)."""
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(*_COLUMNS).order_by(T.c.id))).all()
        return [StoredSession(*row) for row in rows]


def _stripe_fields(session: StripeSession) -> dict[str, Any]:
    return {
        "stripe_id": session.id,
        "status": session.status,
        "payment_status": session.payment_status,
        "amount_total": session.amount_total,
        "currency": session.currency,
        "expires_at": session.expires_at,
        "livemode": session.livemode,
    }
