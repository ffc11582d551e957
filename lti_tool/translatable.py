"""Words in the reader's language: typed ``gettext`` and locale formats over Flask-Babel, and ``N_``.

``N_`` marks a string for the catalogues where it is defined (a provider's summary and score names, status
labels, fixed when a module loads); the page translates it with :func:`gettext` when it renders. Outside a
request (the worker, the command line) every function answers in English.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import babel
import babel.dates
import babel.lists
import babel.numbers
import flask_babel
from flask import has_request_context


def N_(message: str) -> str:
    return message


def gettext(message: str, **values: object) -> str:
    return str(flask_babel.gettext(message, **values))


def ngettext(singular: str, plural: str, number: int, **values: object) -> str:
    return str(flask_babel.ngettext(singular, plural, number, **values))


def format_decimal(number: float) -> str:
    if not has_request_context():
        return str(babel.numbers.format_decimal(number, locale="en"))
    return str(flask_babel.format_decimal(number))


def format_date(value: dt.datetime | dt.date) -> str:
    """The long form of the reader's locale: "December 3, 2026", "3 de diciembre de 2026" (dates are UTC)."""
    if not has_request_context():
        return str(babel.dates.format_date(value, format="long", locale="en"))
    return str(flask_babel.format_date(value, format="long"))


def format_datetime(value: dt.datetime) -> str:
    """The date and the minute in the reader's locale, in UTC: "Dec 3, 2026, 8:05 AM", "3 dic 2026, 8:05"."""
    moment = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    locale = _reader_locale()
    date = babel.dates.format_date(moment, format="medium", locale=locale)
    time = babel.dates.format_time(moment, format="short", tzinfo=dt.UTC, locale=locale)
    return str(locale.datetime_formats["medium"]).replace("{1}", date).replace("{0}", time)


def machine_time(value: dt.datetime) -> str:
    """For ``<time datetime>``: ISO 8601 in UTC, to the second."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shown_time(value: dt.datetime) -> str:
    """For people: the date and the minute in the reader's locale, in UTC (the tool does not know the reader's
    time zone)."""
    return gettext("%(time)s UTC", time=format_datetime(value))


def format_list(items: list[str], style: Literal["standard", "or"] = "standard") -> str:
    """Items joined the reader's way: "red, green, and blue"; "red, green o blue" (``style="or"``, Spanish)."""
    return str(babel.lists.format_list(items, style=style, locale=_reader_locale()))


def _reader_locale() -> babel.Locale:
    return babel.Locale.parse(str(flask_babel.get_locale() or "en")) if has_request_context() else babel.Locale("en")


class MarkedError(Exception):
    """An error whose message a page shows in the reader's language.

    ``message`` is marked with ``N_`` where the error is raised and has named placeholders filled from ``values``
    (ids, claim names, a provider's or an LMS's own words: never translated). ``str()`` and :attr:`reason` are the
    English sentence (the log, the audit log, the command line); :meth:`shown` is the reader's language (the page).
    """

    def __init__(self, message: str, **values: object) -> None:
        self.reason = message % values if values else message
        super().__init__(self.reason)
        self.message = message
        self.values = values

    def shown(self) -> str:
        return gettext(self.message, **self.values)
