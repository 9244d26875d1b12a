"""National accounts: models, identifiers, services and views."""
