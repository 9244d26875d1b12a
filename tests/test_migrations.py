"""The migrations build exactly the schema the models describe (no drift), on every backend."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from idp.extensions import db


def test_migrated_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as connection, warnings.catch_warnings():
        # Reflection cannot read expression indexes (uq_account_role_grant) and says so; the
        # index's own behaviour is tested in tests/verifiers/test_postal_config.py.
        warnings.filterwarnings("ignore", message=".*expression-based index.*")
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == [], "models and migrations differ; add a migration:\n" + "\n".join(map(str, diff))
