"""Admin console foundation

Revision ID: e5a1c0d2b304
Revises: e5a1c0d2b303
Create Date: 2026-11-29 19:40:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'e5a1c0d2b304'
down_revision = 'e5a1c0d2b303'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
