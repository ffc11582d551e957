"""The launch surface: OIDC login, launch, JWKS and registration endpoints, and where a launched user lands."""
