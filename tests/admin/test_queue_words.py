"""The passback queue names an error only where there is one: a score the LMS accepted (HTTP 200) has none."""

from __future__ import annotations

from tests.admin.conftest import text
from tests.admin.test_admin_queue import LMS_ERROR
from tests.admin.test_admin_queue import queue  # noqa: F401  (the fixture)


def test_a_sent_score_shows_no_error(admin_client, queue):  # noqa: F811
    queue.add(status="sent", tries=1, last_error=None, last_http_status=200)
    queue.add(status="parked", tries=3, last_error=LMS_ERROR, last_http_status=422)
    page = text(admin_client.get("/admin/queue"))
    assert "HTTP 200" not in page
    assert f"HTTP 422: {LMS_ERROR}" in page
