"""/readyz (can this process serve: database reachable, schema at head) and /metrics (Prometheus).

/healthz, in the app factory, says only that the process answers; a load balancer sends traffic on /readyz.
"""

from __future__ import annotations

import hmac
import logging

import sqlalchemy as sa
from flask import Flask
from flask import Response
from flask import request

from lti_tool.config import Settings
from lti_tool.services import Services
from lti_tool.telemetry.metrics import CONTENT_TYPE
from lti_tool.telemetry.metrics import render_metrics
from lti_tool.telemetry.schema import schema_state

log = logging.getLogger(__name__)


def init_app(app: Flask, services: Services, settings: Settings) -> None:
    database = services.database

    @app.get("/readyz")
    def readyz() -> tuple[dict[str, str], int]:
        try:
            state = schema_state(database.engine)
        except sa.exc.SQLAlchemyError as exc:
            # The driver's message names hosts and ports: the log has it, the unauthenticated answer does not.
            log.warning("readyz: database unreachable (%s)", type(exc).__name__)
            return {"status": "unavailable", "reason": "database unreachable"}, 503
        if not state.at_head:
            log.warning("readyz: database schema at %s, this version needs %s", state.current, state.head)
            return {"status": "unavailable", "reason": "database schema does not match this version of the tool: "
                                                       "run `lti-tool db upgrade`"}, 503
        return {"status": "ok"}, 200

    @app.get("/metrics")
    def metrics() -> Response:
        if settings.metrics_token and not _bearer_matches(settings.metrics_token):
            return Response("a bearer token is required (LTI_TOOL_METRICS_TOKEN)\n", 401,
                            {"WWW-Authenticate": 'Bearer realm="metrics"', "Content-Type": "text/plain"})
        response = Response(render_metrics(database), 200, {"Content-Type": CONTENT_TYPE})
        response.headers["Cache-Control"] = "no-store"
        return response


def _bearer_matches(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
