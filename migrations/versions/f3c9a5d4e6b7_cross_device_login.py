"""QR cross-device login requests

Revision ID: f3c9a5d4e6b7
Revises: e2b8f4c3d5a6
Create Date: 2026-11-29 18:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'f3c9a5d4e6b7'
down_revision = 'e2b8f4c3d5a6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'cross_device_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('desktop_key_hash', sa.String(length=64), nullable=False),
        sa.Column('next_url', sa.String(length=4096), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=True),
        sa.Column('required_acr', sa.String(length=64), nullable=True),
        sa.Column('desktop_browser', sa.String(length=32), nullable=False),
        sa.Column('desktop_os', sa.String(length=32), nullable=False),
        sa.Column('desktop_network', sa.String(length=64), nullable=False),
        sa.Column('number', sa.String(length=2), nullable=False),
        sa.Column('candidates', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('phone_key_hash', sa.String(length=64), nullable=True),
        sa.Column('acr', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('scanned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index('ix_cross_device_request_expires_at', 'cross_device_request', ['expires_at'])


def downgrade():
    op.drop_index('ix_cross_device_request_expires_at', table_name='cross_device_request')
    op.drop_table('cross_device_request')
