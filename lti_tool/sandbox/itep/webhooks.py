"""Results webhooks: the calls iTEP makes to the endpoint of a tracking code when a test changes state.

ResultsReporting is a mixin of ItepEmulator, kept apart so each module stays small; it reads the emulator's state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from lti_tool.sandbox.itep import delivery
from lti_tool.sandbox.itep.models import FINISHED
from lti_tool.sandbox.itep.models import READY
from lti_tool.sandbox.itep.models import ItepError
from lti_tool.sandbox.itep.models import ItepProduct
from lti_tool.sandbox.itep.models import ItepTest
from lti_tool.sandbox.itep.models import TrackingCode
from lti_tool.sandbox.itep.models import WebhookResult
from lti_tool.sandbox.itep.results import encode_data
from lti_tool.sandbox.itep.results import new_report_token
from lti_tool.sandbox.itep.results import resolve_sections
from lti_tool.sandbox.itep.results import results_payload
from lti_tool.sandbox.itep.results import ungraded_sections

UNFINISHED_STATUSES = (READY, "Started", "Incomplete")


class ResultsReporting:
    """finish_test, fire_webhook, resend_webhook and post_raw_webhook, over the state ItepEmulator defines."""

    lock: threading.RLock
    clock: Callable[[], float]
    products: dict[str, ItepProduct]
    tracking_codes: dict[str, TrackingCode]
    reports: dict[str, str]
    webhooks_sent: list[WebhookResult]
    webhook_escape_slashes: bool

    def test(self, test_id: str) -> ItepTest:
        raise NotImplementedError

    def report_url(self, token: str) -> str:
        raise NotImplementedError

    def log(self, message: str) -> None:
        raise NotImplementedError

    def finish_test(self, test_id: str) -> WebhookResult | None:
        """The candidate finishes: status Finished, and a webhook only if the tracking code asks for one."""
        test = self.test(test_id)
        if test.status not in UNFINISHED_STATUSES:
            raise ItepError(409, f"Test {test_id} is already {test.status}")
        tracking = self.tracking_codes.get(test.track or "")
        if tracking is not None and not tracking.send_finished:
            with self.lock:
                test.status, test.finished_at = FINISHED, self.clock()
            self.log(f"{test_id} finished; tracking code {test.track} does not send Finished")
            return None
        sections = ungraded_sections(self.products[test.product_code].sections)
        return self.fire_webhook(test_id, status=FINISHED, overall_level="", overall_cefr="", sections=sections)

    def fire_webhook(self, test_id: str, status: str = "Complete", overall_level: str = "4.5",
                     overall_cefr: str = "B2", sections: Mapping[str, Mapping[str, Any]] | None = None,
                     overrides: Mapping[str, Any] | None = None, omit: tuple[str, ...] = ()) -> WebhookResult:
        """Set the test's status and POST its results to the tracking code's endpoint.

        `overrides` replaces or adds payload keys, `omit` drops some: for malformed or unusual payloads.
        """
        test = self.test(test_id)
        resolved = resolve_sections(self.products[test.product_code].sections, sections)
        with self.lock:
            test.status = status
            test.finished_at = test.finished_at or self.clock()
            if test.report_token is None:
                test.report_token = new_report_token()
                self.reports[test.report_token] = test_id
            payload = results_payload(test, status=status, overall_level=overall_level, overall_cefr=overall_cefr,
                                      sections=resolved, report_url=self.report_url(test.report_token),
                                      finished_at=test.finished_at)
            payload = {key: value for key, value in {**payload, **(overrides or {})}.items() if key not in omit}
            test.last_results = payload
            tracking = self.tracking_codes.get(test.track or "")
        data = encode_data(payload, self.webhook_escape_slashes)
        if tracking is None:  # "a check is made [whether] the test has a tracking code": no code, no call
            return self._record_webhook(WebhookResult(url=None, headers={}, data=data, body=b"", test_id=test_id,
                                                      skipped=True))
        body, content_type = delivery.encode_form({"data": data}, tracking.form_encoding == "multipart")
        headers = delivery.base_headers(content_type)
        url = delivery.authenticate(tracking, headers)
        # Sent outside the lock: the tool may call iTEP back while handling this POST.
        return self._record_webhook(delivery.deliver(url, body, headers, data, test_id))

    def resend_webhook(self, index: int) -> WebhookResult:
        """Deliver an earlier webhook again, byte-for-byte: a duplicate delivery."""
        with self.lock:
            original = self.webhooks_sent[index]
        if original.url is None:
            raise ValueError(f"webhook {index} was never sent (the test has no configured tracking code)")
        return self._record_webhook(delivery.deliver(original.url, original.body, original.headers, original.data,
                                                     original.test_id))

    def post_raw_webhook(self, url: str, fields: Mapping[str, str], headers: Mapping[str, str] | None = None,
                         multipart: bool = True) -> WebhookResult:
        """POST arbitrary form fields as if iTEP sent them (forged, malformed or extra-field webhooks)."""
        body, content_type = delivery.encode_form(fields, multipart)
        sent_headers = {**delivery.base_headers(content_type), **(headers or {})}
        return self._record_webhook(delivery.deliver(url, body, sent_headers, fields.get("data", "")))

    def _record_webhook(self, result: WebhookResult) -> WebhookResult:
        with self.lock:
            self.webhooks_sent.append(result)
        outcome = "skipped (no tracking code)" if result.skipped else result.status or result.error
        self.log(f"results webhook for {result.test_id} to {result.url}: {outcome}")
        return result
