"""Login history for the account console and statistics

Revision ID: e5a1c0d2b303
Revises: e5a1c0d2b302
Create Date: 2026-11-29 19:40:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'e5a1c0d2b303'
down_revision = 'e5a1c0d2b302'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
