"""Login sessions: last activity for the idle lifetime

Revision ID: d7a3e9b4c1f5
Revises: c6f2d8a3b0e4
Create Date: 2026-11-29 19:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'd7a3e9b4c1f5'
down_revision = 'c6f2d8a3b0e4'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable, no default: sessions opened before this revision count their idle time from created_at.
    with op.batch_alter_table("login_session") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("login_session") as batch:
        batch.drop_column("last_seen_at")
