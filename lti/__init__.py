"""LTI 1.3 as a tool: OIDC login, launches, Deep Linking 2.0 and Assignment and Grade Services."""
