"""Admin routes for privacy: what each assessment gives its provider, and one person's data exported or erased.

They are added to the admin blueprint (:mod:`lti_tool.admin.views`: its login check, CSRF check, framing rules
and helpers apply) when the app factory imports this module.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response
from flask import abort
from flask import g
from flask import render_template
from flask import request
from flask.typing import ResponseReturnValue

from lti_tool.admin import audit
from lti_tool.admin import privacy
from lti_tool.admin.service import BadInput
from lti_tool.admin.service import NotFound
from lti_tool.admin.views import _actor
from lti_tool.admin.views import _assessments_page
from lti_tool.admin.views import _perform
from lti_tool.admin.views import bp
from lti_tool.db import get_session
from lti_tool.models import Assessment
from lti_tool.privacy.sharing import IdentitySharing
from lti_tool.privacy.subject import describe_counts
from lti_tool.services import get_services
from lti_tool.translatable import gettext

log = logging.getLogger(__name__)

DELETE = "privacy-delete"


@bp.context_processor
def _sharing_helpers() -> dict[str, Any]:
    """For the assessments page: what each assessment gives its provider, and the choices."""
    default = get_services().settings.share_learner_identity

    def identity_sharing(assessment_pk: int) -> privacy.SharingRow | None:
        assessment = get_session().get(Assessment, assessment_pk)
        return privacy.sharing_of(assessment, default) if assessment is not None else None

    return {"identity_sharing": identity_sharing, "sharing_choices": list(IdentitySharing),
            "sharing_default": default}


@bp.post("/assessments/<int:assessment_pk>/sharing")
def set_identity_sharing(assessment_pk: int) -> ResponseReturnValue:
    choice, reason = request.form.get("share_learner_identity", ""), request.form.get("reason", "")
    # The description (audit log, server log) holds the admin's reason, which names no learner.
    what = choice.strip() or "the installation's default"
    return _perform(lambda session: privacy.set_sharing(session, g.admin.scope, assessment_pk, choice, reason),
                    "assessment-sharing", f"assessment {assessment_pk}: learners' identity to the provider: "
                                          f"{what[:40]}{f' ({reason.strip()[:300]})' if reason.strip() else ''}",
                    "admin.assessments", _assessments_page)


@bp.get("/privacy")
def privacy_page() -> ResponseReturnValue:
    return _privacy_page()


@bp.post("/privacy/export")
def privacy_export() -> ResponseReturnValue:
    """Every row naming the user, as a JSON download; the audit log records that an export was made (of which
    school, never of whom: an erasure must leave no row naming the person)."""
    session = get_session()
    platform, sub = request.form.get("platform", ""), request.form.get("sub", "")
    try:
        registration, document = privacy.export_user(session, g.admin.scope, platform, sub)
    except NotFound as exc:
        log.info("admin %s refused (404): %s", request.path, exc)
        abort(404)
    except BadInput as exc:
        return _privacy_page(exc.shown(), 400)
    registration_pk = registration.id
    audit.record(session, _actor(), "privacy-export", "registration", registration_pk, registration_pk,
                 remote_addr=request.remote_addr, detail="personal data of one user exported")
    session.commit()
    log.info("%s exported one user's data of registration %s", g.admin.name, registration_pk)
    response = Response(json.dumps(document, indent=2, ensure_ascii=False), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="privacy-export-{registration_pk}.json"'
    return response


@bp.post("/privacy/delete")
def privacy_delete() -> ResponseReturnValue:
    """Erase every row naming the user in that registration, after the confirmation every destructive change
    asks for; a user out of scope gets its 404 before any question. The audit log names the school and what
    was removed, never the person."""
    platform, sub = request.form.get("platform", ""), request.form.get("sub", "")

    def described(erasure: privacy.Erasure) -> str:  # the audit log's words: never whose data
        return f"personal data of one user deleted: {describe_counts(erasure.counts)}"

    def to_be_deleted(erasure: privacy.Erasure) -> str:  # the question names whose data, the log never does
        return gettext("Delete the data of user %(user)s of %(registration)s: %(rows)s.", user=repr(sub.strip()[:100]),
                       registration=erasure.registration.name, rows=describe_counts(erasure.counts))

    return _perform(lambda session: privacy.delete_user(session, g.admin.scope, platform, sub), DELETE, described,
                    "admin.privacy_page", lambda error, status: _privacy_page(error, status),
                    question=gettext("Are you sure? Every row that names this user in this registration is deleted "
                                     "for good: their launches, attempts, results and scores not yet sent (the LMS "
                                     "gradebook keeps its grades)."),
                    respond=lambda erasure: _privacy_page(deleted=erasure.counts), what=to_be_deleted)


def _privacy_page(error: str | None = None, status: int = 200,
                  deleted: dict[str, int] | None = None) -> ResponseReturnValue:
    settings = get_services().settings
    return render_template("admin/privacy.html", registrations=privacy.registrations_in_scope(
        get_session(), g.admin.scope), error=error, deleted=deleted, sharing_default=settings.share_learner_identity,
        retention_days=settings.retention_days, entered_sub=request.form.get("sub", "") if error else ""), status
