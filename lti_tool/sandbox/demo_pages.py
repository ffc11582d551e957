"""The sandbox LMS's own pages: a course with a person switcher, its speaking tests, the tool in an iframe, and a
gradebook. Plain server-rendered HTML on top of the platform emulator (which does the real LTI work).

    /course?as=<sub>                 the course page (``as`` picks the person; the teacher by default)
    /course/add/<sub>                "Add a speaking test": a deep-linking launch in the iframe (teachers only)
    /course/open/<sub>/<link>        an activity: a resource-link launch in the iframe (?locale=es: the person's
                                     language from now on, as their LMS profile would say)
    /course/gradebook?as=<sub>       line items x students, with the scores the tool sent (AGS)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import abort
from flask import request

from lti_tool.sandbox.demo_course import Person
from lti_tool.sandbox.demo_course import Sandbox
from lti_tool.sandbox.platform import constants
from lti_tool.sandbox.platform import pages as platform_pages

Switch = Callable[["Person"], str]  # where the person switcher leads for each person
IFRAME_ALLOW = "microphone {origin}; camera {origin}; autoplay {origin}; clipboard-write {origin}"
COURSE_TITLE = "Introduction to Phonetics"

STYLE = """
:root{--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--brand:#0f6cbf;--bg:#f4f6f9;--hi:#fef9c3}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
  background:var(--bg)}
a{color:var(--brand)}
.bar{background:var(--brand);color:#fff;padding:.55rem 1.5rem;display:flex;gap:1.75rem;align-items:center}
.bar a{color:#fff;text-decoration:none}
.bar .brand{font-weight:700;letter-spacing:.02em}
.bar nav{display:flex;gap:1.1rem}
.bar nav a{opacity:.8;padding:.15rem 0;border-bottom:2px solid transparent}
.bar nav a.active{opacity:1;border-bottom-color:#fff}
.bar .aside{margin-left:auto;font-size:.9em;opacity:.85}
main{max-width:74rem;margin:1.1rem auto;padding:0 1.5rem}
h1{font-size:1.45rem;margin:.2rem 0 .6rem}
h2{font-size:1.1rem;margin:0 0 .6rem}
.people{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:0 0 1rem}
.people a{padding:.2rem .75rem;border:1px solid #cbd5e1;border-radius:999px;background:#fff;color:var(--ink);
  text-decoration:none}
.people a.current{background:var(--ink);border-color:var(--ink);color:#fff}
.people small{opacity:.7}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem 1.25rem;margin:0 0 1rem}
.activities{list-style:none;margin:0 0 1rem;padding:0}
.activities li{padding:.6rem .5rem;border-top:1px solid var(--line);display:flex;gap:1rem;align-items:baseline}
.activities li:first-child{border-top:0}
.activities li.added{background:var(--hi);border-radius:6px}
.activities a{font-weight:600;text-decoration:none}
.muted{color:var(--muted);font-size:.9em}
.button{display:inline-block;background:var(--brand);color:#fff;padding:.45rem .95rem;border-radius:6px;
  text-decoration:none;font-weight:600}
.notice{background:#ecfdf5;border:1px solid #a7f3d0;padding:.55rem 1rem;border-radius:6px;margin:0 0 1rem}
iframe.tool{display:block;width:100%;height:calc(100vh - 12.5rem);min-height:34rem;border:1px solid var(--line);
  border-radius:8px;background:#fff}
table.grades{border-collapse:collapse;width:100%;background:#fff}
.grades th,.grades td{padding:.55rem .8rem;border-bottom:1px solid var(--line);text-align:left}
.grades thead th{background:#f8fafc;font-size:.9em}
.grades tbody th{width:16rem}
.grades td.score{font-variant-numeric:tabular-nums}
.grades .empty{color:#9ca3af}
@media (max-width:40rem){.bar{flex-wrap:wrap;gap:.4rem 1rem;padding:.5rem .75rem}main{padding:0 .75rem}
  .activities li{flex-wrap:wrap}.grades tbody th{width:auto}}
"""


@dataclass(frozen=True)
class CourseLink:
    """An activity of the course as the LMS knows it."""

    id: str
    title: str
    added_by_hand: bool
    score_maximum: float | None


def install_course_pages(app: Flask, sandbox: Sandbox, tool_origin: str) -> None:
    app.register_blueprint(_course_blueprint(sandbox, tool_origin))
    _return_to_the_course_after_deep_linking(app, sandbox)


def _course_blueprint(sandbox: Sandbox, tool_origin: str) -> Blueprint:
    bp = Blueprint("sandbox_course", __name__)
    allow = IFRAME_ALLOW.format(origin=tool_origin)

    @bp.get("/course")
    def course() -> str:
        viewer = _viewer(sandbox, request.args.get("as"))
        return course_page(sandbox, viewer, request.args.get("added"))

    @bp.get("/course/open/<sub>/<link>")
    def open_activity(sub: str, link: str) -> str:
        viewer = _viewer(sandbox, sub)
        chosen = next((item for item in course_links(sandbox) if item.id == link), None)
        if chosen is None:
            abort(404)
        language = request.args.get("locale", "")
        if language and len(language) <= 35 and language.replace("-", "").isalnum():
            sandbox.platform.set_locale(viewer.sub, language)  # as a user changing their profile's language
        launch_url = sandbox.platform.begin_launch(sandbox.client.client_id, viewer.sub, sandbox.course_id,
                                                   resource_link_id=chosen.id, resource_link_title=chosen.title,
                                                   with_lineitem=True)
        return tool_page(sandbox, viewer, chosen.title, launch_url, allow,
                         switch=lambda person: f"/course/open/{person.sub}/{chosen.id}")

    @bp.get("/course/add/<sub>")
    def add_activity(sub: str) -> str:
        viewer = _viewer(sandbox, sub)
        if not viewer.edits_the_course:
            abort(403)
        launch_url = sandbox.platform.begin_launch(sandbox.client.client_id, viewer.sub, sandbox.course_id,
                                                   message_type=constants.MSG_DEEP_LINKING)
        return tool_page(sandbox, viewer, "Add a speaking test", launch_url, allow,
                         switch=lambda person: _course_url(person.sub))

    @bp.get("/course/review/<sub>/<link>/<learner>")
    def grade_analysis(sub: str, link: str, learner: str) -> str:
        """Moodle's "Grade analysis" from a gradebook cell: a Submission Review launch for that learner."""
        viewer = _viewer(sandbox, sub)
        if not viewer.edits_the_course and viewer.sub != learner:
            abort(403)
        chosen = next((item for item in course_links(sandbox) if item.id == link), None)
        if chosen is None or sandbox.person(learner) is None or sandbox.platform.flavor == "canvas":
            abort(404)
        launch_url = sandbox.platform.begin_launch(sandbox.client.client_id, viewer.sub, sandbox.course_id,
                                                   resource_link_id=chosen.id, resource_link_title=chosen.title,
                                                   with_lineitem=True, for_user=learner,
                                                   message_type=constants.MSG_SUBMISSION_REVIEW)
        return tool_page(sandbox, viewer, f"Grade analysis · {chosen.title}", launch_url, allow,
                         switch=lambda person: _gradebook_url(person.sub))

    @bp.get("/course/gradebook")
    def gradebook() -> str:
        return gradebook_page(sandbox, _viewer(sandbox, request.args.get("as")))

    return bp


def _viewer(sandbox: Sandbox, sub: str | None) -> Person:
    if sub is None:
        return sandbox.teacher
    person = sandbox.person(sub)
    if person is None:
        abort(404)
    return person


def _return_to_the_course_after_deep_linking(app: Flask, sandbox: Sandbox) -> None:
    """Like Moodle, close the picker once the tool's answer is verified: the course page shows the new activity.

    Swaps the view of the platform's /deep_link_return (its blueprint's error handling stays in force).
    """
    def deep_link_return() -> Response:
        launch = sandbox.platform.launches.get(request.args.get("launch", ""))
        result = sandbox.platform.deep_linking.handle_return(request.form.get("JWT"), request.args.get("launch"))
        created = [item["resource_link_id"] for item in result["created"]]
        back = _course_url(launch.sub if launch else sandbox.teacher.sub, added=created[-1] if created else None)
        script = (f"<p><a href='{escape(back)}' target='_top' id='back-to-course'>Back to the course</a></p>"
                  f"<script>if (window.top !== window) {{ window.top.location.href = {_js(back)}; }}</script>")
        summary = platform_pages.deep_link_summary(result).replace("</body>", script + "</body>")
        return Response(summary, mimetype="text/html")

    app.view_functions["lti_platform.deep_link_return"] = deep_link_return


def _js(value: str) -> str:
    """A string literal for inline JavaScript (which is not HTML-decoded: no entities, and no "</")."""
    return json.dumps(value).replace("<", "\\u003c")


def course_links(sandbox: Sandbox) -> list[CourseLink]:
    """The two links added by hand, then those the teacher added with "Add a speaking test", oldest first."""
    platform = sandbox.platform
    with platform.lock:
        links = {link.id: link for link in platform.resource_links.values() if link.context_id == sandbox.course_id}
        maxima = {item.id: item.score_maximum for item in platform.line_items.values()}
    by_hand = dict(sandbox.hand_added)

    def maximum(link_id: str) -> float | None:
        link = links.get(link_id)
        return maxima.get(link.lineitem_id or "") if link else None

    return ([CourseLink(link_id, title, True, maximum(link_id)) for link_id, title in sandbox.hand_added]
            + [CourseLink(link.id, link.title, False, maximum(link.id)) for link in links.values()
               if link.id not in by_hand])


# --- pages ---------------------------------------------------------------------------------------------------

def course_page(sandbox: Sandbox, viewer: Person, added: str | None) -> str:
    links = course_links(sandbox)
    rows = "".join(_activity_row(link, viewer, added) for link in links)
    notice = ""
    new = next((link for link in links if link.id == added), None)
    if new is not None:
        notice = f"<p class='notice' data-testid='activity-added'>“{escape(new.title)}” was added to the course.</p>"
    add = ("<p><a class='button' data-testid='add-speaking-test' "
           f"href='/course/add/{escape(viewer.sub)}'>Add a speaking test</a> <span class='muted'>opens the tool's "
           "picker (LTI deep linking); the new activity gets its own gradebook column</span></p>"
           if viewer.edits_the_course else "")
    body = (f"{notice}<section class='card'><h2>Speaking tests</h2>"
            f"<ul class='activities' data-testid='course-activities'>{rows}</ul>{add}</section>"
            f"{_emulators_card(sandbox)}")
    return _layout(sandbox, viewer, "course", COURSE_TITLE, body, switch=lambda person: _course_url(person.sub))


def _activity_row(link: CourseLink, viewer: Person, added: str | None) -> str:
    if link.added_by_hand:
        note = "added by hand: the teacher picks its test on the first visit"
    else:
        note = "added with “Add a speaking test”"
    if link.score_maximum is not None:
        note += f" · graded out of {link.score_maximum:g}"
    css = " class='added'" if link.id == added else ""
    return (f"<li{css} data-link='{escape(link.id)}'><a href='/course/open/{escape(viewer.sub)}/{escape(link.id)}'>"
            f"{escape(link.title)}</a><span class='muted'>{escape(note)}</span></li>")


def _emulators_card(sandbox: Sandbox) -> str:
    if sandbox.speechace is None or sandbox.itep is None:
        return ""
    speechace, itep = escape(sandbox.speechace.base_url), escape(sandbox.itep.base_url)
    return ("<section class='card muted'><h2>Test providers (emulated)</h2>"
            f"<p><a href='{speechace}/' target='_blank'>Speechace</a>: its tests open inside the tool; the student "
            "chooses the scores and clicks “Finish test”.</p>"
            f"<p><a href='{itep}/' target='_blank'>iTEP</a>: the student gets a test ID; fire the result from the "
            f"<a data-testid='itep-admin' href='{itep}/admin' target='_blank'>iTEP admin page</a>.</p></section>")


def tool_page(sandbox: Sandbox, viewer: Person, title: str, launch_url: str, allow: str,
              switch: Switch) -> str:
    storage = ""
    if sandbox.platform.platform_storage:
        # As Canvas does: a hidden sibling of the tool's frame, on the LMS's origin, holds the tool's values.
        storage = (f"<iframe name='{constants.STORAGE_TARGET}' src='/post_message_forwarding' hidden "
                   "title='Platform storage'></iframe>")
    body = (f"<h1>{escape(title)}</h1>{storage}"
            f"<iframe id='tool' class='tool' title='{escape(title)}' src='{escape(launch_url)}' "
            f"allow='{escape(allow)}'></iframe>")
    return _layout(sandbox, viewer, "course", title, body, switch=switch)


def gradebook_page(sandbox: Sandbox, viewer: Person) -> str:
    items = sorted(sandbox.platform.line_items_of(sandbox.course_id), key=lambda item: item.id)
    book = sandbox.platform.gradebook(sandbox.course_id)
    students = sandbox.students if viewer.edits_the_course else [viewer]
    head = "".join(f"<th data-lineitem='{escape(item.id)}'>{escape(item.label)}<br>"
                   f"<span class='muted'>out of {item.score_maximum:g}</span></th>" for item in items)
    rows = "".join(
        f"<tr data-learner='{escape(student.sub)}'><th>{escape(student.name)}</th>"
        + "".join(_grade_cell(item.id, book.get(item.id, {}).get(student.sub),
                              _review_url(sandbox, viewer, item.resource_link_id, student.sub)) for item in items)
        + "</tr>"
        for student in students)
    if not items:
        table = "<p class='muted'>No graded activities yet: add a speaking test to the course.</p>"
    else:
        table = (f"<table class='grades' data-testid='gradebook'><thead><tr><th>Student</th>{head}</tr></thead>"
                 f"<tbody>{rows}</tbody></table>")
    body = (f"<section class='card'><h2>Gradebook</h2>{table}<p class='muted'>Scores arrive from the tool through "
            f"LTI Assignment and Grade Services. <a href=''>Refresh</a></p></section>{_emulators_card(sandbox)}")
    return _layout(sandbox, viewer, "gradebook", f"Gradebook · {COURSE_TITLE}", body,
                   switch=lambda person: _gradebook_url(person.sub))


def _grade_cell(lineitem_id: str, grade: dict[str, Any] | None, review_url: str | None = None) -> str:
    if grade is None or grade.get("score") is None:
        progress = grade.get("gradingProgress", "") if grade else ""
        return f"<td class='score empty' data-lineitem='{escape(lineitem_id)}'>–{_small(progress)}</td>"
    score = _number(grade["score"])
    review = (f" <a class='muted' data-testid='grade-analysis' href='{escape(review_url)}'>Grade analysis</a>"
              if review_url else "")
    return (f"<td class='score' data-lineitem='{escape(lineitem_id)}' data-score='{score}' "
            f"title='{escape(str(grade.get('comment') or ''))}'>{score} / {_number(grade['max'])}"
            f"{_small(grade.get('gradingProgress', ''))}{review}</td>")


def _review_url(sandbox: Sandbox, viewer: Person, link_id: str | None, learner: str) -> str | None:
    """Moodle's "Grade analysis" for a column coupled to an activity (a tool-created column has no link). Canvas
    sends no Submission Review (SpeedGrader uses its submission extension): none in Canvas mode."""
    if sandbox.platform.flavor == "canvas":
        return None
    return f"/course/review/{viewer.sub}/{link_id}/{learner}" if link_id else None


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _small(text: str) -> str:
    return f" <span class='muted'>{escape(text)}</span>" if text else ""


def _course_url(sub: str, added: str | None = None) -> str:
    return "/course?" + urlencode({"as": sub, **({"added": added} if added else {})})


def _gradebook_url(sub: str) -> str:
    return "/course/gradebook?" + urlencode({"as": sub})


def _layout(sandbox: Sandbox, viewer: Person, section: str, title: str, body: str, switch: Switch) -> str:
    nav = "".join(f"<a href='{escape(url)}' class='{'active' if name == section else ''}'>{label}</a>"
                  for name, label, url in (("course", "Course", _course_url(viewer.sub)),
                                           ("gradebook", "Gradebook", _gradebook_url(viewer.sub))))
    people = "".join(
        f"<a href='{escape(switch(person))}' class='{'current' if person == viewer else ''}' "
        f"data-person='{escape(person.sub)}'>{escape(person.name)} <small>{escape(person.role)}</small></a>"
        for person in sandbox.people)
    brand = "Sandbox LMS · Canvas mode" if sandbox.platform.flavor == "canvas" else "Sandbox LMS"
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)} · {brand}"
            f"</title><style>{STYLE}</style></head><body>"
            f"<header class='bar'><a class='brand' href='{escape(_course_url(viewer.sub))}'>{brand}</a>"
            f"<span>{COURSE_TITLE} <span class='muted' style='color:#dbeafe'>PHON101</span></span><nav>{nav}</nav>"
            f"<span class='aside'>signed in as {escape(viewer.name)}</span></header>"
            f"<main><div class='people'><span class='muted'>View as:</span>{people}</div>{body}</main>"
            "</body></html>")
