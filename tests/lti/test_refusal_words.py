"""A refused login or launch speaks the reader's language on its page and English in the log.

The catalogues get these sentences after the next extraction, so the tests cannot look for Spanish words: they
replace the error's translation function with a marker and check that the page shows the marked sentence, while
the log line keeps the plain English one.
"""

from __future__ import annotations

import ast
import html
import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.extract import extract_from_file

import lti_tool
from lti_tool import translatable
from lti_tool.launch.recording import deployment_refusal
from lti_tool.lti import directory
from lti_tool.lti import errors
from lti_tool.lti import login_state
from lti_tool.lti.registration import PlatformDetails
from lti_tool.lti.registration import register_platform
from lti_tool.models import DeploymentStatus
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiRegistration
from lti_tool.privacy.sharing import sharing_settings
from lti_tool.providers import itep
from lti_tool.providers import itep_accounts
from lti_tool.providers import speechace_assessments
from lti_tool.providers.interfaces import RefusedValue

PACKAGE = Path(lti_tool.__file__).parent
ISSUER = "https://lms.example"


def marked(message: str, **values: object) -> str:
    """What the page shows once a sentence has gone through the catalogues."""
    return "\u27e6" + (message % values if values else message) + "\u27e7"


@pytest.fixture
def through_catalogues(monkeypatch):
    monkeypatch.setattr(errors, "gettext", marked)  # headings
    monkeypatch.setattr(translatable, "gettext", marked)  # MarkedError.shown: the reasons


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _refusal_lines(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == "lti_tool.launch.views" and "refused" in record.getMessage()]


def test_an_expired_state_is_refused_in_spanish_and_logged_in_english(app, caplog, through_catalogues):
    caplog.set_level(logging.INFO)
    response = app.test_client().post("/lti/launch", data={"id_token": "a.b.c", "state": "not-a-signed-state"},
                                      headers={"Accept-Language": "es-MX,es;q=0.9"})
    page = _page(response)
    assert response.status_code == 401
    assert '<html lang="es" dir="ltr"' in page
    assert marked(login_state.EXPIRED_REASON) in page and f"<h1>{marked(errors.OPEN_AGAIN)}</h1>" in page
    [line] = _refusal_lines(caplog)
    assert login_state.EXPIRED_REASON in line and "\u27e6" not in line


@pytest.fixture
def disabled_registration(database):
    details = PlatformDetails(issuer=ISSUER, client_id="client-1", auth_login_url=f"{ISSUER}/auth",
                              auth_token_url=f"{ISSUER}/token", key_set_url=f"{ISSUER}/jwks", name="LMS")
    with database.session() as session:
        register_platform(session, details, "manual", ["dep-1"], approve=True)
        session.execute(sa.update(LtiRegistration).values(is_active=False))


def test_a_disabled_registration_is_refused_in_french_and_logged_in_english(app, caplog, disabled_registration,
                                                                           through_catalogues):
    caplog.set_level(logging.INFO)
    response = app.test_client().get("/lti/login", query_string={"iss": ISSUER, "login_hint": "u1"},
                                     headers={"Accept-Language": "fr"})
    page = _page(response)
    assert response.status_code == 403 and '<html lang="fr" dir="ltr"' in page
    assert marked(directory.DISABLED_REGISTRATION) in page
    [line] = _refusal_lines(caplog)
    assert directory.DISABLED_REGISTRATION in line and "\u27e6" not in line


def test_an_unknown_platform_keeps_its_values_as_sent(app, through_catalogues):
    response = app.test_client().get("/lti/login", query_string={"iss": "https://other.example", "login_hint": "u",
                                                                 "client_id": "c-9"},
                                     headers={"Accept-Language": "pt-BR"})
    page = _page(response)
    assert response.status_code == 400 and '<html lang="pt-BR"' in page
    assert marked(directory.NOT_REGISTERED) in page
    assert "\u27e6This tool is not registered with the platform 'https://other.example' with client_id 'c-9'." in page


def test_a_pending_deployment_names_itself_in_english_and_in_the_page(through_catalogues):
    refusal = deployment_refusal(LtiDeployment(deployment_id="dep-7", status=DeploymentStatus.PENDING.value))
    assert refusal is not None and refusal.status == 403
    assert refusal.reason.startswith("This LMS installation of the tool (deployment 'dep-7') is waiting")
    assert refusal.message.startswith("This LMS installation of the tool (deployment %(deployment)s)")
    assert refusal.shown() == marked(refusal.message, **refusal.values)
    assert refusal.title == marked("Waiting for approval")


def test_a_refusal_with_values_is_english_on_the_command_line():
    with pytest.raises(RefusedValue) as refused:
        sharing_settings({}, "name", "x" * 501)
    assert str(refused.value) == "The reason is longer than 500 characters."
    assert refused.value.message == "The reason is longer than %(limit)s characters."


# --- every refusal a person reads is marked -----------------------------------------------------------------

REFUSALS = {"LaunchError": 1, "ProviderError": 0, "RefusedValue": 0}
MODULES = ["lti/launch.py", "lti/login.py", "lti/login_state.py", "lti/directory.py", "lti/errors.py",
           "launch/recording.py", "launch/views.py", "activities.py", "providers/itep.py", "providers/speechace.py",
           "providers/itep_accounts.py", "providers/speechace_assessments.py", "privacy/sharing.py"]


def _unmarked_messages(path: Path) -> list[str]:
    """Refusals whose sentence is written in place (a literal or an f-string) instead of marked with N_."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in REFUSALS):
            continue
        position = REFUSALS[node.func.id]
        arguments = [*node.args[position:position + 1],
                     *(keyword.value for keyword in node.keywords if keyword.arg == "title")]
        found += [f"{path.name}:{node.lineno}" for argument in arguments
                  if isinstance(argument, ast.Constant | ast.JoinedStr)
                  or (isinstance(argument, ast.Call) and getattr(argument.func, "id", "") != "N_")]
    return found


def test_every_refusal_is_marked_where_it_is_raised():
    assert [where for module in MODULES for where in _unmarked_messages(PACKAGE / module)] == []


def test_the_sentences_people_read_are_extracted():
    extracted = {message for module in [*MODULES, "providers/interfaces.py"]
                 for _line, message, _comments, _context in extract_from_file(
                     "python", str(PACKAGE / module), keywords={"N_": None, "gettext": None})}
    shown = [login_state.EXPIRED_REASON, directory.DISABLED_REGISTRATION, directory.AWAITING_APPROVAL,
             directory.AWAITING_TITLE, directory.NOT_REGISTERED, errors.OPEN_AGAIN, itep.UNCONFIRMED,
             itep_accounts.ACCOUNT_FORM.intro, itep_accounts.ACCOUNT_FORM.added_notice,
             itep_accounts.PRODUCT_FORM.noun, itep_accounts.PRODUCT_FORM.added_notice,
             speechace_assessments.REPLACE_KEY.button, speechace_assessments.REPLACE_KEY.notice,
             *(field.label for form in (itep_accounts.ACCOUNT_FORM, itep_accounts.PRODUCT_FORM,
                                        speechace_assessments.ASSESSMENT_FORM) for field in form.fields),
             *(text for field in itep_accounts.ACCOUNT_FORM.fields for value, text in field.choices if value != text)]
    assert [message for message in shown if message not in extracted] == []
