"""Client onboarding: registration requests, initial access tokens, RFC 7592 management

Revision ID: c6f2d8a3b0e4
Revises: b5e1c7f2a9d3
Create Date: 2026-11-29 19:00:00
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = 'c6f2d8a3b0e4'
down_revision = 'b5e1c7f2a9d3'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
