"""Postal sources (counter requests, letters) and staff roles (account_role)

Revision ID: c84d2e6f1a93
Revises: 3f1a2c9d7e10
Create Date: 2026-12-01 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'c84d2e6f1a93'
down_revision = '3f1a2c9d7e10'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_role',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('scope', sa.String(length=64), nullable=True),
        sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('granted_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['granted_by'], ['account.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    # One grant per (account, role, scope), NULL scopes included.
    op.create_index('uq_account_role_grant', 'account_role', ['account_id', 'role', sa.text("coalesce(scope, '')")],
                    unique=True)

    op.create_table(
        'postal_counter_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=16), nullable=False),
        sa.Column('verifier_id', sa.String(length=64), nullable=False),
        sa.Column('account_ref', sa.String(length=64), nullable=False),
        sa.Column('claimed_personal_id', sa.String(length=20), nullable=True),
        sa.Column('claimed_full_name', sa.String(length=200), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('post_office', sa.String(length=64), nullable=True),
        sa.Column('chip_read', sa.Boolean(), nullable=True),
        sa.Column('reject_reason', sa.String(length=32), nullable=True),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('reference'),
    )
    op.create_index('ix_postal_counter_request_account', 'postal_counter_request', ['account_ref', 'verifier_id'])
    op.create_index('ix_postal_counter_request_expires_at', 'postal_counter_request', ['expires_at'])

    op.create_table(
        'postal_letter',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=16), nullable=False),
        sa.Column('verifier_id', sa.String(length=64), nullable=False),
        sa.Column('account_ref', sa.String(length=64), nullable=False),
        sa.Column('recipient_name', sa.String(length=200), nullable=True),
        sa.Column('address', sa.String(length=500), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('batch_id', sa.String(length=32), nullable=True),
        sa.Column('code_salt', sa.String(length=32), nullable=True),
        sa.Column('code_hash', sa.String(length=64), nullable=True),
        sa.Column('failed_attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('exported_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('reference'),
    )
    op.create_index('ix_postal_letter_account', 'postal_letter', ['account_ref', 'verifier_id'])
    op.create_index('ix_postal_letter_batch_id', 'postal_letter', ['batch_id'])
    op.create_index('ix_postal_letter_expires_at', 'postal_letter', ['expires_at'])


def downgrade():
    op.drop_table('postal_letter')
    op.drop_table('postal_counter_request')
    op.drop_table('account_role')
