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
    # The back-channel delivery outbox: filled in by the single-logout work (same revision).


def downgrade():
    with op.batch_alter_table("client") as batch:
        batch.drop_column("backchannel_logout_session_required")
        batch.drop_column("frontchannel_logout_session_required")
        batch.drop_column("frontchannel_logout_uri")
