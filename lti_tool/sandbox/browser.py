"""FormBrowser: a tiny user agent for tests and the benchmark.

It follows redirects, keeps cookies (requests.Session) and submits auto-submitting forms (the OIDC
form_post pages of LTI), which is all an LTI launch needs from a browser. HTML is parsed with the
standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import requests

DEFAULT_TIMEOUT_SECONDS = 10.0


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def autosubmit(self) -> bool:
        return "data-autosubmit" in self.attrs or self.attrs.get("id", "").endswith("autosubmit")


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.body_onload = ""
        self._current: Form | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attr_list: list[tuple[str, str | None]]) -> None:
        attrs = {name: value or "" for name, value in attr_list}
        if tag == "body":
            self.body_onload = attrs.get("onload", "")
        elif tag == "form":
            self._current = Form(action=attrs.get("action", ""), method=attrs.get("method", "get").lower(),
                                 attrs=attrs)
            self.forms.append(self._current)
        elif self._current is not None:
            self._field_tag(tag, attrs, self._current)

    def _field_tag(self, tag: str, attrs: dict[str, str], form: Form) -> None:
        if tag == "option" and self._select:
            if self._select not in form.fields or "selected" in attrs:  # first option unless one is selected
                form.fields[self._select] = attrs.get("value", "")
            return
        name = attrs.get("name")
        if not name:
            return
        kind = attrs.get("type", "text").lower()
        if tag == "input" and kind not in ("submit", "button", "image", "reset", "file"):
            if kind not in ("checkbox", "radio") or "checked" in attrs:
                form.fields[name] = attrs.get("value", "on" if kind in ("checkbox", "radio") else "")
        elif tag == "textarea":
            self._textarea, form.fields[name] = name, ""
        elif tag == "select":
            self._select = name

    def handle_data(self, data: str) -> None:
        if self._current is not None and self._textarea:
            self._current.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def _parse(html: str, base_url: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    for form in parser.forms:
        form.action = urljoin(base_url, form.action) if form.action else base_url
    return parser


def parse_forms(html: str, base_url: str = "") -> list[Form]:
    """All forms in the page, with actions made absolute against base_url (empty action = the page)."""
    return _parse(html, base_url).forms


def _autosubmit_form(response: requests.Response) -> Form | None:
    """The page's only form, if it submits itself (data-autosubmit, id=...autosubmit or body onload)."""
    if "html" not in response.headers.get("Content-Type", ""):
        return None
    parser = _parse(response.text, response.url)
    onload_submits = ".submit()" in parser.body_onload
    if len(parser.forms) == 1 and (parser.forms[0].autosubmit or onload_submits):
        return parser.forms[0]
    return None


class TooManyHops(RuntimeError):
    """The chain of auto-submitting forms did not end (likely a loop between tool and platform)."""


class FormBrowser:
    """requests.Session plus auto-submission of auto-submitting forms, up to max_hops in a row."""

    def __init__(self, session: requests.Session | None = None, max_hops: int = 10,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.session = session or requests.Session()
        self.max_hops = max_hops
        self.timeout = timeout
        self.history: list[requests.Response] = []  # every response seen, redirects included

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self._follow(self._send("get", url, **kwargs))

    def post(self, url: str, data: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        return self._follow(self._send("post", url, data=data, **kwargs))

    def submit(self, form: Form, overrides: dict[str, str] | None = None) -> requests.Response:
        """Submit a (non-automatic) form as a user would, optionally changing some fields."""
        fields = {**form.fields, **(overrides or {})}
        if form.method == "post":
            return self.post(form.action, data=fields)
        return self.get(form.action, params=fields)

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, url, allow_redirects=True, **kwargs)
        self.history.extend([*response.history, response])
        return response

    def _follow(self, response: requests.Response) -> requests.Response:
        for _ in range(self.max_hops):
            form = _autosubmit_form(response)
            if form is None:
                return response
            if form.method == "post":
                response = self._send("post", form.action, data=form.fields)
            else:
                response = self._send("get", form.action, params=form.fields)
        if _autosubmit_form(response) is not None:
            raise TooManyHops(f"more than {self.max_hops} auto-submitted forms in a row, "
                              f"last at {response.url}")
        return response
