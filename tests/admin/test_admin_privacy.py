"""Privacy on the admin pages: one person's data exported or deleted, and what each assessment gives its provider,
each within the admin's scope. Three schools on one installation (tests/admin/test_tenant_matrix.py): an LMS admin
reaches only their own school's users; another school's user answers 404, exactly as a user that does not exist."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from lti_tool.models import AdminAuditEntry
from lti_tool.models import Assessment
from lti_tool.models import LtiRegistration
from lti_tool.privacy.sharing import REASON_KEY
from lti_tool.privacy.sharing import SETTING_KEY
from tests.admin.conftest import submit
from tests.admin.conftest import text
from tests.admin.test_tenant_matrix import actor_for  # noqa: F401  (fixtures)
from tests.admin.test_tenant_matrix import installation  # noqa: F401
from tests.privacy.support import every_row
from tests.privacy.support import rows_naming


def learner(name: str) -> str:
    """The LMS user id of the learner each school's course has (sandbox add_default_course)."""
    return f"{name}-course-learner"


def registration_uuid(database, registration_pk: int) -> str:
    with database.session() as session:
        return session.get(LtiRegistration, registration_pk).uuid


def audit_entries(database, action: str) -> list[AdminAuditEntry]:
    with database.session() as session:
        return list(session.scalars(sa.select(AdminAuditEntry).where(AdminAuditEntry.action == action)))


def test_an_lms_admin_exports_a_learner_of_their_school(installation, actor_for, database):  # noqa: F811
    a = installation.schools["school-a"]
    response = actor_for("school-a").post("/admin/privacy/export", platform="", sub=learner("school-a"))
    assert response.status_code == 200, text(response)[:300]
    assert response.headers["Content-Disposition"].startswith("attachment")
    document = json.loads(text(response))
    assert document["sub"] == learner("school-a") and document["registration"]["uuid"] is not None
    assert [row["sub"] for row in document["tables"]["lti_user"]] == [learner("school-a")]
    assert len(document["tables"]["attempt"]) == 1 and len(document["tables"]["score_submission"]) == 1
    (entry,) = audit_entries(database, "privacy-export")
    assert (entry.actor_kind, entry.registration_id) == ("lms_admin", a.registration_pk)
    assert learner("school-a") not in f"{entry.detail} {entry.target_id}"


@pytest.mark.parametrize("action", ["export", "delete"])
def test_an_lms_admin_cannot_reach_another_schools_user(installation, actor_for, database, action):  # noqa: F811
    a, b = installation.schools["school-a"], installation.schools["school-b"]
    b_uuid = registration_uuid(database, b.registration_pk)
    actor = actor_for("school-a")
    before = every_row(database)
    missing = actor.post(f"/admin/privacy/{action}", platform="", sub="nobody-at-all")
    attempts = [("", learner("school-b")), (b_uuid, learner("school-b")), (str(b.registration_pk), learner("school-b")),
                (b_uuid, learner("school-a")), (str(a.registration_pk), learner("school-b"))]
    for platform, sub in attempts:
        response = actor.post(f"/admin/privacy/{action}", platform=platform, sub=sub)
        assert response.status_code == 404, (platform, sub, response.status_code)
        assert text(response) == text(missing) and "school-b" not in text(response)
    assert missing.status_code == 404
    assert every_row(database) == before  # nothing deleted, nothing audited


def test_a_tool_admin_deletes_any_schools_user_after_confirming(installation, actor_for, database):  # noqa: F811
    b = installation.schools["school-b"]
    b_uuid = registration_uuid(database, b.registration_pk)
    tool = actor_for("tool")
    before, named = every_row(database), rows_naming(database, [learner("school-b")])
    assert {table for table, _ in named} >= {"lti_user", "lti_membership", "lti_launch", "attempt",
                                             "score_submission"}
    fields = {"platform": b_uuid, "sub": learner("school-b"), "csrf_token": tool.csrf}
    question = tool.client.post("/admin/privacy/delete", data=fields)
    assert question.status_code == 200 and 'data-testid="confirm"' in text(question)
    assert "lti_user 1" in text(question) and every_row(database) == before  # asked, nothing done yet
    done = tool.client.post("/admin/privacy/delete", data={**fields, "confirmed": "yes"})
    assert done.status_code == 200 and 'data-testid="privacy-deleted"' in text(done)
    assert rows_naming(database, [learner("school-b")]) == {}
    after = every_row(database)
    assert {key: row for key, row in before.items() if key not in named} == \
        {key: row for key, row in after.items() if key in before}  # the other schools, everyone else: untouched
    (entry,) = audit_entries(database, "privacy-delete")
    assert (entry.actor_kind, entry.registration_id, entry.target_type) == ("tool_admin", b.registration_pk,
                                                                             "registration")
    assert learner("school-b") not in (entry.detail or "") and "lti_user 1" in (entry.detail or "")


def test_an_lms_admin_deletes_their_own_learner_and_sees_it_in_the_activity_log(installation, actor_for,  # noqa: F811
                                                                                database):
    a = installation.schools["school-a"]
    admin_a = actor_for("school-a")
    response = admin_a.post("/admin/privacy/delete", platform="", sub=learner("school-a"))
    assert response.status_code == 200 and 'data-testid="privacy-deleted"' in text(response)
    assert rows_naming(database, [learner("school-a")]) == {}
    assert rows_naming(database, [learner("school-b")]) != {}
    assert 'data-action="privacy-delete"' in text(admin_a.get("/admin/activity"))
    assert 'data-action="privacy-delete"' not in text(actor_for("school-b").get("/admin/activity"))
    (entry,) = audit_entries(database, "privacy-delete")
    assert entry.registration_id == a.registration_pk


def test_the_privacy_page_lists_only_the_registrations_in_scope(installation, actor_for):  # noqa: F811
    tool_page = text(actor_for("tool").get("/admin/privacy"))
    a_page = text(actor_for("school-a").get("/admin/privacy"))
    assert all(f"{name} LMS" in tool_page for name in installation.schools)
    assert "school-a LMS" in a_page and "school-b LMS" not in a_page and "stranger LMS" not in a_page
    assert 'data-testid="sharing-default">id-only<' in a_page and "kept until deleted" in a_page


def test_the_page_form_exports_as_a_browser_submits_it(installation, actor_for):  # noqa: F811
    for name, sub in (("tool", learner("school-a")), ("school-b", learner("school-b"))):
        actor = actor_for(name)
        page = text(actor.get("/admin/privacy"))
        response = submit(actor.client, page, "/admin/privacy/export", sub=sub)
        assert response.status_code == 200, text(response)[:300]
        assert json.loads(text(response))["sub"] == sub
        assert 'formaction="/admin/privacy/delete' in page


def test_bad_input_is_a_400_with_a_message(installation, actor_for):  # noqa: F811
    tool = actor_for("tool")
    no_user = tool.post("/admin/privacy/export", platform="", sub="  ")
    no_registration = tool.post("/admin/privacy/export", platform="", sub="someone")
    assert no_user.status_code == no_registration.status_code == 400
    assert "LMS user id" in text(no_user) and "Choose the registration" in text(no_registration)


def sharing_of(database, assessment_pk: int) -> tuple[str | None, str | None]:
    with database.session() as session:
        settings = session.get(Assessment, assessment_pk).settings
        return settings.get(SETTING_KEY), settings.get(REASON_KEY)


def test_names_and_email_are_turned_on_with_a_reason_shown_on_the_page(installation, actor_for, database):  # noqa: F811
    tool, shared = actor_for("tool"), installation.shared_assessment_pk
    refused = tool.post(f"/admin/assessments/{shared}/sharing", share_learner_identity="name-and-email", reason="")
    assert refused.status_code == 400 and "Say why" in text(refused)
    assert sharing_of(database, shared) == (None, None)
    reason = "Teachers match Speechace reports to students by name"
    done = tool.post(f"/admin/assessments/{shared}/sharing", share_learner_identity="name-and-email", reason=reason)
    assert done.status_code == 303
    assert sharing_of(database, shared) == ("name-and-email", reason)
    page = text(tool.get("/admin/assessments"))
    assert f'data-testid="sharing-reason-{shared}">{reason}<' in page
    assert f'data-testid="sharing-{shared}">name-and-email<' in page
    (entry,) = audit_entries(database, "assessment-sharing")
    assert reason in (entry.detail or "")
    assert tool.post(f"/admin/assessments/{shared}/sharing", share_learner_identity="").status_code == 303
    assert sharing_of(database, shared) == (None, None)


def test_an_lms_admin_sets_sharing_of_their_own_products_only(installation, actor_for, database):  # noqa: F811
    a, b = installation.schools["school-a"], installation.schools["school-b"]
    admin_a = actor_for("school-a")
    fields = {"share_learner_identity": "name-and-email", "reason": "STX e-mails the test ID"}
    assert admin_a.post(f"/admin/assessments/{a.product_pk}/sharing", **fields).status_code == 303
    assert admin_a.post(f"/admin/assessments/{b.product_pk}/sharing", **fields).status_code == 404
    assert admin_a.post(f"/admin/assessments/{installation.shared_assessment_pk}/sharing",
                        **fields).status_code == 403
    assert sharing_of(database, a.product_pk) == ("name-and-email", "STX e-mails the test ID")
    assert sharing_of(database, b.product_pk) == sharing_of(database, installation.shared_assessment_pk) == (None,
                                                                                                            None)
