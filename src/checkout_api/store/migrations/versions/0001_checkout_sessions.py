"""checkout_sessions: one row per attempt to create a Checkout Session

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ACTIVE = sa.text("state IN ('pending', 'open')")


def upgrade() -> None:
    op.create_table(
        "checkout_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("cart_fingerprint", sa.String(64), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_expires_at", sa.Float, nullable=True),
        sa.Column("stripe_id", sa.String(255), nullable=True, unique=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("payment_status", sa.String(32), nullable=True),
        sa.Column("amount_total", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("livemode", sa.Boolean, nullable=True),
        sa.Column("client_secret_enc", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_checkout_sessions_session_id", "checkout_sessions", ["session_id"])
    op.create_index(
        "uq_checkout_sessions_active_cart",
        "checkout_sessions",
        ["session_id", "cart_fingerprint"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )


def downgrade() -> None:
    op.drop_table("checkout_sessions")
