"""WebAuthn credentials (passkeys, security keys)

Revision ID: e2b8f4c3d5a6
Revises: d1a7e3b2c4f5
Create Date: 2026-11-29 18:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'e2b8f4c3d5a6'
down_revision = 'd1a7e3b2c4f5'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
