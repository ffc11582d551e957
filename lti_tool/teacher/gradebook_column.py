"""The teacher's maximum written to the LMS's gradebook column, after set-up and after a change of settings."""

from __future__ import annotations

from sqlalchemy import orm

from lti_tool.grading.columns import NO_COLUMN_MANAGEMENT
from lti_tool.grading.columns import write_column
from lti_tool.grading.lineitems import LineItemUnavailable
from lti_tool.grading.lineitems import resolve_lineitem
from lti_tool.models import Activity
from lti_tool.models import LtiLaunch
from lti_tool.services import get_services


def match_column(session: orm.Session, launch: LtiLaunch, activity: Activity, label: str | None = None) -> str:
    """Find (or make) the link's column, then give it the activity's maximum: each step's writes are committed
    before the next request to the LMS. Returns a word for the page: updated, unchanged, refused, no-management,
    missing."""
    ags = get_services().ags
    try:
        resolve_lineitem(session, ags, launch, activity)
    except LineItemUnavailable:
        session.rollback()
        return "missing"
    session.commit()
    column = write_column(session, ags, launch, activity, label)
    if column.updated:
        return "updated"
    if column.problem == NO_COLUMN_MANAGEMENT:
        return "no-management"
    return "refused" if column.problem else "unchanged"
