"""iTEP accounts on the admin pages: what iTEP's documents leave open is entered here, secrets shown masked.

A tool admin sees every account; an LMS admin only the accounts tied to their registration's deployments (an
account not tied to a deployment serves every school and belongs to the tool's operator: it is not shown to
them, though its products appear, read-only, among their assessments). Accounts an LMS admin adds are tied to the
deployment they launched from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.activities import add_itep_account
from lti_tool.activities import add_itep_assessment
from lti_tool.activities import itep_webhook_url
from lti_tool.admin.service import AdminScope
from lti_tool.admin.service import BadInput
from lti_tool.admin.service import NotFound
from lti_tool.admin.service import masked
from lti_tool.admin.service import scoped_deployment_pks
from lti_tool.models import Assessment
from lti_tool.models import ProviderAccount


@dataclass(frozen=True)
class AccountRow:
    id: int
    name: str
    endpoint_url: str
    tracking_code: str
    signature: str
    webhook: str
    webhook_url: str
    masked_api_key: str
    masked_webhook_secret: str


def _scoped_accounts(scope: AdminScope) -> sa.Select[ProviderAccount]:
    query = sa.select(ProviderAccount).where(ProviderAccount.provider == "itep")
    if not scope.is_installation:
        query = query.where(ProviderAccount.deployment_id.in_(scoped_deployment_pks(scope)))
    return query


def list_accounts(session: orm.Session, scope: AdminScope, callback_url: str) -> list[AccountRow]:
    accounts = session.scalars(_scoped_accounts(scope).order_by(ProviderAccount.id))
    return [_row(account, callback_url) for account in accounts]


def _row(account: ProviderAccount, callback_url: str) -> AccountRow:
    settings = account.settings
    url = itep_webhook_url(callback_url, account)
    if account.webhook_secret:
        url = url.replace(account.webhook_secret, "<webhook secret>")
    webhook = ("token in the URL" if settings.get("webhook_auth") == "url_token"
               else f"header {settings.get('webhook_header')}")
    return AccountRow(id=account.id, name=account.name, endpoint_url=str(settings.get("endpoint_url")),
                      tracking_code=str(settings.get("tracking_code")),
                      signature=f"{settings.get('signature_header')} ({settings.get('signature_encoding')})",
                      webhook=webhook, webhook_url=url, masked_api_key=masked(account.api_key),
                      masked_webhook_secret=masked(account.webhook_secret))


def add_account(session: orm.Session, scope: AdminScope, form: Mapping[str, str]) -> ProviderAccount:
    """:raise BadInput: a field is missing or cannot work."""
    name = form.get("name", "").strip()
    if not name:
        raise BadInput("Give the account a name.")
    try:
        return add_itep_account(
            session, name[:200], form.get("endpoint_url", "").strip(), form.get("api_key", "").strip(),
            form.get("tracking_code", "").strip(), form.get("webhook_secret", "").strip(),
            signature_header=form.get("signature_header", "").strip(),
            signature_encoding=form.get("signature_encoding", "hex"), webhook_auth=form.get("webhook_auth", "header"),
            webhook_header=form.get("webhook_header", "X-iTEP-Token").strip() or "X-iTEP-Token",
            on_invalidated=form.get("on_invalidated", "withdraw"), deployment_id=scope.deployment_pk)
    except ValueError as exc:
        raise BadInput(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc


def add_product(session: orm.Session, scope: AdminScope, account_pk: int, title: str,
                product_code: str) -> Assessment:
    """:raise NotFound: no such iTEP account in the scope. :raise BadInput: no title or an unusable code."""
    account = session.scalars(_scoped_accounts(scope).where(ProviderAccount.id == account_pk)).first()
    if account is None:
        raise NotFound(f"There is no iTEP account {account_pk}.")
    if not title.strip():
        raise BadInput("Give the product a title teachers will see.")
    try:
        return add_itep_assessment(session, account, title.strip()[:200], product_code.strip())
    except ValueError as exc:
        raise BadInput(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc
