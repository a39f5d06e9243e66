"""The database schema, as SQLAlchemy Core tables. Alembic migrations create and evolve it.

`checkout_sessions` holds one row per attempt to create a Checkout Session for a caller's
session id and cart. `state` is our lifecycle:

    pending ──(Stripe created it)──> open ──> complete | expired
       │                              └────> superseded (another cart, or too close to expiry)
       └──(Stripe failed)──> row deleted: a failure leaves nothing behind

At most one row per (session_id, cart_fingerprint) is pending or open: a partial unique index
makes the database, not a process lock, decide who creates the Stripe session.

`webhook_events` records every verified Stripe event id once (primary key), in the same
transaction as its effect. `fulfillments` is the outbox of the shop's fulfillment hook: one
row per fulfilled session, retried until delivered.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

ACTIVE_STATES = ("pending", "open")
FINAL_STATES = ("complete", "expired", "superseded")

checkout_sessions = Table(
    "checkout_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(200), nullable=False),
    Column("cart_fingerprint", String(64), nullable=False),
    Column("idempotency_key", String(64), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("lease_expires_at", Float, nullable=True),
    Column("stripe_id", String(255), nullable=True, unique=True),
    Column("status", String(16), nullable=True),
    Column("payment_status", String(32), nullable=True),
    Column("amount_total", BigInteger, nullable=True),
    Column("currency", String(3), nullable=True),
    Column("expires_at", BigInteger, nullable=True),
    Column("livemode", Boolean, nullable=True),
    Column("client_secret_enc", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("customer_email", String(320), nullable=True),
    Column("fulfilled_at", DateTime(timezone=True), nullable=True),
    Index("ix_checkout_sessions_session_id", "session_id"),
    Index(
        "uq_checkout_sessions_active_cart",
        "session_id",
        "cart_fingerprint",
        unique=True,
        sqlite_where=text("state IN ('pending', 'open')"),
        postgresql_where=text("state IN ('pending', 'open')"),
    ),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("id", String(255), primary_key=True),  # Stripe's evt_... id
    Column("type", String(100), nullable=False),
    Column("object_id", String(255), nullable=True),
    Column("event_created", BigInteger, nullable=False),
    Column("livemode", Boolean, nullable=False),
    Column("result", String(32), nullable=False),  # applied | ignored | unknown_session
    Column("payload", Text, nullable=True),  # kept for events we could not apply
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_webhook_events_object_id", "object_id"),
)

fulfillments = Table(
    "fulfillments",
    metadata,
    Column("stripe_id", String(255), primary_key=True),
    Column("session_id", String(200), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Float, nullable=False),  # epoch seconds; also the claim lease
    Column("delivered_at", DateTime(timezone=True), nullable=True),
    Column("last_error", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_fulfillments_due", "delivered_at", "next_attempt_at"),
)
