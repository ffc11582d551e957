"""How a secret is shown to admins: enough to recognise it, never enough to use it."""

from __future__ import annotations


def masked(secret: str | None) -> str:
    if not secret:
        return "(none)"
    return "•" * 8 + secret[-4:] if len(secret) > 8 else "•" * 8
