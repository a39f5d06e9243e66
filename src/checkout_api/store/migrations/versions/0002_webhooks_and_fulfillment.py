"""webhook events, fulfillment outbox, customer email and fulfilled time on sessions

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkout_sessions") as batch:
        batch.add_column(sa.Column("customer_email", sa.String(320), nullable=True))
        batch.add_column(sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("object_id", sa.String(255), nullable=True),
        sa.Column("event_created", sa.BigInteger, nullable=False),
        sa.Column("livemode", sa.Boolean, nullable=False),
        sa.Column("result", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_webhook_events_object_id", "webhook_events", ["object_id"])
    op.create_table(
        "fulfillments",
        sa.Column("stripe_id", sa.String(255), primary_key=True),
        sa.Column("session_id", sa.String(200), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_fulfillments_due", "fulfillments", ["delivered_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("fulfillments")
    op.drop_table("webhook_events")
    with op.batch_alter_table("checkout_sessions") as batch:
        batch.drop_column("fulfilled_at")
        batch.drop_column("customer_email")
