"""Assessments on the admin pages: the provider key is stored on the server and never rendered or logged."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from lti_tool.admin.service import masked
from lti_tool.models import Assessment
from tests.admin.conftest import ADMIN_PAGES
from tests.admin.conftest import submit
from tests.admin.conftest import submit_confirmed
from tests.admin.conftest import text

NEW_KEY = "N3wSpeechaceKey0001"


def assessments(database) -> list[Assessment]:
    with database.session() as session:
        return list(session.scalars(sa.select(Assessment).order_by(Assessment.id)))


def every_admin_page(client) -> str:
    return "".join(text(client.get(page)) for page in ADMIN_PAGES)


def test_masked_shows_only_the_last_four_characters():
    assert masked("abcdefghijklmnop") == "••••••••mnop"
    assert masked("short") == "••••••••"
    assert masked(None) == "(none)"


def test_add_from_a_share_link_stores_the_key_and_never_shows_it(admin_client, speechace, database, caplog):
    caplog.set_level(logging.DEBUG)
    remote = speechace.add_assessment(title="Placement speaking test")
    page = text(admin_client.get("/admin/assessments"))
    response = submit(admin_client, page, "/admin/assessments", title="Placement speaking test",
                      share_link=remote.share_link)
    assert response.status_code == 303
    [stored] = assessments(database)
    assert stored.secret == remote.key and stored.is_active
    assert stored.settings == {"mode": "oembed", "oembed_url": remote.share_link.replace(f"&key={remote.key}", "")}
    pages = every_admin_page(admin_client) + text(admin_client.get(response.headers["Location"]))
    assert remote.key not in pages
    assert masked(remote.key) in pages and "Placement speaking test" in pages
    assert remote.key not in caplog.text


def test_add_from_an_iframe_test_url(admin_client, database):
    page = text(admin_client.get("/admin/assessments"))
    url = "https://www.speechace.co/placement/test/123"
    submit(admin_client, page, "/admin/assessments", title="Iframe test", test_url=url)
    [stored] = assessments(database)
    assert stored.secret is None and stored.settings == {"mode": "iframe", "test_url": url}


@pytest.mark.parametrize(("fields", "message"), [
    ({"title": "T", "share_link": "https://speechace.example/embed/oembed?url=x"}, "no valid key"),
    ({"title": "T"}, "either the oEmbed share link or the iframe test URL"),
    ({"title": "  ", "test_url": "https://speechace.example/t"}, "title"),
    ({"title": "T", "test_url": "javascript:alert(1)"}, "http(s) URL"),
])
def test_bad_input_is_a_400_with_the_reason_and_adds_nothing(admin_client, database, fields, message):
    page = text(admin_client.get("/admin/assessments"))
    response = submit(admin_client, page, "/admin/assessments", **fields)
    assert response.status_code == 400
    assert message in text(response)
    assert assessments(database) == []


def test_a_refused_share_link_is_not_echoed_back(admin_client, database):
    page = text(admin_client.get("/admin/assessments"))
    response = submit(admin_client, page, "/admin/assessments", title="Kept title",
                      share_link="https://speechace.example/oembed?key=Secret1234567&key=Another12345678")
    assert response.status_code == 400
    assert "Secret1234567" not in text(response) and "Another12345678" not in text(response)
    assert 'value="Kept title"' in text(response)


def test_replace_the_key_without_showing_either(admin_client, speechace_setup, database):
    old_key = speechace_setup.assessment.key
    page = text(admin_client.get("/admin/assessments"))
    assert masked(old_key) in page and old_key not in page
    new_link = speechace_setup.assessment.share_link.replace(old_key, NEW_KEY)
    response = submit(admin_client, page, f"/admin/assessments/{speechace_setup.assessment_pk}/replace-key",
                      share_link=new_link)
    assert response.status_code == 303
    [stored] = assessments(database)
    assert stored.secret == NEW_KEY
    pages = every_admin_page(admin_client) + text(admin_client.get(response.headers["Location"]))
    assert NEW_KEY not in pages and old_key not in pages
    assert masked(NEW_KEY) in pages


def test_callbacks_refuse_a_replaced_key_at_once(admin_client, connected, speechace_setup):
    """Callbacks keep an assessment's settings for a few seconds; replacing the key clears them in this process."""
    from tests.speechace.test_callback import _callback_url
    from tests.speechace.test_callback import _good_body
    from tests.speechace.test_callback import _post

    url = _callback_url(connected, speechace_setup)
    assert _post(url, _good_body(speechace_setup, "0001")).status_code == 200  # the old key is now kept
    old_key = speechace_setup.assessment.key
    page = text(admin_client.get("/admin/assessments"))
    submit(admin_client, page, f"/admin/assessments/{speechace_setup.assessment_pk}/replace-key",
           share_link=speechace_setup.assessment.share_link.replace(old_key, NEW_KEY))
    refused = _post(url, _good_body(speechace_setup, "0002"))
    assert refused.status_code == 403 and "key" in refused.json()["error"]
    accepted = _post(url, {**_good_body(speechace_setup, "0003"), "key": NEW_KEY})
    assert accepted.json() == {"status": "accepted"}


def test_a_share_link_of_another_test_does_not_replace_the_key(admin_client, speechace_setup, speechace, database):
    other = speechace.add_assessment(title="Another test")
    page = text(admin_client.get("/admin/assessments"))
    response = submit(admin_client, page, f"/admin/assessments/{speechace_setup.assessment_pk}/replace-key",
                      share_link=other.share_link)
    assert response.status_code == 400 and "another Speechace test" in text(response)
    assert other.key not in text(response)
    assert assessments(database)[0].secret == speechace_setup.assessment.key


def test_deactivate_then_activate(admin_client, speechace_setup, database):
    pk = speechace_setup.assessment_pk
    submit_confirmed(admin_client, text(admin_client.get("/admin/assessments")),
                     f"/admin/assessments/{pk}/deactivate")
    assert assessments(database)[0].is_active is False
    submit(admin_client, text(admin_client.get("/admin/assessments")), f"/admin/assessments/{pk}/activate")
    assert assessments(database)[0].is_active is True
