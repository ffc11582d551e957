"""Provider accounts on the admin pages (for providers that declare an :class:`AccountForm`): what the provider's
documents leave open is entered here, secrets shown masked.

A tool admin sees every account; an LMS admin only the accounts tied to their registration's deployments (an
account not tied to a deployment serves every school and belongs to the tool's operator: it is not shown to
them, though its assessments appear, read-only, among theirs). Accounts an LMS admin adds are tied to the
deployment they launched from."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.admin.service import AdminScope
from lti_tool.admin.service import BadInput
from lti_tool.admin.service import NotFound
from lti_tool.admin.service import refusals_as_bad_input
from lti_tool.admin.service import scoped_deployment_pks
from lti_tool.models import Assessment
from lti_tool.models import ProviderAccount
from lti_tool.providers.interfaces import AccountView
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.translatable import N_


def _scoped_accounts(scope: AdminScope, provider: AssessmentProvider) -> sa.Select[ProviderAccount]:
    query = sa.select(ProviderAccount).where(ProviderAccount.provider == provider.name)
    if not scope.is_installation:
        query = query.where(ProviderAccount.deployment_id.in_(scoped_deployment_pks(scope)))
    return query


def list_accounts(session: orm.Session, scope: AdminScope, provider: AssessmentProvider) -> list[AccountView]:
    accounts = session.scalars(_scoped_accounts(scope, provider).order_by(ProviderAccount.id))
    return [provider.describe_account(account) for account in accounts]


def add_account(session: orm.Session, scope: AdminScope, provider: AssessmentProvider,
                form: Mapping[str, str]) -> ProviderAccount:
    """:raise BadInput: a field is missing or cannot work."""
    name = form.get("name", "").strip()
    if not name:
        raise BadInput(N_("Give the account a name."))
    with refusals_as_bad_input():
        return provider.create_account(session, name[:200], form, scope.deployment_pk)


def add_account_assessment(session: orm.Session, scope: AdminScope, provider: AssessmentProvider,
                           account_pk: int, title: str, form: Mapping[str, str]) -> Assessment:
    """:raise NotFound: no such account of the provider in the scope. :raise BadInput: no title, or the provider
    refuses the values."""
    account = session.scalars(_scoped_accounts(scope, provider).where(ProviderAccount.id == account_pk)).first()
    if account is None:
        raise NotFound(f"There is no {provider.label} account {account_pk}.")
    if not title.strip():
        raise BadInput(N_("Give the %(noun)s a title teachers will see."), noun=provider.assessment_form.noun)
    with refusals_as_bad_input():
        return provider.create_assessment(session, title.strip()[:200], form, account)
