"""Every test here runs under the write guard: no HTTP while a write is pending, no commit inside a provider or
a domain helper (tests/providers/write_guard.py)."""

from __future__ import annotations

from tests.providers.write_guard import write_guard  # noqa: F401  (autouse: applies to every test of this folder)
