"""The contract's fixtures: every registered provider (the tool's own, and the echo provider of the tests,
registered through the LTI_TOOL_PROVIDERS setting) with its test-side adapter, under the write guard."""

from __future__ import annotations

from typing import Any

import pytest

from lti_tool.providers.registry import provider_classes
from tests.providers.adapters import ADAPTERS
from tests.providers.adapters import Adapter
from tests.providers.write_guard import write_guard  # noqa: F401  (autouse: every test here runs under it)

ECHO = "tests.providers.echo_provider:EchoProvider"
# Every installed provider, and the echo provider by its module path (no entry point, no edit in lti_tool).
SELECTION = ",".join([*(cls.name for cls in provider_classes()), ECHO])
REGISTERED = [cls.name for cls in provider_classes(SELECTION)]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"providers": SELECTION}




@pytest.fixture(params=REGISTERED)
def adapter(request: pytest.FixtureRequest) -> Adapter:
    factory = ADAPTERS.get(request.param)
    assert factory is not None, f"provider {request.param!r} has no test adapter in tests/providers/adapters.py"
    made: Adapter = factory(request)
    return made
