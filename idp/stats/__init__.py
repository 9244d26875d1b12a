"""Statistics for the admin console: aggregation over the login history and server-rendered SVG charts.

Owns: rollup (the `login_daily` counts of each finished day, kept after the login rows go),
queries (logins per day by portal, identity source and province; assurance levels; the share
of active accounts with a second factor), svg (a small accessible chart renderer, no JavaScript)
and dashboard (everything one page needs, for a period and an agency scope).
Reads idp.accounts.history.LoginEvent, accounts and second-factor tables; writes only its roll-up.
Must not import views.
"""
