"""iTEP emulator: a test-ID inventory, the signed fulfillment API, the candidate's test and results webhooks.

    server = LiveServer()                                    # reserves a port, so the URL is known
    itep = ItepEmulator(base_url=server.url, api_key="...")  # signature header/encoding are knobs too
    server.start(create_itep_app(itep))
    itep.add_product("GTX-Academic-Plus", inventory=5)
    itep.configure_tracking("RC", webhook_url="https://tool.example/itep/results", secret="s3cret")
    # the tool POSTs compact JSON to itep.fulfillment_url; then, for a test ID it got:
    itep.fire_webhook(test_id, status="Complete", overall_level="4.5", overall_cefr="B2")
"""

from __future__ import annotations

from lti_tool.sandbox.itep.delivery import USER_AGENT
from lti_tool.sandbox.itep.emulator import FULFILLMENT_PATH
from lti_tool.sandbox.itep.emulator import REPORT_PATH
from lti_tool.sandbox.itep.emulator import ItepEmulator
from lti_tool.sandbox.itep.fulfillment import is_compact_json
from lti_tool.sandbox.itep.fulfillment import sign
from lti_tool.sandbox.itep.models import SECTIONS
from lti_tool.sandbox.itep.models import STATUSES
from lti_tool.sandbox.itep.models import TEST_ID_PATTERN
from lti_tool.sandbox.itep.models import FulfillmentRequest
from lti_tool.sandbox.itep.models import ItepError
from lti_tool.sandbox.itep.models import ItepProduct
from lti_tool.sandbox.itep.models import ItepTest
from lti_tool.sandbox.itep.models import SentEmail
from lti_tool.sandbox.itep.models import TrackingCode
from lti_tool.sandbox.itep.models import WebhookResult
from lti_tool.sandbox.itep.results import DEFAULT_SECTION_RESULTS
from lti_tool.sandbox.itep.views import create_itep_app
from lti_tool.sandbox.itep.views import create_itep_blueprint

__all__ = [
    "DEFAULT_SECTION_RESULTS", "FULFILLMENT_PATH", "REPORT_PATH", "SECTIONS", "STATUSES", "TEST_ID_PATTERN",
    "USER_AGENT", "FulfillmentRequest", "ItepEmulator", "ItepError", "ItepProduct", "ItepTest", "SentEmail",
    "TrackingCode", "WebhookResult", "create_itep_app", "create_itep_blueprint", "is_compact_json", "sign",
]
