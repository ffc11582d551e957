"""The language of a page: the LMS's word for the user's locale, kept with the launch, else the browser's.

The launch's ``launch_presentation.locale`` claim (``es-MX``, ``pt-BR``, ``ar-SA``, ``zh-CN``…) is matched to the
catalogues in ``lti_tool/translations`` exactly first, then by its language (``es-MX`` → ``es``), else English.
Every page reached later through the launch (its handle in the URL: ``/…/<launch_id>/…`` or ``?launch=``) reads
the same claim from the stored launch, so a student's later pages and the status their page polls stay in the
launch's language. A teacher's launch is no different: the class view, its reports and settings, and the picker
speak the launch's language. Pages without a launch (the tool's administration, the LMS administrator's
registration pages, error pages) follow the browser's ``Accept-Language``, else English.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Flask
from flask import g
from flask import has_request_context
from flask import request
from flask_babel import Babel
from flask_babel import get_locale

from lti_tool.db import get_session
from lti_tool.lti.claims import Claim
from lti_tool.models import LtiLaunch
from lti_tool.translatable import machine_time
from lti_tool.translatable import shown_time

DEFAULT = "en"
_HANDLE = re.compile(r"[A-Za-z0-9_-]{8,200}")
# The catalogues shipped (lti_tool/translations/<locale>/LC_MESSAGES/messages.po), in Babel's spelling.
SUPPORTED = ("en", "es", "fr", "pt_BR", "ar", "zh_Hans")
# Languages of a browser's Accept-Language header looked at (a header may list any number).
_MAX_ACCEPTED = 20
RIGHT_TO_LEFT = frozenset({"ar"})
# What LMSs send for Chinese written in simplified characters.
_ALIASES = {"zh": "zh_Hans", "zh_cn": "zh_Hans", "zh_sg": "zh_Hans", "zh_hans": "zh_Hans", "pt": "pt_BR"}


def negotiated(tag: object) -> str | None:
    """The supported locale for a BCP 47 tag (``es-MX`` → ``es``, ``pt-BR`` → ``pt_BR``, ``zh-CN`` → ``zh_Hans``),
    or None when the tool has no catalogue for its language."""
    if not isinstance(tag, str) or not tag.strip() or len(tag) > 35:
        return None
    parts = tag.strip().replace("_", "-").split("-")
    exact = "_".join([parts[0].lower(), *parts[1:]])
    by_lower = {locale.lower(): locale for locale in SUPPORTED}
    for candidate in (exact.lower(), "_".join(parts[:2]).lower(), parts[0].lower()):
        if candidate in _ALIASES:
            return _ALIASES[candidate]
        if candidate in by_lower:
            return by_lower[candidate]
    return None


def launch_locale(claims: Mapping[str, Any]) -> str | None:
    presentation = claims.get(Claim.LAUNCH_PRESENTATION)
    return negotiated(presentation.get("locale")) if isinstance(presentation, dict) else None


def locale_of(launch: LtiLaunch) -> str:
    """The language of ``launch``'s pages, a learner's or a teacher's alike: the launch's locale, else English."""
    return launch_locale(launch.claims) or DEFAULT


def use_launch(launch: LtiLaunch) -> None:
    """This request renders for ``launch`` (the launch itself, before its handle is in any URL)."""
    g.launch_locale = locale_of(launch)


def select_locale() -> str:
    if not has_request_context():  # the command line and the worker: English
        return DEFAULT
    hinted = g.get("launch_locale")
    if hinted:
        return str(hinted)
    handle = (request.view_args or {}).get("launch_id") or request.args.get("launch")
    # Only what can be a launch handle is looked up: this also runs for the error page of a refused request,
    # whose path may hold anything (a NUL byte PostgreSQL refuses).
    if isinstance(handle, str) and _HANDLE.fullmatch(handle):
        launch = get_session().get(LtiLaunch, handle)
        if launch is not None:
            g.launch_locale = locale_of(launch)
            return str(g.launch_locale)
    return browser_locale()  # pages without a launch: administrators' pages, registration, error pages


def browser_locale() -> str:
    """The first catalogue the browser's ``Accept-Language`` asks for, in quality order (``fr-CA,fr;q=0.9`` → fr),
    else English. A header that cannot be parsed gives English: this also runs for the error page of a refused
    request."""
    try:
        accepted = list(request.accept_languages)[:_MAX_ACCEPTED]
    except Exception:  # an error page must render whatever the header holds
        return DEFAULT
    for tag, quality in accepted:
        locale = negotiated(tag) if quality > 0 else None
        if locale is not None:
            return locale
    return DEFAULT


def page_language() -> dict[str, str]:
    """For ``<html lang dir>``: the BCP 47 tag and the writing direction of the page's locale."""
    locale = str(get_locale() or DEFAULT) if has_request_context() else DEFAULT
    return {"lang": locale.replace("_", "-"), "dir": "rtl" if locale.split("_")[0] in RIGHT_TO_LEFT else "ltr"}


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")  # relative to the package's root path
    Babel(app, locale_selector=select_locale)
    app.context_processor(lambda: {"page_language": page_language()})
    # A time on any page: <time datetime="{{ machine_time(t) }}">{{ shown_time(t) }}</time>.
    app.jinja_env.globals.update(machine_time=machine_time, shown_time=shown_time)
