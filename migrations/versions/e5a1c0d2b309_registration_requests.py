"""Registration requests: contacts (RFC 7591)

Revision ID: e5a1c0d2b309
Revises: e5a1c0d2b308
Create Date: 2026-11-29 22:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e5a1c0d2b309'
down_revision = 'e5a1c0d2b308'
branch_labels = None
depends_on = None


def upgrade():
    # RFC 7591 §2: e-mail addresses of the people responsible for a portal registered through the API.
    with op.batch_alter_table("registration_request") as batch:
        batch.add_column(sa.Column("contacts", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("registration_request") as batch:
        batch.drop_column("contacts")
