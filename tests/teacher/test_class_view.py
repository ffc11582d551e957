"""The class view: the summary of a known class, the chart and its text alternative, sub-scores and history, the
status filter, the provider's value beside the gradebook points, resend for all, and the status JSON."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from lti_tool.maintenance import passback_worker
from lti_tool.models import Activity
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiUser
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.sandbox.browser import parse_forms
from tests.speechace.test_callback import take_test
from tests.teacher.support import known_class
from tests.teacher.support import link_url
from tests.teacher.support import scores
from tests.teacher.support import teacher_page
from tests.teacher.support import text_of


def _count(page: str, key: str) -> int:
    found = re.search(rf'data-count="{key}">(\d+)<', page)
    assert found, f"no count {key}"
    return int(found.group(1))


def _stat(page: str, name: str) -> str:
    found = re.search(rf'data-stat="{name}">([^<]+)<', page)
    assert found, f"no statistic {name}"
    return found.group(1)


def _states(page: str) -> dict[str, str]:
    return {html.unescape(name): state for name, state in
            re.findall(r'data-learner="([^"]+)" data-state="([^"]+)"', page)}


def test_summary_counts_and_statistics_of_a_known_class(connected, speechace_setup, settings, database):
    known_class(connected, speechace_setup, settings, database)
    _, page = teacher_page(connected, speechace_setup)
    assert page.status_code == 200, page.text[:300]
    assert _count(page.text, "students") == 5
    assert (_count(page.text, "graded"), _count(page.text, "grade_on_its_way"),
            _count(page.text, "not_started")) == (3, 1, 1)
    assert _count(page.text, "refused") == 0
    # 80, 50 and 100 gradebook points: the grade on its way does not count yet.
    assert (_stat(page.text, "mean"), _stat(page.text, "median")) == ("76.67", "80")
    assert (_stat(page.text, "lowest"), _stat(page.text, "highest"), _stat(page.text, "spread")) == \
        ("50", "100", "20.55")
    states = _states(page.text)
    assert states["Edsger Dijkstra"] == "grade_on_its_way" and states["Stella Ström"] == "graded"


def test_chart_and_its_table_show_the_summary(connected, speechace_setup, settings, database):
    known_class(connected, speechace_setup, settings, database)
    _, page = teacher_page(connected, speechace_setup)
    svg = re.search(r"<svg[^>]*data-testid=\"chart-svg\".*?</svg>", page.text, re.S)
    assert svg and 'role="img"' in svg.group(0) and 'aria-labelledby="chart-title chart-desc"' in svg.group(0)
    bars = {int(index): int(count)
            for index, count in re.findall(r'<g data-bin="(\d+)" data-count="(\d+)"', svg.group(0))}
    assert len(bars) == 10 and sum(bars.values()) == _count(page.text, "graded") == 3
    assert (bars[5], bars[8], bars[9]) == (1, 1, 1)  # 50, 80 and 100 (the last range includes the maximum)
    # Every bar carries its number as text: the chart reads without colour.
    assert len(re.findall(r'class="chart-count">\d+</text>', svg.group(0))) == 10
    table = re.search(r'data-testid="chart-table".*?</table>', page.text, re.S)
    assert table is not None
    rows = re.findall(r'<tr data-bin="(\d+)"><td>([^<]+)</td><td>(\d+)</td></tr>', table.group(0))
    assert {int(index): int(count) for index, _, count in rows} == bars
    assert ("8", "80 to 90", "1") in rows
    description = text_of(re.search(r"<desc[^>]*>(.*?)</desc>", svg.group(0), re.S).group(1))
    assert "1 student from 50 to 60 points" in description and "1 student from 90 to 100 points" in description


def test_rows_show_provider_value_beside_gradebook_points_sub_scores_and_history(connected, speechace_setup,
                                                                                 settings, database):
    known_class(connected, speechace_setup, settings, database)
    take_test(connected, speechace_setup, sub="grace", scores=scores(6.3))  # a second result for Grace
    passback_worker(database, settings).run_once()
    _, page = teacher_page(connected, speechace_setup)
    text = text_of(page.text)
    assert "7.2 of 9 → 80 of 100 points" in text
    assert "6.3 of 9 → 70 of 100 points" in text  # Grace's latest attempt counts
    assert "<th scope=\"col\">Vocabulary</th>" in text and "vocab" not in text.replace("vocabulary", "")
    grace = re.search(r'<tr data-status="[^"]+" data-learner="Grace Hopper".*?</tr>', text, re.S).group(0)
    assert "2 results" in grace and grace.count("<li>") == 2 and "Completed" in grace
    # The machine's time for the element, the reader's (English here: "Dec 7, 2026, 3:40 AM UTC") for people.
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">[A-Z][a-z]{2} \d{1,2}, \d{4}, '
                     r'\d{1,2}:\d\d\s[AP]M UTC</time>', grace)
    assert "the latest attempt counts" in text and "attempts policy" not in text


def test_status_filter_lists_only_that_status(connected, speechace_setup, settings, database):
    known_class(connected, speechace_setup, settings, database)
    browser, page = teacher_page(connected, speechace_setup)
    filtered = browser.get(connected.tool_url + link_url(page.text, "?status=grade_on_its_way"))
    assert set(_states(filtered.text)) == {"Edsger Dijkstra"}
    assert _count(filtered.text, "students") == 5  # the summary stays the class's
    unknown = browser.get(connected.tool_url + link_url(page.text, "?status=nonsense"))
    assert len(_states(unknown.text)) == 5


def test_resend_all_queues_every_grade_again(connected, speechace_setup, settings, database):
    known_class(connected, speechace_setup, settings, database)
    passback_worker(database, settings).run_once()
    browser, page = teacher_page(connected, speechace_setup)
    (form,) = [form for form in parse_forms(page.text, page.url) if form.fields.get("which") == "all"]
    after = browser.submit(form)
    assert "4 grades queued again" in text_of(after.text)
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ScoreSubmission)
                              .where(ScoreSubmission.status == SubmissionStatus.PENDING)) == 4


def test_status_json_follows_the_outbox(connected, speechace_setup, settings, database):
    known_class(connected, speechace_setup, settings, database)
    browser, page = teacher_page(connected, speechace_setup)
    url = connected.tool_url + link_url(page.text, "/status.json")
    before = browser.get(url)
    assert before.headers["Cache-Control"] == "no-store"
    rows = {row["name"]: row for row in before.json()["rows"]}
    assert rows["Edsger Dijkstra"]["status"] == "grade_on_its_way" and before.json()["counts"]["grade_on_its_way"] == 1
    passback_worker(database, settings).run_once()
    after = browser.get(url).json()
    assert {row["name"]: row["status"] for row in after["rows"]}["Edsger Dijkstra"] == "graded"
    assert after["counts"]["graded"] == 4 and after["counts"]["grade_on_its_way"] == 0
    assert 'script src="/static/teacher-status.js"' in page.text and 'aria-live="polite"' in page.text


@pytest.mark.parametrize("suffix", ["/status.json", "/export.csv", "/settings"])
def test_a_learner_gets_403(connected, speechace_setup, settings, database, suffix):
    known_class(connected, speechace_setup, settings, database)
    learner_browser, _ = teacher_page(connected, speechace_setup, sub=connected.course.learner)
    from lti_tool.models import LtiLaunch
    from lti_tool.models import LtiUser

    with database.session() as session:
        learner_launch = session.scalars(sa.select(LtiLaunch.id).join(LtiUser, LtiUser.id == LtiLaunch.user_id)
                                         .where(LtiUser.sub == connected.course.learner)
                                         .order_by(LtiLaunch.expires_at.desc())).first()
    refused = learner_browser.get(f"{connected.tool_url}/teacher/link/{learner_launch}{suffix}")
    assert refused.status_code == 403


def test_the_status_script_gets_its_sentences_from_the_page(connected, speechace_setup, settings, database):
    """static/teacher-status.js says what changed in the page's language: the page hands it every sentence."""
    known_class(connected, speechace_setup, settings, database)
    _, page = teacher_page(connected, speechace_setup)
    section = re.search(r'<section[^>]*id="class-status"[^>]*>', page.text, re.S).group(0)
    sentences = dict(re.findall(r'data-msg-(\w+)="([^"]+)"', section))
    assert set(sentences) == {"more", "reload", "expired"}
    assert html.unescape(sentences["expired"]).startswith("Statuses no longer update here")
    script = (Path(__file__).resolve().parents[2] / "static" / "teacher-status.js").read_text(encoding="utf-8")
    assert all(f"words.msg{name.capitalize()}" in script for name in sentences)


@pytest.mark.parametrize(("title", "subtitle"), [("Week 7 speaking", "Week 7 speaking (Speechace) ·"),
                                                 ("Placement (Speechace)", "Placement (Speechace) ·")])
def test_the_subtitle_names_the_provider_once(connected, speechace_setup, database, title, subtitle):
    with database.session() as session:
        session.execute(sa.update(Activity).values(title=title))
        session.commit()
    _, page = teacher_page(connected, speechace_setup)
    landing = re.search(r'data-testid="instructor-landing">([^·]*·)', html.unescape(page.text)).group(1)
    assert " ".join(landing.split()) == subtitle


def test_a_refusal_reads_in_the_learners_language_and_logs_in_english(connected, speechace_setup, database,
                                                                      caplog):
    """A Spanish learner on a teacher page: the page says why in Spanish, the server log in English."""
    connected.platform.set_locale(connected.course.learner, "es")
    learner_browser, _ = teacher_page(connected, speechace_setup, sub=connected.course.learner)
    with database.session() as session:
        learner_launch = session.scalars(sa.select(LtiLaunch.id).join(LtiUser, LtiUser.id == LtiLaunch.user_id)
                                         .where(LtiUser.sub == connected.course.learner)
                                         .order_by(LtiLaunch.expires_at.desc())).first()
    caplog.set_level("WARNING")
    refused = learner_browser.get(f"{connected.tool_url}/teacher/link/{learner_launch}/settings")
    assert refused.status_code == 403
    assert "Solo los profesores del curso pueden abrir esta página." in html.unescape(refused.text)
    assert "Only the course's teachers can open this page." in caplog.text
    assert "Solo los profesores" not in caplog.text
