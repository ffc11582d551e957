"""The LTI surface's blueprint, shared by its view modules (login/launch, learner pages, the picker)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("lti", __name__, url_prefix="/lti")

LAUNCH_PATH = "/lti/launch"
LOGIN_PATH = "/lti/login"
