"""Identity sources as verifier modules: the contract (base), the registry, shared errors.

Owns how a source proves a person and returns an IdentityAssertion. Must not import accounts,
login sessions or tokens: the core turns assertions into accounts (idp.accounts.linking).
"""
