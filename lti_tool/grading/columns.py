"""The gradebook column's maximum and label as the LMS holds them, and the teacher's choice written to it.

When the LMS provides the column (a link added by hand with grades accepted: Moodle makes a column of 100 points),
the maximum the teacher chose in the tool is not what the gradebook shows until the tool updates the line item
(AGS 2.0 §3.2, a PUT of the whole line item). The LMS converts every score to its column's maximum (Moodle and
Canvas both scale ``scoreGiven / scoreMaximum``), so a column left at 100 turns "9 of 9" into "100 of 100".

Nothing here writes to the database: callers commit before they call, so no write is pending during the HTTP.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import orm

from lti_tool.grading.ags import MEDIA_LINEITEM
from lti_tool.grading.ags import AgsClient
from lti_tool.grading.ags import AgsError
from lti_tool.grading.ags import AgsRejectedError
from lti_tool.grading.tokens import AccessTokenError
from lti_tool.lti.claims import Claim
from lti_tool.lti.claims import Scope
from lti_tool.models import Activity
from lti_tool.models import LtiContext
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiResourceLink

log = logging.getLogger(__name__)

# What a PUT carries back: AGS says the body replaces the line item (Moodle clears a resourceId or tag left out),
# so everything the LMS gave is sent again, with only the changed values replaced.
KEPT_FIELDS = ("resourceId", "tag", "resourceLinkId", "startDateTime", "endDateTime")
# The column's problem when the LMS grants no line-item management; match_column() answers "no-management" for it and
# the teacher reads templates/teacher/link.html's translated sentence instead (Moodle's names marked lang="en").
NO_COLUMN_MANAGEMENT = ("The LMS lets the tool send grades but not change the gradebook column. In Moodle, set the "
                        "tool's \"IMS LTI Assignment and Grade Services\" to \"Use this service for grade sync and "
                        "column management\"; or change the column's maximum in the gradebook yourself.")


@dataclass(frozen=True)
class Column:
    """The gradebook column of a link, as the LMS answered (``maximum`` None: it could not be read)."""

    url: str | None
    label: str | None = None
    maximum: float | None = None
    problem: str | None = None  # why the column could not be read or changed, in words for the teacher
    updated: bool = False  # the tool has just written the teacher's choice to it

    def differs_from(self, activity: Activity) -> bool:
        return self.maximum is not None and not math.isclose(self.maximum, activity.score_maximum)


def known_lineitem_url(session: orm.Session, launch: LtiLaunch) -> str | None:
    """The launched link's column, if the launch names it or the tool already found it (no HTTP, no write)."""
    claim = launch.claims.get(Claim.AGS_ENDPOINT)
    if isinstance(claim, dict) and claim.get("lineitem"):
        return str(claim["lineitem"])
    link = session.get(LtiResourceLink, launch.resource_link_id) if launch.resource_link_id else None
    return link.lineitem_url if link is not None else None


def read_column(session: orm.Session, ags: AgsClient, launch: LtiLaunch) -> Column:
    """The column's label and maximum as the LMS holds them; a ``problem`` when it cannot be asked."""
    return _read(session, ags, launch)[0]


def _read(session: orm.Session, ags: AgsClient, launch: LtiLaunch) -> tuple[Column, dict[str, Any]]:
    url = known_lineitem_url(session, launch)
    registration = session.get(LtiRegistration, launch.registration_id)
    if url is None or registration is None:
        return Column(url=None), {}
    scope = _read_scope(session.get(LtiContext, launch.context_id) if launch.context_id else None)
    if scope is None:
        return Column(url=url), {}  # the LMS lets the tool read no line item: nothing to compare
    try:
        item = _get(session, ags, registration, url, scope)
    except (AgsError, AccessTokenError) as exc:
        log.warning("line item %s could not be read: %s", url, exc)
        return Column(url=url, problem="The LMS did not tell the tool its gradebook column's maximum "
                                       f"({_reason(exc)})."), {}
    return _column(url, item), item


def write_column(session: orm.Session, ags: AgsClient, launch: LtiLaunch, activity: Activity,
                 label: str | None = None) -> Column:
    """Make the column's maximum the activity's, and its label ``label`` when given; the LMS's refusal comes back
    as the column's ``problem`` (the column keeps what the LMS holds)."""
    column, item = _read(session, ags, launch)
    if column.url is None or column.maximum is None:
        return column
    if not column.differs_from(activity) and (label is None or label == column.label):
        return column
    context = session.get(LtiContext, launch.context_id) if launch.context_id else None
    if context is not None and context.ags_scopes and Scope.LINEITEM not in context.ags_scopes:
        return _refused(column, NO_COLUMN_MANAGEMENT)
    registration = session.get(LtiRegistration, launch.registration_id)
    assert registration is not None  # read_column found it
    body = {"label": label or column.label or activity.title, "scoreMaximum": activity.score_maximum,
            **{name: item[name] for name in KEPT_FIELDS if item.get(name) is not None}}
    try:
        response = ags.request(session, registration, [Scope.LINEITEM], "PUT", column.url, data=json.dumps(body),
                               headers={"Content-Type": MEDIA_LINEITEM, "Accept": MEDIA_LINEITEM})
    except (AgsError, AccessTokenError) as exc:
        log.warning("line item %s not updated to %s points: %s", column.url, activity.score_maximum, exc)
        if isinstance(exc, AccessTokenError) and exc.status is not None and 400 <= exc.status < 500:
            return _refused(column, NO_COLUMN_MANAGEMENT)
        return _refused(column, f"The LMS refused to change the gradebook column ({_reason(exc)}).")
    log.info("line item %s updated: %s points", column.url, activity.score_maximum)
    answered = _json_object(response.text)
    written = _column(column.url, answered) if answered.get("scoreMaximum") is not None else \
        Column(url=column.url, label=body["label"], maximum=activity.score_maximum)
    return Column(url=written.url, label=written.label, maximum=written.maximum, updated=True)


def _read_scope(context: LtiContext | None) -> str | None:
    """The scope to read a line item with: the launch's AGS claim lists what the LMS grants (none listed: ask)."""
    granted = context.ags_scopes if context is not None else []
    if not granted or Scope.LINEITEM_READONLY in granted:
        return Scope.LINEITEM_READONLY.value
    return Scope.LINEITEM.value if Scope.LINEITEM in granted else None


def _get(session: orm.Session, ags: AgsClient, registration: LtiRegistration, url: str,
         scope: str) -> dict[str, Any]:
    response = ags.request(session, registration, [scope], "GET", url, headers={"Accept": MEDIA_LINEITEM})
    item = _json_object(response.text)
    if not item:
        raise AgsRejectedError(response.status_code, "the line item is not a JSON object", url)
    return item


def _json_object(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _column(url: str, item: dict[str, Any]) -> Column:
    maximum = item.get("scoreMaximum")
    label = item.get("label")
    if isinstance(maximum, bool) or not isinstance(maximum, (int, float)) or maximum <= 0:
        return Column(url=url, label=label if isinstance(label, str) else None,
                      problem="The LMS's gradebook column has no usable maximum.")
    return Column(url=url, label=label if isinstance(label, str) else None, maximum=float(maximum))


def _refused(column: Column, problem: str) -> Column:
    return Column(url=column.url, label=column.label, maximum=column.maximum, problem=problem)


def _reason(exc: AgsError | AccessTokenError) -> str:
    status = exc.status
    detail = (exc.detail if isinstance(exc, AgsError) else exc.text).strip()
    if status is None:
        return "the LMS did not answer"
    return f"HTTP {status}{': ' + detail if detail else ''}"
