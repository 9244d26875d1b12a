"""Login history for the account console and statistics

Revision ID: e5a1c0d2b303
Revises: e5a1c0d2b302
Create Date: 2026-11-29 19:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e5a1c0d2b303'
down_revision = 'e5a1c0d2b302'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'login_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('sid', sa.String(length=64), nullable=True),
        sa.Column('client_id', sa.String(length=64), nullable=True),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('province_code', sa.String(length=8), nullable=True),
        sa.Column('network', sa.String(length=64), nullable=True),
        sa.Column('device', sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_login_event_at', 'login_event', ['at'])
    op.create_index('ix_login_event_account_id', 'login_event', ['account_id'])
    op.create_index('ix_login_event_client_id', 'login_event', ['client_id'])


def downgrade():
    op.drop_index('ix_login_event_client_id', table_name='login_event')
    op.drop_index('ix_login_event_account_id', table_name='login_event')
    op.drop_index('ix_login_event_at', table_name='login_event')
    op.drop_table('login_event')
