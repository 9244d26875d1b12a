"""Authentication: the login session, password login and logout pages.

Owns the browser's single sign-on session. Must not import idp.oidc views.
"""
