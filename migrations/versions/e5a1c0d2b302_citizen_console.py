"""Citizen console: account deletion requests

Revision ID: e5a1c0d2b302
Revises: e5a1c0d2b301
Create Date: 2026-11-29 19:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e5a1c0d2b302'
down_revision = 'e5a1c0d2b301'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_deletion_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
        sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_account_deletion_request_account_id', 'account_deletion_request', ['account_id'])
    op.create_index('ix_account_deletion_request_scheduled_for', 'account_deletion_request', ['scheduled_for'])


def downgrade():
    op.drop_index('ix_account_deletion_request_scheduled_for', table_name='account_deletion_request')
    op.drop_index('ix_account_deletion_request_account_id', table_name='account_deletion_request')
    op.drop_table('account_deletion_request')
