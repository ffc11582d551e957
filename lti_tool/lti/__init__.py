"""LTI 1.3: OIDC login, launch validation, JWKS, registration (dynamic and manual)."""
