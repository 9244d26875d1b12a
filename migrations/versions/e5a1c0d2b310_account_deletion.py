"""Account deletion: anonymised login history

Revision ID: e5a1c0d2b310
Revises: e5a1c0d2b309
Create Date: 2026-11-29 22:30:00

login_event.account_id becomes nullable with ON DELETE SET NULL (it was NOT NULL, ON DELETE
CASCADE): a deleted account's logins stay for the statistics, detached and stripped of the
person's session, network and device (idp.accounts.history.detach_logins).
"""
import sqlalchemy as sa
from alembic import op

revision = 'e5a1c0d2b310'
down_revision = 'e5a1c0d2b309'
branch_labels = None
depends_on = None

# PostgreSQL's name for the unnamed constraint of e5a1c0d2b303; SQLite keeps no name, so the batch
# copy is told to call it the same (alembic: "Dropping Unnamed or Named Foreign Key Constraints").
FK = "login_event_account_id_fkey"
CONVENTION = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}


def _account_fk(ondelete: str, nullable: bool) -> None:
    with op.batch_alter_table("login_event", naming_convention=CONVENTION) as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.alter_column("account_id", existing_type=sa.Integer(), nullable=nullable)
        batch.create_foreign_key(FK, "account", ["account_id"], ["id"], ondelete=ondelete)


def upgrade():
    _account_fk("SET NULL", nullable=True)


def downgrade():
    # Detached rows belong to no account any more: they cannot go back under NOT NULL.
    op.execute(sa.text("DELETE FROM login_event WHERE account_id IS NULL"))
    _account_fk("CASCADE", nullable=False)
