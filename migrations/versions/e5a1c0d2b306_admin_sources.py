"""Admin console: identity source settings and trust anchors

Revision ID: e5a1c0d2b306
Revises: e5a1c0d2b305
Create Date: 2026-11-29 19:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e5a1c0d2b306'
down_revision = 'e5a1c0d2b305'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'verifier_override',
        sa.Column('verifier_id', sa.String(length=64), nullable=False),
        sa.Column('settings', sa.JSON(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_by', sa.String(length=96), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('verifier_id'),
    )
    op.create_table(
        'verifier_anchor',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('verifier_id', sa.String(length=64), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('level', sa.String(length=16), nullable=False),
        sa.Column('revocation', sa.String(length=8), nullable=False),
        sa.Column('ocsp', sa.String(length=8), nullable=False),
        sa.Column('pem', sa.Text(), nullable=False),
        sa.Column('subject', sa.String(length=1024), nullable=False),
        sa.Column('issuer', sa.String(length=1024), nullable=False),
        sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
        sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=96), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('verifier_id', 'fingerprint', name='uq_verifier_anchor_fingerprint'),
    )
    op.create_index('ix_verifier_anchor_verifier_id', 'verifier_anchor', ['verifier_id'])
    revision_table = op.create_table(
        'verifier_revision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    # The one row every worker reads (idp.verifiers.overrides.VerifierRevision).
    op.bulk_insert(revision_table, [{'id': 1, 'revision': 0}])


def downgrade():
    op.drop_table('verifier_revision')
    op.drop_index('ix_verifier_anchor_verifier_id', table_name='verifier_anchor')
    op.drop_table('verifier_anchor')
    op.drop_table('verifier_override')
