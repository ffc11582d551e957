"""HTTP face of the service endpoints a tool calls server-to-server: token, AGS and NRPS."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Response
from flask import request

from lti_tool.sandbox.platform import constants as c
from lti_tool.sandbox.platform.ags import require_media_type
from lti_tool.sandbox.platform.emulator import PlatformEmulator
from lti_tool.sandbox.platform.models import PlatformError


def json_response(body: Any, media_type: str = "application/json", status: int = 200,
                  next_url: str | None = None) -> Response:
    response = Response(json.dumps(body), status=status, mimetype=media_type)
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


def json_body() -> Any:
    try:
        return json.loads(request.get_data(as_text=True))
    except ValueError as exc:
        raise PlatformError(400, f"body is not valid JSON: {exc}") from exc


def register_service_routes(blueprint: Blueprint, emulator: PlatformEmulator) -> None:
    def client_for(*scopes: str) -> str:
        return emulator.oauth.require_bearer(request.headers.get("Authorization"), scopes).client_id

    def token() -> Response:
        body = emulator.oauth.issue_token(request.form, request.mimetype)
        return _no_store(body)

    blueprint.add_url_rule(urlsplit(emulator.token_url).path, "token", token, methods=["POST"])

    @blueprint.route("/contexts/<context_id>/lineitems", methods=["GET", "POST"])
    def lineitems(context_id: str) -> Response:
        if request.method == "GET":
            client_id = client_for(c.SCOPE_LINEITEM, c.SCOPE_LINEITEM_READONLY)
            items, next_url = emulator.ags.list_lineitems(context_id, client_id, request.args)
            return json_response(items, c.MEDIA_LINEITEM_CONTAINER, next_url=next_url)
        client_id = client_for(c.SCOPE_LINEITEM)
        require_media_type(request.mimetype, c.MEDIA_LINEITEM, emulator.flavor)
        created = emulator.ags.create_lineitem(context_id, client_id, json_body())
        return json_response(created, c.MEDIA_LINEITEM, status=201)

    @blueprint.route("/contexts/<context_id>/lineitems/<lineitem_id>", methods=["GET", "PUT", "DELETE"])
    def lineitem(context_id: str, lineitem_id: str) -> Response:
        if request.method == "GET":
            client_id = client_for(c.SCOPE_LINEITEM, c.SCOPE_LINEITEM_READONLY)
            body = emulator.ags.get_lineitem(context_id, lineitem_id, client_id)
            return json_response(body, c.MEDIA_LINEITEM)
        client_id = client_for(c.SCOPE_LINEITEM)
        if request.method == "DELETE":
            emulator.ags.delete_lineitem(context_id, lineitem_id, client_id)
            return Response(status=204)
        require_media_type(request.mimetype, c.MEDIA_LINEITEM, emulator.flavor)
        updated = emulator.ags.update_lineitem(context_id, lineitem_id, client_id, json_body())
        return json_response(updated, c.MEDIA_LINEITEM)

    @blueprint.post("/contexts/<context_id>/lineitems/<lineitem_id>/scores")
    def scores(context_id: str, lineitem_id: str) -> Response:
        client_id = client_for(c.SCOPE_SCORE)
        require_media_type(request.mimetype, c.MEDIA_SCORE, emulator.flavor)
        answer = emulator.ags.post_score(context_id, lineitem_id, client_id, json_body())
        return Response(status=200) if answer is None else json_response(answer)

    @blueprint.get("/contexts/<context_id>/lineitems/<lineitem_id>/results")
    def results(context_id: str, lineitem_id: str) -> Response:
        client_id = client_for(c.SCOPE_RESULT_READONLY)
        items, next_url = emulator.ags.results(context_id, lineitem_id, client_id, request.args)
        return json_response(items, c.MEDIA_RESULT_CONTAINER, next_url=next_url)

    @blueprint.get("/contexts/<context_id>/memberships")
    def memberships(context_id: str) -> Response:
        client_for(c.SCOPE_NRPS)
        body, next_url = emulator.nrps.memberships(context_id, request.args)
        return json_response(body, c.MEDIA_MEMBERSHIP_CONTAINER, next_url=next_url)


def _no_store(body: dict[str, Any]) -> Response:
    response = json_response(body)
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    return response
