"""The class view as CSV: one row per student and result, for spreadsheets.

UTF-8 with a byte order mark, so Excel reads "Stella Ström" right; every text cell that a spreadsheet would take
for a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading apostrophe
(OWASP "CSV injection"): names and messages come from the LMS and the provider, not from the teacher.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from collections.abc import Iterator

from lti_tool.teacher.classview import ClassView
from lti_tool.teacher.classview import HistoryEntry
from lti_tool.teacher.classview import StudentRow
from lti_tool.teacher.words import component_label
from lti_tool.teacher.words import plain
from lti_tool.translatable import gettext

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def safe_cell(value: str | None) -> str:
    """A text cell a spreadsheet shows as text, never runs."""
    text = value or ""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(view: ClassView, report_url: Callable[[str], str]) -> str:
    """The whole export, BOM first. ``report_url`` makes the tool's report page URL of a result."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(_headers(view))
    for row in view.rows:
        for entry, latest in _entries(row):
            writer.writerow([
                safe_cell(row.name), safe_cell(row.given_name), safe_cell(row.family_name), safe_cell(row.email),
                safe_cell(row.sub), row.label, safe_cell(row.detail), _date(row.started),
                _date(entry.received if entry else None), entry.status_words if entry else "",
                ("yes" if latest else "no") if entry else "",
                *(_number(entry.scores.get(name)) if entry else "" for name in view.components),
                _number(entry.scale_maximum) if entry else "",
                _number(row.grade.points) if row.grade else "", _number(row.grade.maximum) if row.grade else "",
                _date(row.sent_at) if row.grade else "",
                report_url(entry.result_public_id) if entry else "",
            ])
    return BOM + buffer.getvalue()


def _headers(view: ClassView) -> list[str]:
    """The column names, in the teacher's language (the values below them stay as the tool stores them)."""
    return [gettext("Student"), gettext("Given name"), gettext("Family name"), gettext("Email"),
            gettext("LMS user ID"), gettext("Status"), gettext("Status detail"), gettext("Started (UTC)"),
            gettext("Result received (UTC)"), gettext("Result"), gettext("Latest result"),
            *(gettext("%(score)s (provider)", score=component_label(name, view.labels).capitalize())
              for name in view.components),
            gettext("Provider scale maximum"), gettext("Gradebook points"), gettext("Gradebook maximum"),
            gettext("Sent to the gradebook (UTC)"), gettext("Report")]


def _entries(row: StudentRow) -> Iterator[tuple[HistoryEntry | None, bool]]:
    """Each result of the student, newest first; one empty entry for a student without results."""
    if not row.history:
        yield None, False
        return
    for index, entry in enumerate(row.history):
        yield entry, index == 0


def _date(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _number(value: float | None) -> str:
    return plain(value) if value is not None else ""
