"""WebAuthn credentials (passkeys, security keys)

Revision ID: e2b8f4c3d5a6
Revises: d1a7e3b2c4f5
Create Date: 2026-11-29 18:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e2b8f4c3d5a6'
down_revision = 'd1a7e3b2c4f5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'webauthn_credential',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('credential_id', sa.LargeBinary(length=1023), nullable=False),
        sa.Column('public_key', sa.LargeBinary(length=2048), nullable=False),
        sa.Column('sign_count', sa.BigInteger(), nullable=False),
        sa.Column('transports', sa.JSON(), nullable=False),
        sa.Column('aaguid', sa.String(length=36), nullable=False),
        sa.Column('backup_eligible', sa.Boolean(), nullable=False),
        sa.Column('backed_up', sa.Boolean(), nullable=False),
        sa.Column('user_verified', sa.Boolean(), nullable=False),
        sa.Column('discoverable', sa.Boolean(), nullable=True),
        sa.Column('added_acr', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('credential_id'),
    )
    op.create_index('ix_webauthn_credential_account_id', 'webauthn_credential', ['account_id'])

    op.create_table(
        'webauthn_user',
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('user_handle', sa.LargeBinary(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('account_id'),
        sa.UniqueConstraint('user_handle'),
    )

    op.create_table(
        'webauthn_challenge',
        sa.Column('challenge', sa.String(length=64), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['account_id'], ['account.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('challenge'),
    )
    op.create_index('ix_webauthn_challenge_expires_at', 'webauthn_challenge', ['expires_at'])


def downgrade():
    op.drop_index('ix_webauthn_challenge_expires_at', table_name='webauthn_challenge')
    op.drop_table('webauthn_challenge')
    op.drop_table('webauthn_user')
    op.drop_index('ix_webauthn_credential_account_id', table_name='webauthn_credential')
    op.drop_table('webauthn_credential')
