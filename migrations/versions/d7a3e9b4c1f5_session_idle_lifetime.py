"""Login sessions: last activity for the idle lifetime

Revision ID: d7a3e9b4c1f5
Revises: c6f2d8a3b0e4
Create Date: 2026-11-29 19:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'd7a3e9b4c1f5'
down_revision = 'c6f2d8a3b0e4'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
