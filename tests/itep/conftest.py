"""Every test here runs under the write guard: no HTTP while a write is pending, no commit inside a provider or
a domain helper (tests/providers/write_guard.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.providers.write_guard import WriteGuard
from tests.providers.write_guard import guarding


@pytest.fixture(autouse=True)
def write_guard() -> Iterator[WriteGuard]:
    with guarding() as guard:
        yield guard
    assert guard.violations == [], guard.violations
