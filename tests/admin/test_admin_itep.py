"""iTEP accounts on the admin pages: entered once, secrets never shown again, products offered to teachers."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from lti_tool.models import Assessment
from lti_tool.models import ProviderAccount
from tests.admin.conftest import form_posting_to
from tests.admin.conftest import submit
from tests.admin.conftest import text

API_KEY, WEBHOOK_SECRET = "itep-api-key-SECRET-1", "itep-hook-SECRET-2"
ACCOUNT = {"name": "School iTEP", "endpoint_url": "https://www.iteptest.com/requests/ecommerce_webhook.php",
           "api_key": API_KEY, "signature_header": "X-Itep-Hmac", "signature_encoding": "base64",
           "tracking_code": "RC", "webhook_auth": "header", "webhook_header": "X-iTEP-Token",
           "webhook_secret": WEBHOOK_SECRET, "on_invalidated": "pending"}


def test_add_an_account_and_a_product_secrets_never_shown(admin_client, database, caplog):
    caplog.set_level(logging.DEBUG)
    page = text(admin_client.get("/admin/itep"))
    assert submit(admin_client, page, "/admin/itep", **ACCOUNT).status_code == 303
    with database.session() as session:
        account = session.scalars(sa.select(ProviderAccount)).one()
        assert (account.api_key, account.webhook_secret) == (API_KEY, WEBHOOK_SECRET)
        assert account.settings["signature_encoding"] == "base64"
        assert account.settings["on_invalidated"] == "pending"
        account_pk = account.id
    page = text(admin_client.get("/admin/itep"))
    assert f"/callbacks/itep?account={account_pk}" in page and "X-Itep-Hmac (base64)" in page
    assert submit(admin_client, page, f"/admin/itep/{account_pk}/products", title="iTEP Academic",
                  product_code="GTX-Academic-Plus").status_code == 303
    with database.session() as session:
        assessment = session.scalars(sa.select(Assessment)).one()
        assert assessment.settings == {"account_id": account_pk, "product_code": "GTX-Academic-Plus"}
    shown = "".join(text(admin_client.get(path)) for path in ("/admin/itep", "/admin/assessments", "/admin"))
    assert API_KEY not in shown and WEBHOOK_SECRET not in shown
    assert API_KEY not in caplog.text and WEBHOOK_SECRET not in caplog.text


def test_a_bad_account_is_refused_and_nothing_is_stored(admin_client, database):
    page = text(admin_client.get("/admin/itep"))
    response = submit(admin_client, page, "/admin/itep", **{**ACCOUNT, "endpoint_url": "ftp://itep"})
    assert response.status_code == 400 and "http(s) URL" in text(response)
    assert API_KEY not in text(response)  # secrets are not echoed back into the form
    with database.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ProviderAccount)) == 0


def test_a_product_for_an_unknown_account_is_refused(admin_client, database):
    page = text(admin_client.get("/admin/itep"))
    token = form_posting_to(page, "/admin/itep").fields["csrf_token"]
    response = admin_client.post("/admin/itep/99/products",
                                 data={"csrf_token": token, "title": "X", "product_code": "GTX-X"})
    assert response.status_code == 404
