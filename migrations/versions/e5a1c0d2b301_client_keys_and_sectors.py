"""Clients: jwks_uri and sector_identifier_uri (issue 5)

Revision ID: e5a1c0d2b301
Revises: d7a3e9b4c1f5
Create Date: 2026-11-29 19:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'e5a1c0d2b301'
down_revision = 'd7a3e9b4c1f5'
branch_labels = None
depends_on = None


def upgrade():
    # RFC 7591 §2 jwks_uri (idp.oidc.client_keys) and OIDC Core §8.1 sector_identifier_uri
    # (idp.oidc.sector_documents); both optional, existing portals keep NULL.
    with op.batch_alter_table("client") as batch:
        batch.add_column(sa.Column("jwks_uri", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("sector_identifier_uri", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("client") as batch:
        batch.drop_column("sector_identifier_uri")
        batch.drop_column("jwks_uri")
