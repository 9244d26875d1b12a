"""Single logout: front-channel logout metadata on clients, the back-channel delivery outbox

Revision ID: b5e1c7f2a9d3
Revises: a4d0b6e5f7c8
Create Date: 2026-11-29 18:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'b5e1c7f2a9d3'
down_revision = 'a4d0b6e5f7c8'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("frontchannel_logout_uri", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("frontchannel_logout_session_required", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
        batch.add_column(sa.Column("backchannel_logout_session_required", sa.Boolean(), nullable=False,
                                   server_default=sa.true()))
    # The back-channel delivery outbox (idp.oidc.logout.LogoutDelivery).
    op.create_table(
        "logout_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["client.client_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_logout_delivery_due", "logout_delivery", ["status", "next_attempt_at"])


def downgrade():
    op.drop_index("ix_logout_delivery_due", table_name="logout_delivery")
    op.drop_table("logout_delivery")
    with op.batch_alter_table("client") as batch:
        batch.drop_column("backchannel_logout_session_required")
        batch.drop_column("frontchannel_logout_session_required")
        batch.drop_column("frontchannel_logout_uri")
