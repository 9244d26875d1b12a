"""OpenID Connect protocol: Authlib wiring, tokens, keys, discovery, claims. Must not import idp.auth views."""
