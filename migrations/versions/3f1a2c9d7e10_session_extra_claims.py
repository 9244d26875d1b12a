"""Session extra claims from identity sources (e.g. vn_eid_level), carried to codes and grants

Revision ID: 3f1a2c9d7e10
Revises: b6b55970a5c8
Create Date: 2026-11-29 17:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '3f1a2c9d7e10'
down_revision = 'b6b55970a5c8'
branch_labels = None
depends_on = None

TABLES = ("login_session", "authorization_code", "token_grant")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("extra_claims", sa.JSON(), nullable=True))


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("extra_claims")
