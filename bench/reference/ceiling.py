"""The ceiling: what the web stack does at the least for a login/launch pair and a callback, so the tool's figures
can be read as a share of it. Same Flask, same gunicorn; no LTI library, no validation beyond the minimum.

- ``GET /lti/login``: a 302 to the platform with state and nonce, and a state cookie;
- ``POST /lti/launch``: the state cookie checked, the id_token's RS256 signature verified with the platform's key
  (fetched once per process, then cached), a landing page;
- ``POST /callbacks/<anything>``: a JSON body parsed and written as one row (one INSERT, one commit).

With ``BENCH_CEILING_LAUNCH_ROWS_URL`` (a database the tool initialised, with the emulator registered) the launch
also stores what the tool stores, as cheaply as it can be done: the tool's own single PostgreSQL statement (user,
course, link, membership and the launch, from the tool's own row builders), run with plain psycopg on one
connection per thread, and a commit. That is the ceiling of any tool that keeps the same rows (``ceiling_rows``
in compare_launches.py).

With ``BENCH_CEILING_CALLBACK_ROWS_URL`` (a copy of the tool's callback database) a callback stores what the tool
stores instead of one row: the tool's own single PostgreSQL statement (the result inserted from the attempt's key,
the attempt marked submitted, older queued scores superseded, the score queued), from the URL's ids and the body's
scores, without checking a signature or a key; plain psycopg, one connection per thread, a commit
(``ceiling_rows`` in compare_callbacks.py).

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
    if _launch_rows_url:
        _store_launch(claims, state)
    return LANDING.format(name=claims.get("name", ""))


_launch_rows_url = os.environ.get("BENCH_CEILING_LAUNCH_ROWS_URL", "")
_connections = threading.local()
_deployment: dict[str, int] = {}
_dialect: list[sa.Dialect] = []  # one instance: the tool's compiled statements are cached per dialect


def _store_launch(claims: dict[str, Any], login_id: str) -> None:
    import datetime as dt

    from sqlalchemy.dialects import postgresql

    from lti_tool.launch.recording import context_row
    from lti_tool.launch.recording import resource_link_row
    from lti_tool.launch.recording import user_row
    from lti_tool.launch.rows import LaunchRows
    from lti_tool.launch.rows import one_statement

    connection = _rows_connection(_launch_rows_url)
    with _keys_lock:
        if not _deployment:
            registration_id, deployment_pk = connection.execute(
                "SELECT d.registration_id, d.id FROM lti_deployment d WHERE d.deployment_id = %s",
                (claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"],)).fetchone()  # type: ignore[misc]
            connection.commit()
            _deployment.update(registration_id=registration_id, deployment_pk=deployment_pk)
            _dialect.append(postgresql.psycopg.dialect())
    registration_id, deployment_pk = _deployment["registration_id"], _deployment["deployment_pk"]
    now = dt.datetime.now(dt.UTC)
    roles = claims.get("https://purl.imsglobal.org/spec/lti/claim/roles", [])
    rows = LaunchRows(
        user=user_row(registration_id, claims, now), context=context_row(deployment_pk, claims, now),
        resource_link=resource_link_row(claims, now), membership={"roles": roles, "datetime_updated": now},
        launch={"id": secrets.token_urlsafe(32), "registration_id": registration_id, "deployment_id": deployment_pk,
                "message_type": "LtiResourceLinkRequest", "roles": roles, "claims": claims,
                "expires_at": now + dt.timedelta(hours=1), "login_id": login_id})
    statement, params = one_statement(_dialect[0], rows)
    written = connection.execute(statement.compiled.string, statement.driver_params(params)).fetchone()
    connection.commit()
    if written is None or written[-1] is None:
        abort(409)


@app.post("/callbacks/<path:rest>")
def callback(rest: str):  # type: ignore[no-untyped-def]
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400)
    if _callback_rows_url:
        return {"status": "accepted" if _store_result(body) else "duplicate"}
    if _engine is None:
        abort(400)
    with _engine.begin() as connection:
        connection.execute(sa.insert(_rows).values(path=rest, body=json.dumps(body)))
    return {"status": "accepted"}


_callback_rows_url = os.environ.get("BENCH_CEILING_CALLBACK_ROWS_URL", "")


def _rows_connection(url: str) -> Any:
    """This thread's psycopg connection to ``url`` (a SQLAlchemy URL)."""
    import psycopg

    connection = getattr(_connections, "connection", None)
    if connection is None:
        driver_url = sa.engine.make_url(url).set(drivername="postgresql")
        connection = _connections.connection = psycopg.connect(driver_url.render_as_string(hide_password=False))
    return connection


def _store_result(body: dict[str, Any]) -> bool:
    """The tool's write of a first complete result; False if the attempt has this result already."""
    import datetime as dt

    from sqlalchemy.dialects import postgresql

    from lti_tool.grading.results import ResultWrite
    from lti_tool.grading.results import pg_statement

    connection = _rows_connection(_callback_rows_url)
    with _keys_lock:
        if not _dialect:
            _dialect.append(postgresql.psycopg.dialect())
    ids = {name: int(request.args[name]) for name in ("course", "quiz", "user", "activity")}
    scores = {name: float(value) for name, value in body["score"].items()}
    now = dt.datetime.now(dt.UTC)
    report_url = str(body["reportUrl"])
    result = {"external_id": report_url, "status": "complete", "scores": scores, "scale_maximum": 100.0,
              "report_url": report_url, "payload": body, "public_id": secrets.token_urlsafe(16),
              "datetime_received": now}
    submission = {"score_given": scores["overall"], "score_maximum": 100.0, "activity_progress": "Completed",
                  "grading_progress": "FullyGraded", "comment": f"Speechace: {scores['overall']}",
                  "status": "pending", "tries": 0, "next_attempt_at": now, "datetime_created": now}
    write = ResultWrite(result=result, attempt_status="submitted", attempt_detail=None, submission=submission,
                        invalidate_others=False, now=now, finish="finished")
    statement, params = pg_statement(_dialect[0], {"context_id": ids["course"], "resource_link_id": ids["quiz"],
                                                   "user_id": ids["user"]}, ids["activity"], write)
    written = connection.execute(statement.compiled.string, statement.driver_params(params)).fetchone()
    connection.commit()
    return written is not None


@app.route("/healthz")
def healthz() -> str:
    return "ok"
