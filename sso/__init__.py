"""Single sign-on through OpenID Connect: Google Workspace, Microsoft Entra ID or any provider
with a discovery document, mapped to the users the roster already holds (docs/sso.md).

``sso.providers`` reads and checks the ``CBT_SSO_*`` settings, ``sso.accounts`` decides whom a
validated id_token signs in (or why nobody), ``sso.views`` is the blueprint with the start and
callback routes. Nothing here creates an account: the roster is the list of who may sign in.
"""
