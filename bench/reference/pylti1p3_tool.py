"""The reference: a minimal LTI 1.3 launch with pylti1p3 2.0.0 in its best configuration, as its Flask example
wires it — FlaskOIDCLogin / FlaskMessageLaunch, a ToolConfDict, launch data and the platform's JWKS in a cache
shared by the gunicorn workers (cachelib's FileSystemCache), no cookie-check page. Run by bench/compare_launches.py:

    gunicorn -k gthread -w 2 --threads 4 --chdir bench/reference pylti1p3_tool:app

Configured by BENCH_LTI_* variables (issuer, client id, deployment, the platform's URLs, the cache folder).
"""

from __future__ import annotations

import os

from cachelib import FileSystemCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from pylti1p3.contrib.flask import FlaskCacheDataStorage
from pylti1p3.contrib.flask import FlaskMessageLaunch
from pylti1p3.contrib.flask import FlaskOIDCLogin
from pylti1p3.contrib.flask import FlaskRequest
from pylti1p3.tool_config import ToolConfDict

LANDING = '<!doctype html><title>Launched</title><main data-testid="learner-landing">Hello {name}</main>'

app = Flask(__name__)
app.config["SECRET_KEY"] = os.urandom(32)
ISSUER, CLIENT_ID = os.environ["BENCH_LTI_ISSUER"], os.environ["BENCH_LTI_CLIENT_ID"]
tool_conf = ToolConfDict({ISSUER: [{
    "default": True, "client_id": CLIENT_ID, "auth_login_url": os.environ["BENCH_LTI_AUTH_URL"],
    "auth_token_url": os.environ["BENCH_LTI_TOKEN_URL"], "key_set_url": os.environ["BENCH_LTI_JWKS_URL"],
    "key_set": None, "deployment_ids": [os.environ["BENCH_LTI_DEPLOYMENT_ID"]]}]})
_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
tool_conf.set_private_key(ISSUER, _key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()).decode(), client_id=CLIENT_ID)
cache = FileSystemCache(os.environ["BENCH_LTI_CACHE_DIR"], threshold=0)


def launch_data_storage() -> FlaskCacheDataStorage:
    return FlaskCacheDataStorage(cache)


@app.route("/lti/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    flask_request = FlaskRequest()
    oidc_login = FlaskOIDCLogin(flask_request, tool_conf, launch_data_storage=launch_data_storage())
    return oidc_login.redirect(flask_request.get_param("target_link_uri"))


@app.route("/lti/launch", methods=["POST"])
def launch():  # type: ignore[no-untyped-def]
    storage = launch_data_storage()
    message_launch = FlaskMessageLaunch(FlaskRequest(), tool_conf, launch_data_storage=storage)
    message_launch.set_public_key_caching(storage, cache_lifetime=7200)
    data = message_launch.get_launch_data()
    return LANDING.format(name=data.get("name", ""))


@app.route("/healthz")
def healthz() -> str:
    return "ok"
