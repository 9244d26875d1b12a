"""TOTP authenticators and recovery codes

Revision ID: d1a7e3b2c4f5
Revises: c84d2e6f1a93
Create Date: 2026-11-29 18:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'd1a7e3b2c4f5'
down_revision = 'c84d2e6f1a93'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
