"""Admin console foundation

Revision ID: e5a1c0d2b304
Revises: e5a1c0d2b303
Create Date: 2026-11-29 19:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e5a1c0d2b304'
down_revision = 'e5a1c0d2b303'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("agency_code", sa.String(length=64), nullable=True))
        batch.create_index("ix_client_agency_code", ["agency_code"])


def downgrade():
    with op.batch_alter_table("client") as batch:
        batch.drop_index("ix_client_agency_code")
        batch.drop_column("agency_code")
