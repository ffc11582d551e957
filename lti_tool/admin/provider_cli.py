"""``lti-tool assessment add`` and ``lti-tool <provider>-account add``: their options come from the providers the
installation offers (:mod:`lti_tool.providers.registry`), read when the command runs, so a provider added by an
entry point or ``LTI_TOOL_PROVIDERS`` has its options without an edit here. Secret fields are prompted (hidden),
never arguments: arguments end up in shell history and process lists."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import click

from lti_tool.config import ENV_PREFIX
from lti_tool.config import ConfigError
from lti_tool.config import Settings
from lti_tool.config import load_settings
from lti_tool.db import Database
from lti_tool.http import HttpSession
from lti_tool.models import ProviderAccount
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.providers.interfaces import FormField
from lti_tool.providers.registry import UnknownProvider
from lti_tool.providers.registry import build_providers
from lti_tool.providers.registry import provider_classes

ACCOUNT_SUFFIX = "-account"


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _providers(settings: Settings) -> dict[str, AssessmentProvider]:
    try:
        return build_providers(HttpSession(timeout=settings.http_timeout_seconds), settings)
    except UnknownProvider as exc:
        raise click.ClickException(str(exc)) from exc


def _offered() -> dict[str, type[AssessmentProvider]]:
    """The offered providers' classes, for building options and help: their declarations are class attributes, so
    no settings are read (``--help`` must not need a secret). A wrong LTI_TOOL_PROVIDERS offers none here; the
    command itself then says what is wrong."""
    try:
        return {cls.name: cls for cls in provider_classes(os.environ.get(ENV_PREFIX + "PROVIDERS", ""))}
    except UnknownProvider:
        return {}


def _option(field: FormField, names: Iterable[str] = ()) -> click.Option:
    owners = ", ".join(names)
    help_text = (field.help or field.label) + (f"  [{owners}]" if owners else "")
    if field.kind == "choice":
        return click.Option([field.option, field.name], type=click.Choice([value for value, _ in field.choices]),
                            default=None, help=f"{help_text} (default {field.initial})")
    return click.Option([field.option, field.name], default=None, required=False,
                        help=help_text + (f" (default {field.default})" if field.default else ""))


def _values(fields: Iterable[FormField], given: dict[str, Any]) -> dict[str, str]:
    values = {}
    for field in fields:
        if field.kind == "secret":
            values[field.name] = str(click.prompt(field.help or field.label, hide_input=True))
        elif given.get(field.name) is not None:
            values[field.name] = str(given[field.name])
        else:
            values[field.name] = field.initial
    return values


class AssessmentAdd(click.Command):
    """``assessment add``: ``--provider`` and ``--title``, ``--account`` for providers whose assessments belong to
    an account, and each provider's own fields."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        providers = _offered()
        owners: dict[str, tuple[FormField, list[str]]] = {}
        for provider in providers.values():
            for field in provider.assessment_form.fields:
                if field.kind != "secret":
                    owners.setdefault(field.option, (field, []))[1].append(provider.name)
        params: list[click.Parameter] = [
            click.Option(["--provider"], type=click.Choice(list(providers)), required=True, help="The test provider."),
            click.Option(["--title"], required=True, help="Name teachers see.")]
        if any(provider.assessment_form.per_account for provider in providers.values()):
            params.append(click.Option(["--account", "account_id"], type=int, default=None,
                                       help="The account number (`<provider>-account add` printed it)."))
        params += [_option(field, names) for field, names in owners.values()]
        return params + super().get_params(ctx)


def _assessment_add(provider: str, title: str, account_id: int | None = None, **given: Any) -> None:
    """Add an assessment. Keys are stored apart and never printed."""
    settings = _settings()
    chosen = _providers(settings).get(provider)
    if chosen is None:
        raise click.ClickException(f"no provider {provider!r} is offered (LTI_TOOL_PROVIDERS)")
    form = chosen.assessment_form
    try:
        with Database(settings.database_url).session() as session:
            account = None
            if form.per_account:
                account = session.get(ProviderAccount, account_id) if account_id else None
                if account is None or account.provider != chosen.name:
                    raise click.ClickException(f"give --account, the number `{chosen.name}{ACCOUNT_SUFFIX} add` "
                                               f"printed")
            added = chosen.create_assessment(session, title, _values(form.fields, given), account)
            click.echo(f"Added {provider} assessment {added.id} ({added.title}).")
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


assessment_add = AssessmentAdd("add", callback=_assessment_add, help=_assessment_add.__doc__)


def account_group(provider: type[AssessmentProvider]) -> click.Group:
    """``<provider>-account add``: the account's fields as options, its secrets prompted."""
    assert provider.account_form is not None
    fields = provider.account_form.fields

    def add(name: str, deployment_pk: int | None, **given: Any) -> None:
        values = _values(fields, given)
        settings = _settings()
        built = _providers(settings)[provider.name]
        try:
            with Database(settings.database_url).session() as session:
                account = built.create_account(session, name, values, deployment_pk)
                click.echo(f"Added {built.label} account {account.id}. {built.account_instructions(account)}")
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc

    params: list[click.Parameter] = [click.Option(["--name"], required=True)]
    for field in fields:
        if field.kind == "choice":
            params.append(click.Option([field.option, field.name], default=field.initial, show_default=True,
                                       type=click.Choice([value for value, _ in field.choices])))
        elif field.kind != "secret":
            params.append(click.Option([field.option, field.name], default=field.default or None,
                                       required=field.required and not field.default,
                                       show_default=bool(field.default), help=field.help or None))
    params.append(click.Option(["--deployment", "deployment_pk"], type=int, default=None,
                               help="Limit to one deployment (its number)."))
    group = click.Group(provider.name + ACCOUNT_SUFFIX,
                        help=f"A school's {provider.label} account: {provider.account_form.intro}")
    group.add_command(click.Command("add", callback=add, params=params,
                                    help="Add an account. Secrets are read from hidden prompts, never arguments."))
    return group


class ProviderCommands(click.Group):
    """A group that also offers ``<provider>-account`` for every offered provider with accounts."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        accounts = [name + ACCOUNT_SUFFIX for name, provider in _offered().items() if provider.account_form]
        return sorted({*super().list_commands(ctx), *accounts})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or not cmd_name.endswith(ACCOUNT_SUFFIX):
            return command
        provider = _offered().get(cmd_name.removesuffix(ACCOUNT_SUFFIX))
        return account_group(provider) if provider is not None and provider.account_form else None
