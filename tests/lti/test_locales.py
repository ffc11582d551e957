"""The language of the tool's pages: the launch's locale (launch_presentation.locale), through the language to
English, kept by every page reached through the launch; Arabic right to left."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from lti_tool.db import utcnow
from lti_tool.locales import negotiated
from lti_tool.models import LtiLaunch
from lti_tool.sandbox.browser import FormBrowser
from tests.speechace.test_callback import take_test
from tests.speechace.test_embed import open_activity


@pytest.mark.parametrize(("tag", "locale"), [
    ("es", "es"), ("es-MX", "es"), ("ES_mx", "es"), ("pt-BR", "pt_BR"), ("pt", "pt_BR"), ("fr-CA", "fr"),
    ("ar-SA", "ar"), ("zh-CN", "zh_Hans"), ("zh-Hans", "zh_Hans"), ("en-GB", "en"), ("de-DE", None), ("", None),
    (None, None), ("x" * 40, None),
])
def test_a_launch_locale_falls_back_through_its_language(tag, locale):
    assert negotiated(tag) == locale


def _html_tag(text: str) -> str:
    return re.search(r"<html[^>]*>", text).group(0)


def test_a_spanish_launch_gets_spanish_pages_and_they_stay_spanish(connected, speechace_setup, database):
    connected.platform.set_locale(connected.course.learner, "es-MX")
    browser = FormBrowser()
    page = open_activity(connected, speechace_setup, browser=browser)
    assert 'lang="es" dir="ltr"' in _html_tag(page.text)
    text = html.unescape(page.text)
    assert "Comprobar mi micrófono" in text and "Abrir la prueba en una ventana nueva" in text
    assert "Una prueba oral: respondes cada pregunta en voz alta" in text
    assert "Check my microphone" not in text
    status_url = connected.tool_url + re.search(r'data-status-url="([^"]+)"', page.text).group(1)
    assert browser.get(status_url).json()["message"] == "Todavía no has terminado la prueba."
    assert take_test(connected, speechace_setup).status == 200
    status = browser.get(status_url).json()
    assert status["label"] == "Calificación en camino al libro de calificaciones"
    assert re.match(r"Completaste la prueba el \d{1,2} de [a-z]+ de \d{4}\. Tu calificación va en camino",
                    status["message"]), status["message"]
    # An expired launch still speaks the launch's language.
    with database.session() as session:
        session.execute(sa.update(LtiLaunch).values(expires_at=utcnow()))
    expired = browser.get(status_url)
    assert expired.status_code == 410 and expired.json()["message"].startswith("Tu sesión ha caducado")


def test_an_arabic_launch_is_right_to_left_and_translated(connected, speechace_setup):
    connected.platform.set_locale(connected.course.learner, "ar-SA")
    page = open_activity(connected, speechace_setup)
    assert 'lang="ar" dir="rtl"' in _html_tag(page.text)
    text = html.unescape(page.text)
    assert "افحص الميكروفون" in text and "افتح الاختبار في نافذة جديدة" in text
    assert "Check my microphone" not in text


def test_a_teacher_launch_gets_the_launch_language_on_every_teacher_page(connected, speechace_setup):
    """A teacher's class view follows the launch's locale like a student's page, and so do the pages reached
    from it (the settings, the status the class view polls)."""
    connected.platform.set_locale(connected.course.instructor, "es-MX")
    browser = FormBrowser()
    teacher = browser.get(connected.launch_url(sub=connected.course.instructor,
                                               custom={"activity": speechace_setup.activity_public_id},
                                               with_lineitem=True))
    assert 'data-testid="summary"' in teacher.text
    assert 'lang="es" dir="ltr"' in _html_tag(teacher.text)
    text = html.unescape(teacher.text)
    assert "Sin empezar" in text and "Resumen" in text and "Cambiar esta configuración" in text
    assert ">Summary<" not in text and "Change these settings" not in text
    settings = browser.get(connected.tool_url + re.search(r'href="([^"]+)" data-testid="edit-settings"',
                                                          teacher.text).group(1))
    assert settings.status_code == 200 and 'lang="es" dir="ltr"' in _html_tag(settings.text)


def test_pages_without_a_launch_speak_the_browser_language(app):
    """An error page and the administrator's login, with no launch behind them, follow Accept-Language."""
    french = app.test_client().get("/no-such-page", headers={"Accept-Language": "fr-CA,fr;q=0.9"})
    text = html.unescape(french.get_data(as_text=True))
    assert french.status_code == 404 and 'lang="fr" dir="ltr"' in _html_tag(text)
    assert "Page introuvable" in text and "Not Found" not in text
    login = html.unescape(app.test_client().get("/admin/login", headers={"Accept-Language": "es-MX"})
                          .get_data(as_text=True))
    assert "Iniciar sesión" in login and "Nombre de usuario" in login and "Log in" not in login
    arabic = html.unescape(app.test_client().get("/admin/login", headers={"Accept-Language": "ar"})
                           .get_data(as_text=True))
    assert 'lang="ar" dir="rtl"' in _html_tag(arabic) and "تسجيل الدخول" in arabic


@pytest.mark.parametrize(("header", "lang"), [
    ("es-MX,es;q=0.9", 'lang="es" dir="ltr"'), ("de", 'lang="en" dir="ltr"'),
    ("de-DE,de;q=0.9,ar;q=0.5", 'lang="ar" dir="rtl"'), ("en;q=0,fr", 'lang="fr" dir="ltr"'),
    ("fr;q=0", 'lang="en" dir="ltr"'), ("*", 'lang="en" dir="ltr"'),
])
def test_a_page_without_a_launch_follows_the_browser(app, header, lang):
    page = app.test_client().get("/admin/login", headers={"Accept-Language": header})
    assert page.status_code == 200 and lang in _html_tag(page.get_data(as_text=True))


@pytest.mark.parametrize("header", [
    ";;;q=abc,,", "q=0.5;es", "es;q=NaN", "x" * 5000, ",".join(["de"] * 500 + ["es"]), "\u00e9s-\u00c9S",
    "zh-" + "Hans-" * 50, "es\tMX",
])
def test_a_junk_accept_language_gives_english_never_a_failure(app, header):
    for path in ("/admin/login", "/no-such-page", "/lti/register"):
        page = app.test_client().get(path, headers={"Accept-Language": header})
        assert page.status_code in (200, 400, 404), (path, header, page.status_code)
        assert 'lang="en" dir="ltr"' in _html_tag(page.get_data(as_text=True)), (path, header)
