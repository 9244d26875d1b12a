"""Admin console: client portals

Revision ID: e5a1c0d2b305
Revises: e5a1c0d2b304
Create Date: 2026-11-29 19:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e5a1c0d2b305'
down_revision = 'e5a1c0d2b304'
branch_labels = None
depends_on = None


def upgrade():
    # Who approved or rejected a registration request (the reason column exists since c6f2d8a3b0e4).
    with op.batch_alter_table("registration_request") as batch:
        batch.add_column(sa.Column("decided_by", sa.String(length=100), nullable=True))


def downgrade():
    with op.batch_alter_table("registration_request") as batch:
        batch.drop_column("decided_by")
