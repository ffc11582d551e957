"""Assignment and Grade Services client: post scores, list and create line items (https://www.imsglobal.org/spec/lti-ags/v2p0).

Every failure is raised as an :class:`AgsError` subclass that tells the caller what to do with it: give up and show
the LMS's message (:class:`AgsRejectedError`), try again later (:class:`AgsUnavailableError`,
:class:`AgsUnauthorizedError`), or re-stamp the score (:class:`ScoreConflictError`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from collections.abc import Iterator
from typing import Any

import requests
from sqlalchemy import orm

from lti_tool.grading.tokens import MAX_ERROR_TEXT
from lti_tool.grading.tokens import AccessTokens
from lti_tool.grading.tokens import error_text
from lti_tool.http import HttpSession
from lti_tool.lti.claims import Scope
from lti_tool.models import LtiRegistration
from lti_tool.telemetry.metrics import count_ags_request

log = logging.getLogger(__name__)

MEDIA_SCORE = "application/vnd.ims.lis.v1.score+json"
MEDIA_LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_LINEITEM_CONTAINER = "application/vnd.ims.lis.v2.lineitemcontainer+json"
# Statuses worth retrying later; every other 4xx is the LMS saying "no" and will say it again.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
MAX_PAGES = 1000


class AgsError(Exception):
    """A service call failed. ``status`` is None when the platform could not be reached (timeout, refused)."""

    def __init__(self, status: int | None, detail: str, url: str, retry_after: str | None = None) -> None:
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"{url}: {where}: {detail}")
        self.status = status
        self.detail = detail
        self.url = url
        self.retry_after = retry_after  # the platform's Retry-After header, as sent


class AgsRejectedError(AgsError):
    """The LMS refuses for good (user not gradable, line item gone, scope missing…); retrying will not help."""


class AgsUnavailableError(AgsError):
    """Server error, rate limit, timeout or connection failure: try again later."""


class AgsThrottledError(AgsUnavailableError):
    """The platform asks the tool to slow down: Canvas's 403 "Rate Limit Exceeded" (doc/api/throttling.md), 429."""


class AgsUnauthorizedError(AgsUnavailableError):
    """Still 401 with a freshly issued token: a platform-side problem, possibly temporary."""


class ScoreConflictError(AgsError):
    """The LMS holds a score with a timestamp not older than ours: Moodle's 409 (it compares whole seconds), or
    Canvas's 400 "Provided timestamp … before last updated timestamp"."""


# Canvas's words for a stale timestamp (app/controllers/lti/ims/scores_controller.rb); it answers 400, not 409.
CANVAS_STALE_TIMESTAMP = "before last updated timestamp"
# Canvas throttles with 403 and these words in the body, to be retried later (doc/api/throttling.md).
CANVAS_RATE_LIMITED = "rate limit exceeded"
ATTEMPT_LIMIT = "maximum number of allowed attempts"
# Canvas's 422 answers, in words a teacher acts on (the LMS's own text follows in brackets).
CANVAS_REFUSALS = (
    ("not a student", "Canvas accepts grades only for students of the course: this person is not (or no longer) "
                      "enrolled as a student, e.g. a teacher, an observer or someone who left the course."),
    ("concluded", "The course has concluded in Canvas, which no longer accepts grades for it. Reopen the course "
                  "(or extend its end date), then send the grade again."),
    (ATTEMPT_LIMIT, "The assignment's allowed attempts are used up in Canvas. Allow more "
                                           "attempts in the assignment's settings, then send the grade again."),
)


def scores_url(lineitem_url: str) -> str:
    """The line item's scores endpoint: ``/scores`` goes before the query string (Moodle's URLs have one)."""
    base, separator, query = lineitem_url.partition("?")
    return base.rstrip("/") + "/scores" + separator + query


def platform_message(response: requests.Response) -> str:
    """What the LMS said, preferring the human sentence inside a JSON error body."""
    try:
        body = response.json()
    except ValueError:
        return error_text(response)
    message = _message_in(body)
    return message[:MAX_ERROR_TEXT] if message else error_text(response)


def _message_in(body: Any) -> str | None:
    # Shapes seen in the wild: {"error_description"}, {"message"}, Canvas's {"errors": [{"message"}]} or
    # {"errors": {"message"}}, and {"error": "text"}.
    if isinstance(body, list):
        return next((found for item in body if (found := _message_in(item))), None)
    if not isinstance(body, dict):
        return None
    for name in ("error_description", "message", "errors", "error"):
        value = body.get(name)
        found = value if isinstance(value, str) and value.strip() else _message_in(value)
        if found:
            return found
    return None


def error_for(response: requests.Response) -> AgsError:
    status, detail, url = response.status_code, platform_message(response), response.url
    if 300 <= status < 400:
        return AgsRejectedError(status, f"redirected to {response.headers.get('Location')!r}", url)
    if status == 409 or (status == 400 and CANVAS_STALE_TIMESTAMP in detail):
        return ScoreConflictError(status, detail, url)
    if status == 401:
        return AgsUnauthorizedError(status, detail, url)
    if status == 429 or (status == 403 and CANVAS_RATE_LIMITED in detail.lower()):
        return AgsThrottledError(status, detail, url, response.headers.get("Retry-After"))
    if status == 422:
        return AgsRejectedError(status, plain_refusal(detail), url)
    if status >= 500 or status in TRANSIENT_STATUSES:
        return AgsUnavailableError(status, detail, url, response.headers.get("Retry-After"))
    return AgsRejectedError(status, detail, url)


def is_attempt_limit(error: AgsError) -> bool:
    """Canvas's 422 for an assignment whose allowed attempts are used up."""
    return error.status == 422 and ATTEMPT_LIMIT in error.detail.lower()


def plain_refusal(detail: str) -> str:
    """A 422 explained for the teacher who reads it on the tool's page, with the LMS's own words kept."""
    lowered = detail.lower()
    explanation = next((text for words, text in CANVAS_REFUSALS if words in lowered), None)
    if explanation is None:
        return detail
    return f"{explanation} (Canvas said: {detail})"[:MAX_ERROR_TEXT]


class AgsClient:
    """Calls a platform's AGS endpoints with a bearer token from :class:`AccessTokens`."""

    def __init__(self, http: HttpSession, tokens: AccessTokens) -> None:
        self.http = http
        self.tokens = tokens

    def post_score(self, session: orm.Session, registration: LtiRegistration, lineitem_url: str,
                   score: dict[str, Any]) -> None:
        """POST one score to the line item.

        :raise AgsError: classified; :raise AccessTokenError: no token could be had.
        """
        self.request(session, registration, [Scope.SCORE], "POST", scores_url(lineitem_url),
                     data=json.dumps(score), headers={"Content-Type": MEDIA_SCORE})

    def get_lineitems(self, session: orm.Session, registration: LtiRegistration, lineitems_url: str,
                      resource_link_id: str | None = None, resource_id: str | None = None,
                      tag: str | None = None) -> list[dict[str, Any]]:
        """Every line item of the container that matches the filters, across all pages."""
        filters = {"resource_link_id": resource_link_id, "resource_id": resource_id, "tag": tag}
        items: list[dict[str, Any]] = []
        for response in self.pages(session, registration, lineitems_url, [Scope.LINEITEM_READONLY],
                                   MEDIA_LINEITEM_CONTAINER, {k: v for k, v in filters.items() if v is not None}):
            page = _json(response)
            if not isinstance(page, list):
                raise AgsRejectedError(response.status_code, "line item container is not a JSON array", response.url)
            items.extend(item for item in page if isinstance(item, dict))
        return items

    def create_lineitem(self, session: orm.Session, registration: LtiRegistration, lineitems_url: str, label: str,
                        score_maximum: float, resource_id: str | None = None, tag: str | None = None,
                        resource_link_id: str | None = None) -> dict[str, Any]:
        """Create a gradebook column; returns the platform's line item (its ``id`` is the line item URL)."""
        optional = {"resourceId": resource_id, "tag": tag, "resourceLinkId": resource_link_id}
        body = {"label": label, "scoreMaximum": score_maximum,
                **{name: value for name, value in optional.items() if value is not None}}
        response = self.request(session, registration, [Scope.LINEITEM], "POST", lineitems_url,
                                data=json.dumps(body),
                                headers={"Content-Type": MEDIA_LINEITEM, "Accept": MEDIA_LINEITEM})
        created = _json(response)
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise AgsRejectedError(response.status_code, "created line item has no id", response.url)
        return created

    def pages(self, session: orm.Session, registration: LtiRegistration, url: str, scopes: Iterable[str],
              accept: str, params: dict[str, str] | None = None) -> Iterator[requests.Response]:
        """GET ``url`` and every ``Link: <…>; rel="next"`` page after it (AGS line items, NRPS memberships).

        The next URL is followed exactly as given: cursors are case-sensitive (pylti1p3 lower-cases them).
        """
        next_url: str | None = url
        seen: set[str] = set()
        while next_url is not None and len(seen) < MAX_PAGES:
            seen.add(next_url)
            response = self.request(session, registration, scopes, "GET", next_url,
                                    params=params if next_url == url else None, headers={"Accept": accept})
            yield response
            next_url = response.links.get("next", {}).get("url")
            if next_url in seen:  # a platform that links a page to itself would loop forever
                log.warning("%s links back to an already read page; stopping", response.url)
                return

    def request(self, session: orm.Session, registration: LtiRegistration, scopes: Iterable[str], method: str,
                url: str, **kwargs: Any) -> requests.Response:
        """One authorized call; a 401 is retried once with a newly issued token (the cached one may be revoked)."""
        scopes = list(scopes)
        for attempt in (1, 2):
            token = self.tokens.get(session, registration, scopes)
            response = self._send(method, url, token, **kwargs)
            if response.status_code != 401 or attempt == 2:
                break
            log.info("%s %s answered 401; retrying once with a new token", method, url)
            self.tokens.invalidate(session, registration, scopes, token)
        if not 200 <= response.status_code < 300:
            raise error_for(response)
        return response

    def _send(self, method: str, url: str, token: str, **kwargs: Any) -> requests.Response:
        headers = {**kwargs.pop("headers", {}), "Authorization": f"Bearer {token}"}
        try:
            # Never follow a redirect: requests would turn the POST into a GET and report success.
            response = self.http.request(method, url, headers=headers, allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            count_ags_request(None)
            raise AgsUnavailableError(None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_TEXT], url) from exc
        count_ags_request(response.status_code)
        return response


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise AgsRejectedError(response.status_code, "the answer is not JSON", response.url) from exc
