"""The HTML the emulated iTEP shows: index, the candidate's test, the score report, and the admin trigger page.

Forms work without JavaScript, so FormBrowser (and a person in the demo) can drive every page. Secrets are never
shown: the API key and tracking secrets are masked, and so is a `token=` in a webhook URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlsplit

from lti_tool.sandbox.itep.models import SECTIONS
from lti_tool.sandbox.itep.models import ItepProduct
from lti_tool.sandbox.itep.models import ItepTest
from lti_tool.sandbox.itep.models import TrackingCode
from lti_tool.sandbox.itep.models import WebhookResult
from lti_tool.sandbox.itep.models import mask

URL_TOKEN = re.compile(r"([?&]token=)[^&]*")


@dataclass(frozen=True)
class IndexView:
    """What the index shows, gathered under the emulator's lock."""

    fulfillment_url: str
    signature_header: str
    signature_encoding: str
    api_key: str
    products: list[tuple[ItepProduct, int, int]]  # (product, available, total)
    tracking_codes: list[TrackingCode]
    admin_url: str


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
            f"<body>{body}</body></html>")


def _url_without_query(url: str) -> str:
    # A tool may put its own secrets in the query of its endpoint: show only where it points.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def index_page(view: IndexView) -> str:
    products = "".join(
        f"<tr><td><code>{escape(product.code)}</code></td><td>{escape(', '.join(product.sections))}</td>"
        f"<td>{'STX (iTEP e-mails the ID)' if product.sends_email else 'GTX (ID returned)'}</td>"
        f"<td id='available-{escape(product.code)}'>{available}/{total}</td></tr>"
        for product, available, total in view.products)
    tracking = "".join(
        f"<tr><td><code>{escape(code.track)}</code></td><td>{escape(_url_without_query(code.webhook_url))}</td>"
        f"<td>{escape(code.auth)}</td><td>{escape(mask(code.secret))}</td><td>{'yes' if code.send_finished else 'no'}"
        f"</td><td>{escape(code.form_encoding)}</td></tr>" for code in view.tracking_codes)
    body = (f"<h1>iTEP emulator</h1><h2>Fulfillment API</h2><p>POST <code>{escape(view.fulfillment_url)}</code>, "
            f"compact JSON, HMAC-SHA256 of the body in header <code>{escape(view.signature_header)}</code> "
            f"({escape(view.signature_encoding)}); API key <code id='api-key'>{escape(mask(view.api_key))}</code></p>"
            "<h2>Product codes</h2><table id='products'><tr><th>Code</th><th>Sections</th><th>Kind</th>"
            f"<th>Available</th></tr>{products}</table>"
            "<h2>Tracking codes</h2><table id='tracking'><tr><th>Track</th><th>Webhook</th><th>Auth</th>"
            f"<th>Secret</th><th>Sends Finished</th><th>Form</th></tr>{tracking}</table>"
            f"<p><a id='admin' href='{escape(view.admin_url)}'>Admin: fire results webhooks</a></p>")
    return _page("iTEP emulator", body)


def test_page(test: ItepTest, product: ItepProduct, finish_url: str, finished: bool) -> str:
    action = ("<p id='status'>This test is " + escape(test.status) + ".</p>" if finished else
              f"<form id='test' method='post' action='{escape(finish_url)}'>"
              "<p>Simulated test: the sections would follow here.</p>"
              "<button type='submit' id='finish'>Finish test</button></form>")
    body = (f"<h1>iTEP {escape(product.version)}</h1><p>Test ID <code id='test-id'>{escape(test.test_id)}</code></p>"
            f"<p id='candidate'>Candidate: {escape(test.candidate_name)}</p>"
            f"<p>Sections: {escape(', '.join(product.sections))}</p>{action}")
    return _page(f"iTEP test {test.test_id}", body)


def finished_page(test: ItepTest, result: WebhookResult | None) -> str:
    return _page("Test finished", f"<p id='done'>Test {escape(test.test_id)} finished.</p>"
                                  "<p>Your results will be reported once the test has been graded.</p>"
                                  f"<p class='emulator-note'>Emulator: {escape(_outcome(result))}</p>")


def report_page(test: ItepTest) -> str:
    results: dict[str, Any] = test.last_results or {}
    rows = "".join(f"<tr><th>{name}</th><td id='level-{name}'>{escape(str(results[f'{name}_Level']))}</td>"
                   f"<td>{escape(str(results.get(f'{name}_cefr', '')))}</td></tr>"
                   for name in SECTIONS if f"{name}_Level" in results)
    body = (f"<h1>iTEP score report</h1><p>Test ID <code>{escape(test.test_id)}</code>, "
            f"{escape(test.candidate_name)}, {escape(str(results.get('TestDate', '')))}</p>"
            f"<p>Status: <span id='status'>{escape(str(results.get('Status', test.status)))}</span></p>"
            f"<table id='levels'><tr><th>Overall</th><td id='level-Overall'>"
            f"{escape(str(results.get('Overall_Level', '')))}</td><td>{escape(str(results.get('Overall_cefr', '')))}"
            f"</td></tr>{rows}</table><p>Levels run from 0 (Beginner) to 6 (Advanced).</p>")
    return _page("iTEP score report", body)


def admin_page(tests: list[ItepTest], fire_url_of: dict[str, str], home_url: str) -> str:
    rows = "".join(_admin_row(test, fire_url_of[test.test_id]) for test in tests)
    body = ("<h1>iTEP admin: assigned tests</h1><p>Each button makes iTEP send a results webhook to the test's "
            "tracking code endpoint.</p><table id='assigned'><tr><th>Test ID</th><th>Product</th><th>Candidate</th>"
            f"<th>OID</th><th>Track</th><th>Status</th><th>Fire</th></tr>{rows}</table>"
            f"<p><a href='{escape(home_url)}'>Home</a></p>")
    return _page("iTEP admin", body)


def _admin_row(test: ItepTest, fire_url: str) -> str:
    action = escape(fire_url)
    finish = (f"<form method='post' action='{action}'><input type='hidden' name='status' value='Finished'>"
              "<button type='submit'>Finish</button></form>")
    complete = (f"<form method='post' action='{action}'><input type='hidden' name='status' value='Complete'>"
                "<label>Level <input type='number' name='level' min='0' max='6' step='0.1' value='4.5'></label>"
                "<label>CEFR <input type='text' name='cefr' value='B2' size='3'></label>"
                "<button type='submit'>Complete (score)</button></form>")
    invalidate = (f"<form method='post' action='{action}'><input type='hidden' name='status' value='Invalidated'>"
                  "<button type='submit'>Invalidate</button></form>")
    return (f"<tr id='test-{escape(test.test_id)}'><td><code>{escape(test.test_id)}</code></td>"
            f"<td>{escape(test.product_code)}</td><td>{escape(test.candidate_name)}</td><td>{escape(test.oid)}</td>"
            f"<td>{escape(test.track or '')}</td><td>{escape(test.status)}</td>"
            f"<td>{finish}{complete}{invalidate}</td></tr>")


def fire_result_page(test_id: str, status: str, result: WebhookResult | None, admin_url: str) -> str:
    answer = escape(result.response_text) if result is not None else ""
    body = (f"<h1>Webhook {escape(status)} for {escape(test_id)}</h1><p id='outcome'>{escape(_outcome(result))}</p>"
            f"<h2>The tool answered</h2><pre id='answer'>{answer}</pre>"
            f"<p><a href='{escape(admin_url)}'>Back to admin</a></p>")
    return _page("iTEP webhook sent", body)


def _outcome(result: WebhookResult | None) -> str:
    if result is None:
        return "no webhook: the tracking code does not send Finished"
    if result.skipped:
        return "no webhook: the test has no configured tracking code"
    url = URL_TOKEN.sub(r"\1********", result.url or "")
    if result.error is not None:
        return f"POST {url} failed: {result.error}"
    return f"POST {url} -> HTTP {result.status}"
