"""What a login and a launch cost the database once this process knows the platform: the login nothing, the
launch one statement on PostgreSQL (row by row on SQLite). Counted, not timed."""

from __future__ import annotations

from urllib.parse import parse_qs

from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from tests.sql_capture import statements_sent

LEARNER_PAGE = 'data-testid="learner-landing"'


def test_a_known_platform_costs_no_sql_at_login_and_one_statement_at_launch(connected, database):
    learner = connected.course.learner
    warm_up = FormBrowser().get(connected.launch_url(sub=learner))  # the process learns the platform
    assert LEARNER_PAGE in warm_up.text
    browser = FormBrowser()
    with statements_sent(database.engine) as at_login:
        to_platform = browser.session.get(connected.launch_url(sub=learner), allow_redirects=False)
    assert to_platform.status_code == 302
    assert at_login == []
    authorized = browser.session.get(to_platform.headers["Location"])
    [form] = parse_forms(authorized.text)
    assert parse_qs(to_platform.headers["Location"].split("?", 1)[1])["state"][0] == form.fields["state"]
    with statements_sent(database.engine) as at_launch:
        landing = browser.session.post(form.action, data=form.fields)
    assert landing.status_code == 200 and LEARNER_PAGE in landing.text, landing.text[:300]
    writes = [statement for statement in at_launch if "lti_launch" in statement]
    assert len(writes) == 1, at_launch
    assert len(at_launch) == (1 if database.is_postgresql else 5), at_launch
