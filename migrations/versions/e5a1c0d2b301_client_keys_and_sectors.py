"""Clients: jwks_uri and sector_identifier_uri (issue 5)

Revision ID: e5a1c0d2b301
Revises: d7a3e9b4c1f5
Create Date: 2026-11-29 19:40:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'e5a1c0d2b301'
down_revision = 'd7a3e9b4c1f5'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
