"""Admin console: accounts and the linking review queue

Revision ID: e5a1c0d2b307
Revises: e5a1c0d2b306
Create Date: 2026-11-29 19:40:00

- account: indexes for the console's exact searches by phone number and by e-mail address
  (case-insensitive: an expression index on lower(email), PostgreSQL only: SQLite reflection warns
  about expression indexes on `account`, which every batch migration of a referring table reflects);
- link_review: who decided a review (staff account or admin API client) and the reason given.
"""
import sqlalchemy as sa
from alembic import op

revision = 'e5a1c0d2b307'
down_revision = 'e5a1c0d2b306'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("link_review") as batch:
        batch.add_column(sa.Column("resolved_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("resolved_by_client", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("resolution_reason", sa.String(length=500), nullable=True))
        batch.create_foreign_key("fk_link_review_resolved_by_account", "account", ["resolved_by"], ["id"],
                                 ondelete="SET NULL")
    op.create_index("ix_account_phone", "account", ["phone"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_account_email_lower", "account", [sa.text("lower(email)")])


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_account_email_lower", table_name="account")
    op.drop_index("ix_account_phone", table_name="account")
    with op.batch_alter_table("link_review") as batch:
        batch.drop_constraint("fk_link_review_resolved_by_account", type_="foreignkey")
        batch.drop_column("resolution_reason")
        batch.drop_column("resolved_by_client")
        batch.drop_column("resolved_by")
