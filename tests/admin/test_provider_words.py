"""The words a provider puts on the admin pages (its forms, its account table, its notices and refusals) go
through the catalogues where the page shows them; names, values and URLs stay as they are.

The catalogues get these words after the next extraction: the translation functions are replaced by a marker."""

from __future__ import annotations

import html

from lti_tool import translatable
from lti_tool.admin import views
from lti_tool.providers import interfaces
from tests.admin.conftest import submit
from tests.admin.conftest import text
from tests.admin.test_admin_itep import ACCOUNT


def marked(message: str, **values: object) -> str:
    return "\u27e6" + (message % values if values else message) + "\u27e7"


def _through_catalogues(monkeypatch) -> None:
    for module in (interfaces, views, translatable):
        monkeypatch.setattr(module, "gettext", marked)


def test_the_itep_account_page_shows_the_providers_words_translated(admin_client, monkeypatch):
    page = text(admin_client.get("/admin/itep"))
    response = submit(admin_client, page, "/admin/itep", **ACCOUNT)
    assert response.status_code == 303
    _through_catalogues(monkeypatch)
    page = html.unescape(text(admin_client.get(response.headers["Location"])))
    assert marked("iTEP account added. Its API key and webhook secret are stored on the server, shown masked.") in page
    assert "\u27e6iTEP's documents leave the signature header" in page
    assert f"{marked('Fulfillment endpoint')} <input" in page and f"{marked('Webhook secret')} <input" in page
    assert f'<option value="url_token">{marked("token in the URL")}</option>' in page
    assert f'<th scope="col">{marked("Results webhook (give this to iTEP)")}</th>' in page
    assert marked("tracking code RC") in page and marked("signature X-Itep-Hmac (base64)") in page
    assert f"{marked('API key')} <code>" in page
    assert f"Offer a {marked('product')}: title" in page and f">Add {marked('product')}</button>" in page
    assert "/products" in page and 'data-testid="add-product-' in page  # the URL keeps its noun


def test_a_refused_itep_account_is_explained_through_the_catalogues(admin_client, monkeypatch):
    page = text(admin_client.get("/admin/itep"))
    _through_catalogues(monkeypatch)
    response = submit(admin_client, page, "/admin/itep", **{**ACCOUNT, "signature_encoding": "base32"})
    assert response.status_code == 400
    assert marked("The signature encoding must be hex or base64.") in html.unescape(text(response))


def test_speechace_replace_key_form_and_refusal(admin_client, monkeypatch):
    page = text(admin_client.get("/admin/assessments"))
    added = submit(admin_client, page, "/admin/assessments", title="Speaking 1",
                   share_link="https://speechace.example/embed/oembed?url=t1&key=abcdefgh12")
    assert added.status_code == 303
    _through_catalogues(monkeypatch)
    page = html.unescape(text(admin_client.get(added.headers["Location"])))
    assert marked("Assessment added. Its key is stored on the server and shown masked.") in page
    assert f">{marked('Replace key')}</button>" in page and marked("New share link") in page
    assert f'placeholder="{marked("paste the new Share → oEmbed link")}"' in page
    refused = submit(admin_client, text(admin_client.get("/admin/assessments")), "/replace-key",
                     share_link="https://speechace.example/embed/oembed?url=other&key=abcdefgh34")
    assert refused.status_code == 400
    assert marked("This share link is for another Speechace test. Add it as a new assessment instead.") \
        in html.unescape(text(refused))
