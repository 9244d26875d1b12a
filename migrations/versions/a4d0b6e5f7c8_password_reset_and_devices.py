"""Password reset tokens and known devices

Revision ID: a4d0b6e5f7c8
Revises: f3c9a5d4e6b7
Create Date: 2026-11-29 18:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'a4d0b6e5f7c8'
down_revision = 'f3c9a5d4e6b7'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
