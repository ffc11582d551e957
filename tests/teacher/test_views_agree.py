"""The class view, its status poll, the CSV and the student's own status JSON give one answer for every provider
status: all four come from lti_tool/attempt_state.py, so a teacher never reads a status the student (or the
gradebook) contradicts."""

from __future__ import annotations

import csv
import io
import re

import pytest
import sqlalchemy as sa

from lti_tool.maintenance import passback_worker
from lti_tool.models import Activity
from lti_tool.models import LtiUser
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus
from lti_tool.sandbox.browser import FormBrowser
from lti_tool.sandbox.browser import parse_forms
from lti_tool.sandbox.platform import constants as c
from tests.speechace.test_callback import take_test
from tests.teacher.support import scores
from tests.test_attempt_state import Itep


class Teacher:
    """What the teacher's pages say of one student."""

    def __init__(self, connected, activity_public_id: str) -> None:
        self.connected, self.activity = connected, activity_public_id

    def states(self, learner_name: str) -> dict[str, str]:
        browser = FormBrowser()
        page = browser.get(self.connected.launch_url(sub=self.connected.course.instructor,
                                                     custom={"activity": self.activity}, with_lineitem=True))
        assert page.status_code == 200, page.text
        row = re.search(rf'<tr data-status="[^"]+" data-learner="{re.escape(learner_name)}" data-state="([^"]+)"',
                        page.text)
        assert row is not None, f"no row for {learner_name}"
        poll = browser.get(self.connected.tool_url + _attribute(page.text, "data-status-url")).json()
        polled = next(item for item in poll["rows"] if item["name"] == learner_name)
        export = browser.get(self.connected.tool_url + _href(page.text, "export-csv"))
        lines = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
        exported = {line["Status"] for line in lines if line["Student"] == learner_name}
        assert len(exported) == 1, exported
        assert polled["can_resend"] == ('data-testid="resend"' in _row_html(page.text, learner_name))
        return {"class view": row.group(1), "poll": polled["status"], "poll label": polled["label"],
                "csv label": exported.pop(), "resend offered": str('data-testid="resend"' in _row_html(
                    page.text, learner_name))}


def teacher_resets(connected, activity_public_id: str, learner_name: str) -> None:
    """The teacher follows the student's Reset link in the class view, confirms, and is back on the class view."""
    browser = FormBrowser()
    page = browser.get(connected.launch_url(sub=connected.course.instructor, custom={"activity": activity_public_id},
                                            with_lineitem=True))
    link = re.search(r'href="([^"]+)" data-testid="reset-link"', _row_html(page.text, learner_name)).group(1)
    confirm = browser.get(connected.tool_url + link.replace("&amp;", "&"))
    (form,) = [form for form in parse_forms(confirm.text, confirm.url) if form.attrs.get("data-testid") == "reset-form"]
    assert browser.submit(form, {"confirm": "reset"}).status_code == 200


def _attribute(text: str, name: str) -> str:
    return re.search(rf'{name}="([^"]+)"', text).group(1).replace("&amp;", "&")


def _href(text: str, testid: str) -> str:
    return re.search(rf'href="([^"]+)"\s+data-testid="{testid}"', text).group(1).replace("&amp;", "&")


def _row_html(text: str, learner_name: str) -> str:
    return re.search(rf'<tr data-status="[^"]+" data-learner="{re.escape(learner_name)}".*?</tr>', text,
                     re.S).group(0)


def _agree(teacher: Teacher, learner_name: str, student: dict, state: str, resend: bool) -> None:
    seen = teacher.states(learner_name)
    assert (student["state"], seen["class view"], seen["poll"]) == (state, state, state)
    assert seen["poll label"] == seen["csv label"] == student["label"]
    assert seen["resend offered"] == str(resend)


@pytest.fixture
def itep(connected, itep_setup) -> Itep:
    return Itep(connected, itep_setup)


def learner_name(connected, database) -> str:
    with database.session() as session:
        return session.scalars(sa.select(LtiUser).where(LtiUser.sub == connected.course.learner)).one().display_name


@pytest.mark.parametrize(("steps", "state", "resend"), [
    ((), "in_progress", False),
    (("Finished",), "awaiting_grading", False),
    (("Review",), "awaiting_grading", False),
    (("Problem",), "awaiting_grading", False),
    (("Complete",), "grade_on_its_way", False),
    (("Complete", "send"), "graded", True),
    (("Complete", "send", "Invalidated"), "withdrawn", False),
    (("Complete", "send", "Ready"), "reset", False),
    (("Complete", "refused"), "refused", True),
    (("lms refuses", "Complete", "send"), "refused", True),  # the sandbox LMS itself refuses the score
    (("Complete", "send", "teacher reset"), "reset", False),  # the teacher's reset, from the class view's link
    (("Finished", "teacher reset"), "reset", False),
])
def test_itep_every_status_is_the_same_on_every_page(itep, connected, itep_setup, database, settings, steps, state,
                                                     resend):
    for step in steps:
        if step == "send":
            assert passback_worker(database, settings).run_once().get("sent", 0) == (0 if "lms refuses" in steps else 1)
        elif step == "refused":
            with database.session() as session:
                session.execute(sa.update(ScoreSubmission).values(
                    status=SubmissionStatus.PARKED.value, last_error="HTTP 422: the user is not in the course"))
        elif step == "lms refuses":  # the student is no longer a learner of the course when the grade arrives
            connected.platform.enrol(connected.course.context_id, connected.course.learner, [])
        elif step == "teacher reset":
            teacher_resets(connected, itep_setup.gtx_activity, learner_name(connected, database))
        else:
            itep.fire(step)
    teacher = Teacher(connected, itep_setup.gtx_activity)
    _agree(teacher, learner_name(connected, database), itep.status(), state, resend)


def test_speechace_completion_is_the_same_on_every_page(connected, speechace_setup, database, settings):
    browser = FormBrowser()
    page = browser.get(connected.launch_url(custom={"activity": speechace_setup.activity_public_id}))
    status_url = connected.tool_url + _attribute(page.text, "data-status-url")
    teacher, name = Teacher(connected, speechace_setup.activity_public_id), learner_name(connected, database)
    _agree(teacher, name, browser.get(status_url).json(), "in_progress", False)
    assert take_test(connected, speechace_setup).status == 200
    _agree(teacher, name, browser.get(status_url).json(), "grade_on_its_way", False)
    passback_worker(database, settings).run_once()
    _agree(teacher, name, browser.get(status_url).json(), "graded", True)


def _post_resend(connected, activity_public_id: str, learner_name: str | None, which: str | None = None) -> str:
    """The teacher posts "Send again" for one student (``learner_name``) or the class, as a browser could even
    where the page offers no button; the class view's notice after it."""
    browser = FormBrowser()
    page = browser.get(connected.launch_url(sub=connected.course.instructor, custom={"activity": activity_public_id},
                                            with_lineitem=True))
    base = _href(page.text, "export-csv").removesuffix("/export.csv") + "/resend"
    if learner_name is not None:
        attempt = re.search(r'data-attempt="([^"]+)"', _row_html(page.text, learner_name)).group(1)
        base += f"/{attempt}"
    after = browser.post(connected.tool_url + base, data={"which": which} if which else {})
    assert after.status_code == 200, after.text
    return re.sub(r"\s+", " ", after.text)


def _pending(database) -> int:
    with database.session() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(ScoreSubmission)
                              .where(ScoreSubmission.status == SubmissionStatus.PENDING.value))


@pytest.mark.parametrize("last_step", ["Invalidated", "Ready", "teacher reset"])
@pytest.mark.parametrize("which", [None, "one", "all"])
def test_a_withdrawn_or_reset_grade_is_never_sent_again(itep, connected, itep_setup, database, settings, last_step,
                                                        which):
    """Only what the status model allows (``can_resend``) is queued, whatever the teacher's browser posts."""
    itep.fire("Complete")
    assert passback_worker(database, settings).run_once()["sent"] == 1
    name = learner_name(connected, database)
    if last_step == "teacher reset":
        teacher_resets(connected, itep_setup.gtx_activity, name)
    else:
        itep.fire(last_step)
    passback_worker(database, settings).run_once()  # the withdrawal reaches the gradebook
    before = _pending(database)
    page = _post_resend(connected, itep_setup.gtx_activity, name if which == "one" else None,
                        "all" if which == "all" else None)
    assert "No grade needed sending again." in page
    assert _pending(database) == before
    assert 'data-testid="resend-all"' not in page and 'data-testid="resend"' not in page
    _agree(Teacher(connected, itep_setup.gtx_activity), name, itep.status(), itep.status()["state"], False)


def test_a_refused_grade_is_sent_again_from_the_class_button(itep, connected, itep_setup, database, settings):
    """The LMS refused the grade (the student was not a learner of the course then); once the teacher has put
    things right, "Send the refused grades again" queues it, and the class view and the student agree."""
    course = connected.course
    connected.platform.enrol(course.context_id, course.learner, [])
    itep.fire("Complete")
    passback_worker(database, settings).run_once()
    name = learner_name(connected, database)
    _agree(Teacher(connected, itep_setup.gtx_activity), name, itep.status(), "refused", True)
    connected.platform.enrol(course.context_id, course.learner, [c.ROLE_LEARNER])
    page = _post_resend(connected, itep_setup.gtx_activity, None)
    assert "1 grade queued again for the gradebook." in page
    assert _pending(database) == 1
    assert passback_worker(database, settings).run_once()["sent"] == 1
    _agree(Teacher(connected, itep_setup.gtx_activity), name, itep.status(), "graded", True)


def test_under_best_attempt_a_worse_retake_shows_the_grade_that_stands_on_every_page(connected, speechace_setup,
                                                                                    database, settings):
    """Best attempt counts: 7.2 of 9 (80 of 100 points) stands after a retake scoring 4.5. The student's sentence
    and the class view both give the provider's value the grade comes from, never "4.5 of 9 → 80 of 100"."""
    with database.session() as session:
        session.execute(sa.update(Activity).values(attempts_policy="best", show_score_to_student=True))
    browser = FormBrowser()
    assert take_test(connected, speechace_setup, scores=scores(7.2)).status == 200
    passback_worker(database, settings).run_once()
    page = browser.get(connected.launch_url(custom={"activity": speechace_setup.activity_public_id}))
    (form,) = [form for form in parse_forms(page.text, page.url) if form.attrs.get("data-testid") == "retake-form"]
    assert browser.submit(form).status_code == 200
    token = speechace_setup.emulator.session_for_user(connected.course.learner).token
    assert speechace_setup.emulator.complete(token, scores=scores(4.5)).status == 200
    passback_worker(database, settings).run_once()
    student = browser.get(connected.tool_url + _attribute(page.text, "data-status-url")).json()
    assert student["state"] == "graded" and student["score"]["text"] == "7.2 of 9 → 80 of 100 points"
    teacher = FormBrowser().get(connected.launch_url(sub=connected.course.instructor, with_lineitem=True,
                                                     custom={"activity": speechace_setup.activity_public_id}))
    grade = re.search(r'data-cell="grade">(.*?)</td>', _row_html(teacher.text, learner_name(connected, database)),
                      re.S).group(1)
    assert re.sub(r"\s+", " ", grade).strip() == "7.2 of 9 → 80 of 100 points"
