"""Admin pages. Every route but the login page requires an admin (see :mod:`lti_tool.admin.auth`); routes parse the
form, call one service function and render, or redirect after a change (POST, redirect, GET)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flask import Blueprint
from flask import Response
from flask import abort
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from sqlalchemy import orm

from lti_tool.admin import audit
from lti_tool.admin import provider_accounts
from lti_tool.admin import queue
from lti_tool.admin import service
from lti_tool.admin import throttle
from lti_tool.admin.accounts import authenticate
from lti_tool.admin.auth import CSRF_FIELD
from lti_tool.admin.auth import LAUNCH_PARAMETER
from lti_tool.admin.auth import AdminIdentity
from lti_tool.admin.auth import csrf_token
from lti_tool.admin.auth import identify_admin
from lti_tool.admin.auth import log_in
from lti_tool.admin.auth import log_out
from lti_tool.admin.auth import require_csrf_token
from lti_tool.admin.service import BadInput
from lti_tool.admin.service import Forbidden
from lti_tool.admin.service import FormExpired
from lti_tool.admin.service import NotFound
from lti_tool.db import get_session
from lti_tool.lti import registration_approval
from lti_tool.models import SubmissionStatus
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.providers.interfaces import ShownProvider
from lti_tool.services import get_services
from lti_tool.telemetry.logs import loggable_path
from lti_tool.translatable import N_
from lti_tool.translatable import format_decimal
from lti_tool.translatable import gettext
from lti_tool.translatable import ngettext

log = logging.getLogger(__name__)
bp = Blueprint("admin", __name__, url_prefix="/admin")

PUBLIC_ENDPOINTS = frozenset({"admin.login"})
LOGIN_FAILED = N_("Unknown username or wrong password.")
# Changes that take something away from a school: asked again ("Are you sure?") before they happen.
NEEDS_CONFIRMATION = frozenset({"deployment-disable", "registration-deactivate", "registration-reject",
                                "assessment-deactivate", "privacy-delete"})
CONFIRM_FIELD = "confirmed"
# What a page says after a change; the redirect names the message, so no user input is reflected. Translated
# when shown.
NOTICES = {
    "deployment-approve": N_("Deployment approved: launches through it are accepted."),
    "deployment-disable": N_("Deployment disabled: launches through it are refused."),
    "registration-activate": N_("Registration activated."),
    "registration-approve": N_("Registration approved: launches through it are accepted."),
    "registration-reject": N_("Registration rejected: its launches stay refused."),
    "registration-deactivate": N_("Registration deactivated: its logins, launches and grade passback are refused."),
    "assessment-activate": N_("Assessment activated: teachers can choose it."),
    "assessment-deactivate": N_("Assessment deactivated: teachers can no longer choose it."),
    "submission-retry": N_("The submission will be sent in the worker's next round."),
    "assessment-sharing": N_("Saved: the provider now gets what this assessment's setting says about each learner."),
}
# The statuses of deployments and score submissions, as the pages name them (the values stay in data-status).
STATUS_LABELS = {
    "pending": N_("pending"), "active": N_("active"), "disabled": N_("disabled"), "sent": N_("sent"),
    "parked": N_("parked"), "superseded": N_("superseded"),
}
ASSESSMENT_ADDED = "assessment-added"


def provider_notices(providers: dict[str, AssessmentProvider]) -> dict[str, str]:
    """What a page says after a provider's change: adding an assessment, an account or an account's assessment
    (``<provider>-account``, ``<provider>-<noun>``), or one of its assessment actions (in the provider's words)."""
    notices: dict[str, str] = {}
    for provider in providers.values():
        form = provider.assessment_form
        notices[f"{provider.name}-{form.noun}" if form.per_account else ASSESSMENT_ADDED] = form.added_notice
        if provider.account_form is not None:
            notices[f"{provider.name}-account"] = provider.account_form.added_notice
        notices.update({action.event: action.notice for action in provider.assessment_actions})
    return notices


# --- access ------------------------------------------------------------------------------------------------------

@bp.record_once
def _login_cookie_settings(state: BlueprintSetupState) -> None:
    # The admin login is the only user of Flask's session cookie. It is never needed inside an LMS iframe (LMS
    # admins use the launch handle), so SameSite=Lax keeps other sites from sending it.
    config = state.app.config
    if config.get("SESSION_COOKIE_SAMESITE") is None:
        config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if state.app.extensions["lti_tool.services"].settings.is_https:
        config["SESSION_COOKIE_SECURE"] = True


@bp.before_request
def _require_admin() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    identity = identify_admin(get_session())
    if identity is None:
        return redirect(url_for("admin.login"), code=303)
    g.admin = identity
    if request.method == "POST" and not identity.by_launch:
        require_csrf_token()
    return None


@bp.errorhandler(FormExpired)
def _form_expired(error: FormExpired) -> ResponseReturnValue:
    # The page in the reader's language, looking like any other 400; the log line in English.
    log.warning("admin %s %s refused (400), missing or wrong CSRF token: %s", request.method, loggable_path(),
                error.reason)
    return render_template("error.html", status=400, title=gettext("Bad Request"), message=error.shown()), 400


@bp.after_request
def _private_page(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    admin: AdminIdentity | None = g.get("admin")
    if admin is None or not admin.by_launch:
        # Cookie-authenticated pages are never framed (clickjacking); LMS admins see the pages in the LMS frame.
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


@bp.context_processor
def _template_helpers() -> dict[str, Any]:
    # The providers' forms in the reader's language (their words are marked where each provider declares them).
    providers = {name: ShownProvider(provider) for name, provider in get_services().providers.items()}
    return {"admin": g.get("admin"), "admin_url": admin_url, "csrf_token": csrf_token, "csrf_field": CSRF_FIELD,
            "launch_parameter": LAUNCH_PARAMETER, "providers": providers,
            "account_providers": [provider for provider in providers.values() if provider.account_form is not None],
            "status_label": status_label, "format_decimal": format_decimal}


def status_label(status: str) -> str:
    """A deployment's or score submission's status in the reader's language (an unknown one as it is)."""
    label = STATUS_LABELS.get(status)
    return gettext(label) if label is not None else status


def admin_url(endpoint: str, **values: Any) -> str:
    """A URL inside the admin pages, carrying the LMS admin's launch handle along."""
    admin: AdminIdentity | None = g.get("admin")
    if admin is not None and admin.launch_id is not None:
        values[LAUNCH_PARAMETER] = admin.launch_id
    return url_for(endpoint, **values)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("admin/login.html")
    require_csrf_token()
    session = get_session()
    username = request.form.get("username", "").strip()
    # Checked before the password (hashing costs CPU) and answered alike for known and unknown usernames.
    locked = throttle.locked_for(session, username, request.remote_addr)
    if locked is not None:
        log.warning("admin login throttled for username %r from %s", username[:100], request.remote_addr)
        message = ngettext("Too many attempts; try again in %(num)d minute.",
                           "Too many attempts; try again in %(num)d minutes.", throttle.minutes(locked))
        return render_template("admin/login.html", error=message, username=username), 429
    admin = authenticate(session, username, request.form.get("password", ""))
    if admin is None:
        throttle.record_failure(session, username, request.remote_addr)
        session.commit()
        log.warning("admin login refused for username %r from %s", username[:100], request.remote_addr)
        return render_template("admin/login.html", error=gettext(LOGIN_FAILED), username=username), 401
    throttle.record_success(session, username)
    session.commit()
    log_in(admin)
    log.info("admin %r logged in from %s", admin.username, request.remote_addr)
    return redirect(url_for("admin.overview"), code=303)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    log_out()
    return redirect(url_for("admin.login"), code=303)


# --- pages -------------------------------------------------------------------------------------------------------

@bp.get("/")
@bp.get("")  # registered first, so url_for gives /admin
def overview() -> ResponseReturnValue:
    return render_template("admin/overview.html", overview=service.overview(get_session(), g.admin.scope))


@bp.get("/deployments")
def deployments() -> ResponseReturnValue:
    return _deployments_page()


@bp.post("/deployments/<int:deployment_pk>/<action>")
def change_deployment(deployment_pk: int, action: str) -> ResponseReturnValue:
    return _perform(lambda session: service.change_deployment(session, g.admin.scope, deployment_pk, action),
                    f"deployment-{action}", f"deployment {deployment_pk}: {action}", "admin.deployments",
                    _deployments_page, what=lambda deployment: gettext(
                        "Deployment %(deployment)s of %(platform)s (%(issuer)s).",
                        deployment=deployment.deployment_id, platform=deployment.registration.name,
                        issuer=deployment.registration.issuer))


@bp.get("/registrations")
def registrations() -> ResponseReturnValue:
    return _registrations_page()


@bp.post("/registrations/invitations")
def create_invitation() -> ResponseReturnValue:
    """A single-use registration URL for an LMS admin, shown once (only its hash is stored). Tool admins only: an
    invitation admits a new school to the installation."""
    if not g.admin.scope.is_installation:
        return _registrations_page(gettext("Only the tool's administrators can invite a platform."), 403)
    days = request.form.get("expires_days", "7").strip()
    if not days.isdigit() or not 1 <= int(days) <= 90:
        return _registrations_page(gettext("An invitation lasts %(minimum)d to %(maximum)d days.", minimum=1,
                                           maximum=90), 400)
    note = request.form.get("note", "").strip()[:200] or None
    session = get_session()
    new = registration_approval.create_invitation(session, dt.timedelta(days=int(days)), created_by=_actor().name,
                                                  note=note)
    audit.record(session, _actor(), "registration-invite", "invitation", new.invitation.id, None,
                 remote_addr=request.remote_addr, detail=note)
    session.commit()
    return _registrations_page(invitation_url=new.url(get_services().settings.base_url))


@bp.post("/registrations/<int:registration_pk>/<action>")
def change_registration(registration_pk: int, action: str) -> ResponseReturnValue:
    return _perform(lambda session: service.change_registration(session, g.admin.scope, registration_pk, action),
                    f"registration-{action}", f"registration {registration_pk}: {action}", "admin.registrations",
                    _registrations_page, what=lambda registration: gettext(
                        "Registration %(number)d: %(platform)s (%(issuer)s).", number=registration.id,
                        platform=registration.name, issuer=registration.issuer))


@bp.get("/assessments")
def assessments() -> ResponseReturnValue:
    return _assessments_page()


@bp.post("/assessments")
def add_assessment() -> ResponseReturnValue:
    form = request.form
    provider = _assessment_provider(form.get("provider", ""))
    if provider is None:
        log.info("admin %s refused (400): no provider %r", request.path, form.get("provider", "")[:40])
        return _assessments_page(gettext("Choose the provider of the test."), 400,
                                 entered_title=form.get("title", ""))
    return _perform(lambda session: service.add_assessment(session, g.admin.scope, provider, form.get("title", ""),
                                                           form),
                    ASSESSMENT_ADDED, f"assessment added: {form.get('title', '')[:200]!r}", "admin.assessments",
                    lambda error, status: _assessments_page(error, status, entered_title=form.get("title", "")))


@bp.post("/assessments/<int:assessment_pk>/<action>")
def change_assessment(assessment_pk: int, action: str) -> ResponseReturnValue:
    offered = {offered.name: offered for provider in get_services().providers.values()
               for offered in provider.assessment_actions}
    if action in offered:
        # The description is logged: it names the assessment, never the fields (they may hold a key).
        return _perform(lambda session: service.change_by_provider(session, g.admin.scope, get_services().providers,
                                                                   assessment_pk, action, request.form),
                        offered[action].event, f"assessment {assessment_pk}: {offered[action].description}",
                        "admin.assessments", _assessments_page)
    return _perform(lambda session: service.change_assessment(session, g.admin.scope, assessment_pk, action),
                    f"assessment-{action}", f"assessment {assessment_pk}: {action}", "admin.assessments",
                    _assessments_page, what=lambda assessment: gettext(
                        "Assessment %(number)d: %(title)s.", number=assessment.id, title=assessment.title))


@bp.get("/<provider_name>")
def accounts_page(provider_name: str) -> ResponseReturnValue:
    return _accounts_page(_account_provider(provider_name))


@bp.post("/<provider_name>")
def add_account(provider_name: str) -> ResponseReturnValue:
    provider = _account_provider(provider_name)
    # The description names the account, never its secrets.
    return _perform(lambda session: provider_accounts.add_account(session, g.admin.scope, provider, request.form),
                    f"{provider.name}-account", f"{provider.label} account added: "
                                                f"{request.form.get('name', '')[:200]!r}",
                    "admin.accounts_page", lambda error, status: _accounts_page(provider, error, status),
                    endpoint_values={"provider_name": provider.name})


@bp.post("/<provider_name>/<int:account_pk>/<noun>s")
def add_account_assessment(provider_name: str, account_pk: int, noun: str) -> ResponseReturnValue:
    provider = _account_provider(provider_name)
    if noun != provider.assessment_form.noun or not provider.assessment_form.per_account:
        abort(404)
    form = request.form
    # The description names what was added by its visible fields (never a secret one).
    shown = " ".join(repr(form.get(field.name, "")[:60]) for field in provider.assessment_form.fields
                     if field.kind != "secret")
    return _perform(lambda session: provider_accounts.add_account_assessment(
                        session, g.admin.scope, provider, account_pk, form.get("title", ""), form),
                    f"{provider.name}-{noun}", f"{provider.label} {noun} {shown} added to account {account_pk}",
                    "admin.accounts_page", lambda error, status: _accounts_page(provider, error, status),
                    endpoint_values={"provider_name": provider.name})


def _provider(name: str) -> AssessmentProvider:
    provider = get_services().providers.get(name)
    if provider is None:
        log.info("admin %s refused (404): no provider %r", request.path, name[:40])
        abort(404)
    return provider


def _assessment_provider(name: str) -> AssessmentProvider | None:
    """The provider a form names; a form without the field (posted by a script written before there was a choice)
    means the one provider whose assessments are added on this page, if there is one."""
    providers = get_services().providers
    if name:
        return providers.get(name)
    on_this_page = [provider for provider in providers.values() if not provider.assessment_form.per_account]
    return on_this_page[0] if len(on_this_page) == 1 else None


def _account_provider(name: str) -> AssessmentProvider:
    provider = _provider(name)
    if provider.account_form is None:
        abort(404)
    return provider


def _accounts_page(provider: AssessmentProvider, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    rows = provider_accounts.list_accounts(get_session(), g.admin.scope, provider)
    return render_template("admin/accounts.html", provider=ShownProvider(provider),
                           accounts=[row.shown() for row in rows], shown_noun=gettext(provider.assessment_form.noun),
                           error=error, notice=_notice()), status


@bp.get("/queue")
def queue_page() -> ResponseReturnValue:
    return _queue_page()


@bp.post("/queue/<int:submission_pk>/retry")
def retry_submission(submission_pk: int) -> ResponseReturnValue:
    # An in-process worker is woken to send it now rather than at its next poll.
    return _perform(lambda session: queue.retry_now(session, g.admin.scope, submission_pk), "submission-retry",
                    f"score submission {submission_pk}: retry now", "admin.queue_page", _queue_page,
                    after_commit=get_services().wake_passback)


@bp.get("/activity")
def activity() -> ResponseReturnValue:
    return render_template("admin/activity.html", rows=audit.list_activity(get_session(), g.admin.scope))


# --- helpers -----------------------------------------------------------------------------------------------------

PageRenderer = Callable[[str | None, int], ResponseReturnValue]


def _perform(change: Callable[[orm.Session], Any], notice: str, description: str | Callable[[Any], str],
             endpoint: str, render_page: PageRenderer, after_commit: Callable[[], None] | None = None,
             endpoint_values: dict[str, Any] | None = None, question: str | None = None,
             respond: Callable[[Any], ResponseReturnValue] | None = None,
             what: Callable[[Any], str] | None = None) -> ResponseReturnValue:
    """Apply one change, record it in the audit log in the same transaction, and redirect to the page with a
    notice. A row outside the admin's scope answers 404, a forbidden change 403, bad input 400: nothing changes.
    A destructive change not yet confirmed is tried, rolled back, and answered with the confirmation page (so a
    row out of scope gets its 404 before any question is asked).

    ``description`` (English: the audit log's words) may be made from what the change returned (what an erasure
    removed); ``question`` (translated) replaces the confirmation's "Are you sure?" sentence; ``respond`` answers
    instead of the redirect. ``what`` (translated) is what the confirmation page says will happen, the description
    when not given."""
    session = get_session()
    try:
        changed = change(session)
    except NotFound as exc:
        session.rollback()
        log.info("admin %s refused (404): %s", request.path, exc)
        abort(404)
    except Forbidden as exc:
        session.rollback()
        log.info("admin %s refused (403): %s", request.path, exc)
        return render_page(exc.shown(), 403)
    except BadInput as exc:
        session.rollback()
        log.info("admin %s refused (400): %s", request.path, exc)
        return render_page(exc.shown(), 400)
    if callable(description):
        description = description(changed)
    if notice in NEEDS_CONFIRMATION and request.form.get(CONFIRM_FIELD) != "yes":
        shown = what(changed) if what is not None else description
        session.rollback()
        return render_template("admin/confirm.html",
                               question=question or gettext("Are you sure? %(consequence)s",
                                                            consequence=gettext(NOTICES[notice])),
                               what=shown, cancel_url=admin_url(endpoint, **(endpoint_values or {})))
    target_type, target_id, registration_pk = audit.target_of(session, changed)
    audit.record(session, _actor(), notice, target_type, target_id, registration_pk,
                 remote_addr=request.remote_addr, detail=description)
    session.commit()
    get_services().configuration_changed()  # this process's caches must not outlive the change
    log.info("%s: %s", g.admin.name, description)
    if after_commit is not None:
        after_commit()
    if respond is not None:
        return respond(changed)
    return redirect(admin_url(endpoint, done=notice, **(endpoint_values or {})), code=303)


def _actor() -> audit.Actor:
    admin: AdminIdentity = g.admin
    if admin.by_launch:
        return audit.Actor(kind="lms_admin", name=admin.actor, issuer=admin.issuer,
                           registration_pk=admin.registration_pk)
    return audit.Actor(kind="tool_admin", name=admin.actor)


def _notice() -> str | None:
    done = request.args.get("done", "")
    if done in NOTICES:
        return gettext(NOTICES[done])
    notice = provider_notices(get_services().providers).get(done)
    return gettext(notice) if notice else None


def _deployments_page(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    rows = service.list_deployments(get_session(), g.admin.scope)
    return render_template("admin/deployments.html", deployments=rows, error=error, notice=_notice()), status


def _registrations_page(error: str | None = None, status: int = 200,
                        invitation_url: str | None = None) -> ResponseReturnValue:
    rows = service.list_registrations(get_session(), g.admin.scope)
    return render_template("admin/registrations.html", registrations=rows, error=error, notice=_notice(),
                           invitation_url=invitation_url), status


def _assessments_page(error: str | None = None, status: int = 200, entered_title: str = "") -> ResponseReturnValue:
    rows = service.list_assessments(get_session(), g.admin.scope, get_services().providers)
    rows = [replace(row, actions=tuple(action.shown() for action in row.actions)) for row in rows]
    return render_template("admin/assessments.html", assessments=rows, error=error, notice=_notice(),
                           entered_title=entered_title), status


def _queue_page(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    raw_filter = request.args.get("status", "")
    try:
        status_filter = queue.parse_status_filter(raw_filter)
    except BadInput as exc:
        error, status, status_filter = exc.shown(), 400, None
    rows = queue.list_queue(get_session(), g.admin.scope, status_filter)
    return render_template("admin/queue.html", rows=rows, status_filter=status_filter or "",
                           statuses=list(SubmissionStatus), error=error, notice=_notice()), status
