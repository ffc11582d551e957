"""Application-wide behaviour: error pages, headers, health check."""

from __future__ import annotations


def test_unknown_page_is_a_plain_404(app):
    client = app.test_client()
    page = client.get("/no-such-page")
    assert page.status_code == 404 and "Not Found" in page.text and "Traceback" not in page.text
    api = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json["error"] == "Not Found"


def test_wrong_method_is_405(app):
    assert app.test_client().get("/lti/launch").status_code == 405


def test_oversized_request_is_refused(app):
    response = app.test_client().post("/lti/launch", data={"id_token": "x" * (2 * 1024 * 1024), "state": "s"})
    assert response.status_code == 413


def test_headers_allow_framing_and_microphone_delegation(app):
    response = app.test_client().get("/healthz")
    assert response.json == {"status": "ok"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "X-Frame-Options" not in response.headers  # the tool lives inside LMS iframes
    assert "Permissions-Policy" not in response.headers  # must not switch the microphone off


def test_index_lists_the_registration_urls(app, settings):
    page = app.test_client().get("/").text
    assert settings.url("/lti/register") in page and settings.url("/lti/jwks") in page
