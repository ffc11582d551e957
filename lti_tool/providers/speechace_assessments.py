"""Speechace assessments as admins add and change them: the share link's key is split off and kept apart
(shared/docs/providers.md §1), or an iframe test URL is used for accounts without oEmbed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from sqlalchemy import orm

from lti_tool.models import Assessment
from lti_tool.providers.interfaces import AssessmentAction
from lti_tool.providers.interfaces import AssessmentForm
from lti_tool.providers.interfaces import FormField
from lti_tool.providers.interfaces import RefusedValue
from lti_tool.translatable import N_

NAME = "speechace"
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,128}$")

# The link fields are never filled in again after an error: the share link holds the key.
ASSESSMENT_FORM = AssessmentForm(fields=(
    FormField("share_link", N_("Share → oEmbed link (holds the key)"), cli_name="oembed-url",
              help="Speechace Share → oEmbed link (holds the secret key)."),
    FormField("test_url", N_("or the iframe test URL (accounts without oEmbed)"),
              help="Speechace iframe test URL (accounts without oEmbed)."),
))
REPLACE_KEY = AssessmentAction(
    name="replace-key", button=N_("Replace key"), notice=N_("Key replaced. The old key is no longer used."),
    description="key replaced", event="assessment-key",  # the audit log's words: English
    fields=(FormField("share_link", N_("New share link"),
                      placeholder=N_("paste the new Share → oEmbed link")),))


def split_share_link(share_link: str) -> tuple[str, str]:
    """Separate the share link into the oEmbed URL without its key, and the key (the secret).

    :raise ValueError: not an http(s) URL, or no ``key`` parameter.
    """
    parts = urlsplit(share_link.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise RefusedValue(N_("The Speechace share link must be an http(s) URL."))
    params = parse_qsl(parts.query, keep_blank_values=True)
    keys = [value for name, value in params if name == "key"]
    if len(keys) != 1 or not _KEY_PATTERN.match(keys[0]):
        raise RefusedValue(N_("The Speechace share link has no valid key= parameter (copy it from Share → "
                              "oEmbed)."))
    without_key = urlunsplit(parts._replace(query=urlencode([(n, v) for n, v in params if n != "key"])))
    return without_key, keys[0]


def add_speechace_assessment(session: orm.Session, title: str, oembed_url: str | None = None,
                             test_url: str | None = None) -> Assessment:
    """A Speechace assessment from its oEmbed share link (the key is split off and kept apart), or an iframe URL.

    :raise ValueError: neither or both given, or the link is unusable.
    """
    if bool(oembed_url) == bool(test_url):
        raise RefusedValue(N_("Give either the oEmbed share link or the iframe test URL."))
    if oembed_url:
        url_without_key, key = split_share_link(oembed_url)
        assessment = Assessment(provider=NAME, title=title, secret=key,
                                settings={"mode": "oembed", "oembed_url": url_without_key})
    else:
        assert test_url is not None
        if not test_url.startswith(("https://", "http://")):
            raise RefusedValue(N_("The Speechace test URL must be an http(s) URL."))
        assessment = Assessment(provider=NAME, title=title, settings={"mode": "iframe", "test_url": test_url})
    session.add(assessment)
    session.flush()
    return assessment


def from_form(session: orm.Session, title: str, values: Mapping[str, str]) -> Assessment:
    return add_speechace_assessment(session, title, oembed_url=values.get("share_link", "").strip() or None,
                                    test_url=values.get("test_url", "").strip() or None)


def replace_key(assessment: Assessment, share_link: str) -> None:
    """Store the key of a new share link of the same test (Speechace issued a new key).

    A link to another test is refused: activities placed in courses would silently switch tests.
    :raise ValueError: an assessment without a share link, another test's link, or an unusable link.
    """
    if assessment.settings.get("mode") != "oembed":
        raise RefusedValue(N_("This assessment uses an iframe test URL and has no key to replace; add the share "
                              "link as a new assessment instead."))
    url_without_key, key = split_share_link(share_link)
    if url_without_key != assessment.settings.get("oembed_url"):
        raise RefusedValue(N_("This share link is for another Speechace test. Add it as a new assessment "
                              "instead."))
    assessment.secret = key
