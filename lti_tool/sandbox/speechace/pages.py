"""The HTML the emulated Speechace shows: index, the embedded test, its completion, and the report page.

The test page works with JavaScript (fetch + postMessage, as in a real browser inside the tool's iframe) and
without it (a plain form POST, so FormBrowser can finish a test too).
"""

from __future__ import annotations

from html import escape

from lti_tool.sandbox.speechace.models import MAX_SCORE
from lti_tool.sandbox.speechace.models import SCORE_FIELDS
from lti_tool.sandbox.speechace.models import Completion
from lti_tool.sandbox.speechace.models import SpeechaceAssessment
from lti_tool.sandbox.speechace.models import TestSession
from lti_tool.sandbox.speechace.models import normalise_scores

COMPLETE_MESSAGE = "speechaceActivityComplete"
POST_MESSAGE_JS = f"window.parent.postMessage('{COMPLETE_MESSAGE}', '*');"

FINISH_SCRIPT = """
const form = document.getElementById('test');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const finish = document.getElementById('finish');
  const problem = document.getElementById('problem');
  finish.disabled = true;
  const scores = {};
  for (const input of form.querySelectorAll('input[type=number]')) { scores[input.name] = Number(input.value); }
  try {
    const response = await fetch(form.action, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                               body: JSON.stringify(scores)});
    if (!response.ok) { throw new Error(await response.text()); }
  } catch (error) {
    problem.textContent = 'Could not finish the test: ' + error.message;
    finish.disabled = false;
    return;
  }
  form.hidden = true;
  document.getElementById('done').hidden = false;
  %(post_message)s
});
"""


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
            f"<body>{body}</body></html>")


def index_page(assessments: list[SpeechaceAssessment]) -> str:
    # Keys are secrets that bill the school: only their last four characters are ever shown.
    rows = "".join(f"<li>{escape(item.title)} course <code>{item.course_id}</code> quiz <code>{item.quiz_id}</code>"
                   f" key <code>{escape(item.masked_key)}</code></li>" for item in assessments)
    return _page("Speechace emulator", f"<h1>Speechace emulator</h1><h2>Assessments</h2><ul id='assessments'>"
                                       f"{rows}</ul>")


def session_page(session: TestSession, complete_url: str, post_message_on_load: bool) -> str:
    name = session.user_fullname or session.user_id or "Guest"
    inputs = "".join(_score_input(field, value) for field, value in normalise_scores(None).items())
    form = (f"<form id='test' method='post' action='{escape(complete_url)}'>{inputs}"
            f"<button type='submit' id='finish'>Finish test</button></form>")
    on_load = f"<script>{POST_MESSAGE_JS}</script>" if post_message_on_load else ""
    body = (f"<h1>{escape(session.assessment.title)}</h1><p id='candidate'>Candidate: {escape(name)}</p>"
            "<p>Simulated speaking test: choose the scores Speechace would give, then finish.</p>"
            f"{form}<p id='problem' role='alert'></p><p id='done' hidden>Test complete</p>"
            f"<script>{FINISH_SCRIPT % {'post_message': POST_MESSAGE_JS}}</script>{on_load}")
    return _page(session.assessment.title, body)


def _score_input(field: str, value: float) -> str:
    return (f"<p><label>{field.capitalize()} <input type='number' name='{field}' id='score-{field}' "
            f"min='0' max='{MAX_SCORE:g}' step='0.1' value='{value:g}' required></label></p>")


def done_page(report_url: str) -> str:
    """Answer to the no-JavaScript form POST: same end state as the fetch path, message included."""
    return _page("Test complete", f"<p id='done'>Test complete</p><p><a href='{escape(report_url)}/'>Report</a></p>"
                                  f"<script>{POST_MESSAGE_JS}</script>")


def report_page(completion: Completion, session: TestSession) -> str:
    rows = "".join(f"<tr><th>{field.capitalize()}</th><td id='score-{field}'>{completion.scores[field]:g}</td></tr>"
                   for field in SCORE_FIELDS)
    answers = "".join(f"<li>{escape(answer)}</li>" for answer in completion.answers)
    name = session.user_fullname or session.user_id or "Guest"
    return _page("Speechace report", f"<h1>{escape(session.assessment.title)}: report</h1>"
                                     f"<p>Candidate: {escape(name)}</p><table id='scores'>{rows}</table>"
                                     f"<h2>Answers</h2><ol>{answers}</ol>")
