"""The emulators' verbatim POST (provider callbacks) trusts what the environment trusts, like their other requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from lti_tool.sandbox.verbatim import post_verbatim


class Sent(Exception):
    """Raised by the fake adapter: the request went no further than the transport."""


def test_post_verbatim_uses_the_ca_bundle_the_environment_names(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    bundle = tmp_path / "school-ca.pem"
    bundle.write_text("not read: the adapter is faked")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    seen: dict[str, Any] = {}

    def send(_adapter: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any) -> None:
        seen.update(url=request.url, verify=kwargs.get("verify"))
        raise Sent

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    url = "https://lti.school.test/callbacks/speechace?sig=%41b"
    with pytest.raises(Sent):
        post_verbatim(url, b"{}", {"Content-Type": "application/json"})
    assert seen == {"url": url, "verify": str(bundle)}  # the URL still as given, not re-quoted
