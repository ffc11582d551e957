"""SpeechaceEmulator: an in-memory Speechace (placement tests shared by oEmbed link) for tests, bench and demo.

All state is process memory guarded by one re-entrant lock; nothing is persisted. The HTTP face is in
views.py (create_speechace_app / create_speechace_blueprint); this module is the domain facade.
"""

from __future__ import annotations

import hmac
import re
import secrets
import string
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote
from urllib.parse import urlsplit

from lti_tool.sandbox.speechace.delivery import JSON_CONTENT_TYPE
from lti_tool.sandbox.speechace.delivery import callback_body
from lti_tool.sandbox.speechace.delivery import deliver
from lti_tool.sandbox.speechace.models import KEY_LENGTH
from lti_tool.sandbox.speechace.models import KEY_PATTERN
from lti_tool.sandbox.speechace.models import OEMBED_FAULTS
from lti_tool.sandbox.speechace.models import CallbackResult
from lti_tool.sandbox.speechace.models import Completion
from lti_tool.sandbox.speechace.models import OembedFault
from lti_tool.sandbox.speechace.models import OembedRequest
from lti_tool.sandbox.speechace.models import SpeechaceAssessment
from lti_tool.sandbox.speechace.models import SpeechaceError
from lti_tool.sandbox.speechace.models import TestSession
from lti_tool.sandbox.speechace.models import normalise_scores
from lti_tool.sandbox.speechace.reports import SAMPLE_ANSWERS

KEY_ALPHABET = string.ascii_letters + string.digits
REPORT_ID_BYTES = 13  # 26 hex chars, like the report ids Speechace hands out
USER_PARAMS = ("app_user_id", "app_user_fullname", "app_user_email")
SUBMISSION_PARAM = "app_score_submission_url"


class SpeechaceEmulator:
    """The emulated Speechace. Setup methods mirror what a school does; the rest answers the tool."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.lock = threading.RLock()
        self.clock: Callable[[], float] = time.time
        self.assessments: dict[int, SpeechaceAssessment] = {}  # by course_id
        self.sessions: dict[str, TestSession] = {}
        self.completions: dict[str, Completion] = {}  # by report id
        # Observable by tests: what Speechace saw and did.
        self.events: list[str] = []
        self.oembed_requests: list[OembedRequest] = []
        self.callbacks_sent: list[CallbackResult] = []
        # Knobs for tests.
        self.timeout_sleep_seconds = 3.0
        self.report_delay_seconds = 0.0
        self.report_padding_bytes = 0
        self.post_message_on_load = False
        self._oembed_faults: list[OembedFault] = []
        self._course_url_pattern = re.compile(re.escape(self.base_url) + r"/placement/api/course/(\d+)/")

    # --- helpers -------------------------------------------------------------------------------------
    def url(self, path: str) -> str:
        """Absolute URL from base_url, never from the request host: tools store these URLs."""
        return self.base_url + path

    def log(self, message: str) -> None:
        with self.lock:
            self.events.append(message)

    # --- setup ---------------------------------------------------------------------------------------
    def add_assessment(self, title: str = "Placement test", course_id: int | None = None,
                       key: str | None = None) -> SpeechaceAssessment:
        if key is not None and not KEY_PATTERN.fullmatch(key):
            raise ValueError(f"a Speechace key is {KEY_LENGTH} letters and digits, got {key!r}")
        key = key or "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))
        with self.lock:
            if course_id in self.assessments:
                raise ValueError(f"course {course_id} already exists")
            course_id = course_id if course_id is not None else self._unused_course_id()
            course_url = self.url(f"/placement/api/course/{course_id}/")
            share_link = self.url(f"/embed/oembed?url={quote(course_url, safe='')}&key={key}")
            assessment = SpeechaceAssessment(course_id=course_id, quiz_id=100 + secrets.randbelow(9900), key=key,
                                             title=title, share_link=share_link, course_url=course_url)
            self.assessments[course_id] = assessment
        self.log(f"assessment added: {title!r} course={course_id} quiz={assessment.quiz_id}")
        return assessment

    def _unused_course_id(self) -> int:
        while True:
            candidate = 1000 + secrets.randbelow(99000)
            if candidate not in self.assessments:
                return candidate

    # --- oEmbed --------------------------------------------------------------------------------------
    def fail_next_oembed(self, kind: OembedFault, times: int = 1) -> None:
        if kind not in OEMBED_FAULTS:
            raise ValueError(f"unknown oEmbed fault {kind!r}; expected one of {OEMBED_FAULTS}")
        with self.lock:
            self._oembed_faults.extend([kind] * times)

    def take_oembed_fault(self) -> OembedFault | None:
        with self.lock:
            return self._oembed_faults.pop(0) if self._oembed_faults else None

    def record_oembed_request(self, params: Mapping[str, str], user_agent: str) -> OembedRequest:
        record = OembedRequest(params=dict(params), user_agent=user_agent)
        with self.lock:
            self.oembed_requests.append(record)
        return record

    def open_session(self, params: Mapping[str, str]) -> TestSession:
        """Validate an oEmbed call like Speechace would and start an embedded test for the given user."""
        assessment = self._assessment_for_url(params.get("url", ""))
        if not hmac.compare_digest(params.get("key", "").encode(), assessment.key.encode()):
            raise SpeechaceError(403, "invalid or missing key for this course")
        submission_url = params.get(SUBMISSION_PARAM)
        if submission_url is not None and not _is_http_url(submission_url):
            raise SpeechaceError(400, f"{SUBMISSION_PARAM} must be an absolute http(s) URL")
        session = TestSession(token=secrets.token_hex(16), assessment=assessment,
                              user_id=params.get("app_user_id"), user_fullname=params.get("app_user_fullname"),
                              user_email=params.get("app_user_email"), submission_url=submission_url,
                              created_at=self.clock())
        with self.lock:
            self.sessions[session.token] = session
        self.log(f"session {session.token} opened for user {session.user_id!r} in course {assessment.course_id}")
        return session

    def _assessment_for_url(self, course_url: str) -> SpeechaceAssessment:
        match = self._course_url_pattern.fullmatch(course_url)
        with self.lock:
            assessment = self.assessments.get(int(match.group(1))) if match else None
        if assessment is None:
            raise SpeechaceError(404, f"no course at {course_url!r}")
        return assessment

    def oembed_json(self, session: TestSession) -> dict[str, Any]:
        src = self.url(f"/embed/session/{session.token}")
        html = (f'<iframe src="{src}" width="100%" height="640" frameborder="0" '
                f'allow="microphone; autoplay"></iframe>')
        return {"version": "1.0", "type": "rich", "provider_name": "Speechace", "provider_url": self.base_url,
                "title": session.assessment.title, "width": 800, "height": 640, "html": html}

    # --- sessions ------------------------------------------------------------------------------------
    def session(self, token: str) -> TestSession:
        with self.lock:
            session = self.sessions.get(token)
        if session is None:
            raise SpeechaceError(404, "unknown test session")
        return session

    def session_for_user(self, app_user_id: str) -> TestSession | None:
        """The latest session opened for that app_user_id, if any."""
        with self.lock:
            matching = [session for session in self.sessions.values() if session.user_id == app_user_id]
        return matching[-1] if matching else None

    # --- completion and callbacks --------------------------------------------------------------------
    def complete(self, token: str, scores: Mapping[str, Any] | None = None,
                 content_type: str = JSON_CONTENT_TYPE) -> CallbackResult:
        """Finish the test: store the report, then POST the documented body to the submission URL."""
        session = self.session(token)
        completion = self._store_completion(session, normalise_scores(scores))
        body = callback_body(self._callback_payload(session, completion))
        if session.submission_url is None:
            skipped = CallbackResult(url=None, body=body, content_type=content_type,
                                     report_id=completion.report_id, skipped=True)
            return self._record_callback(skipped)
        # Sent outside the lock: the tool may call the report API back while handling this POST.
        return self._record_callback(deliver(session.submission_url, body, content_type, completion.report_id))

    def _store_completion(self, session: TestSession, scores: dict[str, float]) -> Completion:
        completion = Completion(report_id=secrets.token_hex(REPORT_ID_BYTES), session_token=session.token,
                                scores=scores, answers=SAMPLE_ANSWERS, completed_at=self.clock())
        with self.lock:
            self.completions[completion.report_id] = completion
            session.report_ids.append(completion.report_id)
        return completion

    def _callback_payload(self, session: TestSession, completion: Completion) -> dict[str, Any]:
        assessment = session.assessment
        return {"version": "1.0", "key": assessment.key, "courseId": assessment.course_id,
                "quizId": assessment.quiz_id, "userId": session.user_id, "score": completion.scores,
                "reportUrl": self.report_url(completion.report_id)}

    def resend(self, callback_index: int) -> CallbackResult:
        """Deliver an earlier callback again, byte-for-byte: a duplicate delivery."""
        with self.lock:
            original = self.callbacks_sent[callback_index]
        if original.url is None:
            raise ValueError(f"callback {callback_index} was never sent (no submission URL)")
        return self._record_callback(deliver(original.url, original.body, original.content_type,
                                             original.report_id))

    def post_raw(self, url: str, body: bytes, content_type: str = JSON_CONTENT_TYPE) -> CallbackResult:
        """POST arbitrary bytes as if Speechace sent them (forged or malformed callbacks)."""
        return self._record_callback(deliver(url, body, content_type))

    def _record_callback(self, result: CallbackResult) -> CallbackResult:
        with self.lock:
            self.callbacks_sent.append(result)
        outcome = "skipped (no submission URL)" if result.skipped else result.status or result.error
        self.log(f"score callback to {result.url}: {outcome}")
        return result

    # --- reports -------------------------------------------------------------------------------------
    def report_url(self, report_id: str) -> str:
        return self.url(f"/placement/report/{report_id}")

    def completion(self, report_id: str) -> Completion:
        with self.lock:
            completion = self.completions.get(report_id)
        if completion is None:
            raise SpeechaceError(404, "report not found")
        return completion


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
