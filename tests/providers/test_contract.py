"""The provider contract, run against every registered provider (the tool's own and the tests' echo provider):
a learner starts a test; the provider's callback is accepted; a forged one is refused; a repeated delivery is
recognised; a correction is accepted; the teacher's page shows the report. The write guard (conftest) checks all
along that nothing goes out over HTTP with a write pending and that no provider commits."""

from __future__ import annotations

import html
import re

import sqlalchemy as sa

from lti_tool.models import Attempt
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.sandbox.browser import FormBrowser
from tests.providers.adapters import Adapter


def counts(database) -> tuple[int, int]:
    with database.session() as session:
        return (session.scalar(sa.select(sa.func.count()).select_from(Result)),
                session.scalar(sa.select(sa.func.count()).select_from(ScoreSubmission)))


def latest_score(database) -> float:
    """The latest queued score, in percent of the activity's maximum."""
    with database.session() as session:
        latest = session.scalars(sa.select(ScoreSubmission).order_by(ScoreSubmission.id.desc())).first()
        return round(latest.score_given / latest.score_maximum * 100, 6)


def test_a_provider_keeps_the_contract(adapter: Adapter, database, write_guard, request):
    page = adapter.start()
    assert page.status_code == 200, page.text[:400]
    assert 'id="provider-test"' in page.text or 'data-testid="test-ticket"' in page.text
    summary = adapter.provider(request).summary  # before the test, the learner reads what it is
    assert summary.strip() and html.escape(summary, quote=False) in page.text.replace("&#39;", "'")
    with database.session() as session:
        attempt = session.scalars(sa.select(Attempt)).one()
        assert attempt.lineitem_url  # the first launch asked the LMS for the line item, after binding the link
    assert write_guard.http_calls > 0

    accepted = adapter.callback(adapter, adapter.scale / 2)
    assert accepted.status == 200 and accepted.json() == {"status": "accepted"}, accepted.text
    assert counts(database) == (1, 1)
    assert latest_score(database) == 50
    labels = adapter.component_labels(request)
    with database.session() as session:
        scores = session.scalars(sa.select(Result.scores)).one()
        comment = session.scalars(sa.select(ScoreSubmission.comment)).one()
    for component in scores:  # the gradebook comment names each score as the provider labels it
        assert labels[component] in comment, (component, comment)

    forged = adapter.forged(adapter)
    assert 400 <= forged.status < 500 and "error" in forged.json(), forged.text
    assert counts(database) == (1, 1)

    repeated = adapter.duplicate(adapter)
    assert repeated.status == 200 and repeated.json() == {"status": "duplicate"}, repeated.text
    assert counts(database) == (1, 1)

    corrected = adapter.callback(adapter, adapter.scale)
    assert corrected.status == 200 and corrected.json() == {"status": "accepted"}, corrected.text
    assert counts(database) == (2, 2)
    assert latest_score(database) == 100  # the latest result decides (the activity's default policy)

    browser = FormBrowser()
    overview = browser.get(adapter.connected.launch_url(sub=adapter.connected.course.instructor,
                                                        custom={"activity": adapter.activity_public_id}))
    links = re.findall(r'href="([^"]*/teacher/results/[^"]+)"', overview.text)
    assert links, overview.text[:400]
    report = browser.get(f"{adapter.connected.tool_url}{html.unescape(links[0])}")
    assert report.status_code == 200 and 'data-testid="report-scores"' in report.text, report.text[:400]
    assert "report-problem" not in report.text
    assert f"{adapter.scale:g}" in report.text.split('data-testid="report-scores"', 1)[1]


def test_an_unknown_provider_has_no_callback_route(connected):
    import requests

    answer = requests.post(f"{connected.tool_url}/callbacks/nobody", data=b"{}",
                           headers={"Content-Type": "application/json"}, timeout=10)
    assert answer.status_code == 404
