"""An installation that offers fewer providers (LTI_TOOL_PROVIDERS): what was stored for the others stays, but is
neither offered nor reachable — a clear page or a 404, never a 500."""

from __future__ import annotations

import pytest
import requests

from lti_tool.sandbox.browser import FormBrowser
from tests.lti.test_deep_linking import picker
from tests.providers.conftest import ECHO


@pytest.fixture
def settings_overrides():
    return {"providers": ECHO}


def test_a_provider_left_out_is_not_offered_and_its_callbacks_are_404(connected, speechace_setup, itep_setup):
    page = FormBrowser().get(connected.launch_url(custom={"activity": speechace_setup.activity_public_id}))
    assert page.status_code == 502 and "no longer offered" in page.text
    _, chooser = picker(connected)
    assert chooser.status_code == 200 and "Placement speaking test" not in chooser.text
    for name in ("speechace", "itep"):
        answer = requests.post(f"{connected.tool_url}/callbacks/{name}", data=b"{}",
                               headers={"Content-Type": "application/json"}, timeout=10)
        assert answer.status_code == 404


def test_a_teacher_of_an_activity_whose_provider_is_left_out_gets_a_page_not_a_500(connected, speechace_setup):
    teacher = FormBrowser()
    page = teacher.get(connected.launch_url(sub=connected.course.instructor,
                                            custom={"activity": speechace_setup.activity_public_id},
                                            with_lineitem=True))
    assert page.status_code == 403 and "no longer offered" in page.text
