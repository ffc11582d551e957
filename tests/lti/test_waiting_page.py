"""The page a launch shows while a self-registered LMS waits for approval: addressed to the tool administrator,
as news rather than an error, and never sending people to their LMS administrator."""

from __future__ import annotations

import html
import re

from tests.lti.test_registration import _launch_status
from tests.lti.test_registration import _register


def test_the_waiting_page_speaks_to_the_tool_administrator_in_a_neutral_style(app, platform, tool_server):
    _register(platform, tool_server)
    (client,) = platform.tools.values()
    refused = _launch_status(platform, client)
    assert refused.status_code == 403
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", refused.text)).split())
    assert text.count("Waiting for the tool administrator") >= 1
    assert "For the tool administrator: this LMS has registered itself" in text
    assert "lti-tool registrations approve" in text and "nothing to do in the course" in text
    assert "notice-error" not in refused.text and "LMS administrator" not in text
