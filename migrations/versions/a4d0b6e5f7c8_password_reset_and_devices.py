"""Password reset tokens and known devices

Revision ID: a4d0b6e5f7c8
Revises: f3c9a5d4e6b7
Create Date: 2026-11-29 18:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'a4d0b6e5f7c8'
down_revision = 'f3c9a5d4e6b7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'recovery_secret',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('target_hash', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_recovery_secret_account_id', 'recovery_secret', ['account_id'])
    op.create_index('ix_recovery_secret_secret_hash', 'recovery_secret', ['secret_hash'])
    op.create_table(
        'known_device',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('device_hash', sa.String(length=64), nullable=False),
        sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('account_id', 'device_hash'),
    )


def downgrade():
    op.drop_table('known_device')
    op.drop_index('ix_recovery_secret_secret_hash', table_name='recovery_secret')
    op.drop_index('ix_recovery_secret_account_id', table_name='recovery_secret')
    op.drop_table('recovery_secret')
