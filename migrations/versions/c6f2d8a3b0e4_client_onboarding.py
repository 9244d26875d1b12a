"""Client onboarding: registration requests, initial access tokens, RFC 7592 management

Revision ID: c6f2d8a3b0e4
Revises: b5e1c7f2a9d3
Create Date: 2026-11-29 19:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'c6f2d8a3b0e4'
down_revision = 'b5e1c7f2a9d3'
branch_labels = None
depends_on = None


def upgrade():
    # idp.oidc.registration_models
    op.create_table(
        "initial_access_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_for_client_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "registration_request",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("registration_token_hash", sa.String(length=64), nullable=True),
        sa.Column("initial_token_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["client.client_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submitted_by"], ["account.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["initial_token_id"], ["initial_access_token.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("client_id"),
    )


def downgrade():
    op.drop_table("registration_request")
    op.drop_table("initial_access_token")
