"""QR cross-device login requests

Revision ID: f3c9a5d4e6b7
Revises: e2b8f4c3d5a6
Create Date: 2026-11-29 18:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'f3c9a5d4e6b7'
down_revision = 'e2b8f4c3d5a6'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
