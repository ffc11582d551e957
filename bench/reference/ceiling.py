"""The ceiling: what the web stack does at the least for a login/launch pair and a callback, so the tool's figures
can be read as a share of it. Same Flask, same gunicorn; no LTI library, no validation beyond the minimum.

- ``GET /lti/login``: a 302 to the platform with state and nonce, and a state cookie;
- ``POST /lti/launch``: the state cookie checked, the id_token's RS256 signature verified with the platform's key
  (fetched once per process, then cached), a landing page;
- ``POST /callbacks/<anything>``: a JSON body parsed and written as one row (one INSERT, one commit).

    gunicorn -k gthread -w 2 --threads 4 --chdir bench/reference ceiling:app
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
import sqlalchemy as sa
from flask import Flask
from flask import abort
from flask import redirect
from flask import request

LANDING = '<!doctype html><title>Launched</title><main data-testid="learner-landing">Hello {name}</main>'
STATE_COOKIE_PREFIX = "ceiling-"

app = Flask(__name__)
_keys: dict[str, Any] = {}
_keys_lock = threading.Lock()
_engine = sa.create_engine(os.environ["BENCH_CEILING_DATABASE_URL"]) if os.environ.get(
    "BENCH_CEILING_DATABASE_URL") else None
_rows = sa.table("ceiling_callback", sa.column("path", sa.String), sa.column("body", sa.Text))


def platform_key(kid: str) -> Any:
    with _keys_lock:
        if kid not in _keys:
            for jwk in requests.get(os.environ["BENCH_LTI_JWKS_URL"], timeout=10).json()["keys"]:
                _keys[jwk["kid"]] = jwt.PyJWK(jwk).key
        return _keys[kid]


@app.get("/lti/login")
def login():  # type: ignore[no-untyped-def]
    state = secrets.token_urlsafe(16)
    query = urlencode({"scope": "openid", "response_type": "id_token", "response_mode": "form_post",
                       "prompt": "none", "client_id": request.args["client_id"],
                       "redirect_uri": request.args["target_link_uri"], "login_hint": request.args["login_hint"],
                       "lti_message_hint": request.args.get("lti_message_hint", ""), "state": state, "nonce": state})
    response = redirect(f"{os.environ['BENCH_LTI_AUTH_URL']}?{query}")
    response.set_cookie(STATE_COOKIE_PREFIX + state, state, httponly=True, samesite="Lax", max_age=600)
    return response


@app.post("/lti/launch")
def launch():  # type: ignore[no-untyped-def]
    state = request.form.get("state", "")
    if not state or request.cookies.get(STATE_COOKIE_PREFIX + state) != state:
        abort(400)
    token = request.form["id_token"]
    claims = jwt.decode(token, platform_key(jwt.get_unverified_header(token)["kid"]), algorithms=["RS256"],
                        audience=os.environ["BENCH_LTI_CLIENT_ID"], issuer=os.environ["BENCH_LTI_ISSUER"])
    if claims.get("nonce") != state:
        abort(400)
    return LANDING.format(name=claims.get("name", ""))


@app.post("/callbacks/<path:rest>")
def callback(rest: str):  # type: ignore[no-untyped-def]
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or _engine is None:
        abort(400)
    with _engine.begin() as connection:
        connection.execute(sa.insert(_rows).values(path=rest, body=json.dumps(body)))
    return {"status": "accepted"}


@app.route("/healthz")
def healthz() -> str:
    return "ok"
