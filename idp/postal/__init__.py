"""Post office staff pages (`/postal`): the clerk's counter check.

Why a package of its own rather than a file in idp/verifiers/postal: these pages are staff UI,
not a verifier. They need the clerk's login session (idp.auth.session) and role
(idp.accounts.roles), which a verifier module must never import. They reach the postal
verifier only through its public surface: its models and `CounterVerifier.confirm`/`reject`.
Nothing in idp.verifiers imports this package.
"""
