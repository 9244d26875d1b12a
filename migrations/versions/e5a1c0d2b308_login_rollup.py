"""Statistics roll-up of the login history, and an index for audit queries by time

Revision ID: e5a1c0d2b308
Revises: e5a1c0d2b307
Create Date: 2026-11-29 22:30:00

- login_daily_day / login_daily: the counts of each finished Vietnam day per portal, source,
  province and level (idp.stats.rollup), so the dashboard reads a few rows per day and keeps
  its numbers after old login history is purged;
- audit_event.at: exports and the audit listing filter by time.
"""
import sqlalchemy as sa
from alembic import op

revision = 'e5a1c0d2b308'
down_revision = 'e5a1c0d2b307'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_daily_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "login_daily",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("province_code", sa.String(length=8), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("logins", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["day"], ["login_daily_day.day"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_daily_day_client", "login_daily", ["day", "client_id"])
    op.create_index("ix_audit_event_at", "audit_event", ["at"])


def downgrade():
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_index("ix_login_daily_day_client", table_name="login_daily")
    op.drop_table("login_daily")
    op.drop_table("login_daily_day")
