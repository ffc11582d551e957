"""Words in the reader's language: typed ``gettext`` and locale formats over Flask-Babel, and ``N_``.

``N_`` marks a string for the catalogues where it is defined (a provider's summary and score names, status
labels, fixed when a module loads); the page translates it with :func:`gettext` when it renders. Outside a
request (the worker, the command line) every function answers in English.
"""

from __future__ import annotations

import datetime as dt

import babel.dates
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
