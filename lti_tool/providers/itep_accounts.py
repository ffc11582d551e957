"""iTEP accounts and products as admins add them: what iTEP's documents leave open (the signature header, its
encoding, the webhook's authentication) is entered here, never guessed in code; secrets are only shown masked."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import orm

from lti_tool.masking import masked
from lti_tool.models import Assessment
from lti_tool.models import ProviderAccount
from lti_tool.providers.interfaces import AccountForm
from lti_tool.providers.interfaces import AccountLine
from lti_tool.providers.interfaces import AccountView
from lti_tool.providers.interfaces import AssessmentForm
from lti_tool.providers.interfaces import FormField
from lti_tool.providers.interfaces import RefusedValue
from lti_tool.translatable import N_

NAME = "itep"
DEFAULT_ENDPOINT = "https://www.iteptest.com/requests/ecommerce_webhook.php"
HIDDEN_IN_URL = "<webhook secret>"

# Labels, choices' labels, the intro and the notice are shown on the admin page (marked, translated there); the
# help texts are the command line's, in English; choice values, defaults and the example code are not words.
URL_TOKEN = N_("token in the URL")
ACCOUNT_FORM = AccountForm(
    intro=N_("iTEP's documents leave the signature header, its encoding and the webhook's authentication to be "
             "agreed with iTEP: enter what iTEP told you. Secrets stay on the server and are shown masked."),
    added_notice=N_("iTEP account added. Its API key and webhook secret are stored on the server, shown masked."),
    fields=(
        FormField("endpoint_url", N_("Fulfillment endpoint"), default=DEFAULT_ENDPOINT),
        FormField("api_key", N_("API key"), kind="secret", required=True, help="iTEP API key"),
        FormField("signature_header", N_("Signature header name"), default="X-iTEP-Signature",
                  help="Header carrying the HMAC-SHA256 signature (ask iTEP)."),
        FormField("signature_encoding", N_("Signature encoding"), kind="choice",
                  choices=(("hex", "hex"), ("base64", "base64"))),
        FormField("tracking_code", N_("Tracking code"), required=True,
                  help="The tracking code iTEP assigned (routes the results webhook)."),
        FormField("webhook_auth", N_("Webhook authentication"), kind="choice",
                  choices=(("header", N_("secret in a header")), ("url_token", URL_TOKEN))),
        FormField("webhook_header", N_("Webhook header name"), default="X-iTEP-Token"),
        FormField("webhook_secret", N_("Webhook secret"), kind="secret", required=True,
                  help="Webhook secret (give the same to iTEP)"),
        FormField("on_invalidated", N_("When iTEP invalidates or resets a test"), kind="choice",
                  choices=(("withdraw", N_("withdraw the grade")), ("pending", N_("set the grade pending")))),
    ))
PRODUCT_FORM = AssessmentForm(
    shared=False, per_account=True, noun=N_("product"), added_notice=N_("iTEP product added: teachers can choose it."),
    fields=(FormField("product_code", N_("product code"), placeholder="GTX-Academic-Plus", required=True,
                      help="iTEP product code, e.g. GTX-Academic-Plus."),))


def add_itep_account(session: orm.Session, name: str, endpoint_url: str, api_key: str, tracking_code: str,
                     webhook_secret: str, signature_header: str = "X-iTEP-Signature",
                     signature_encoding: str = "hex", webhook_auth: str = "header",
                     webhook_header: str = "X-iTEP-Token", on_invalidated: str = "withdraw",
                     deployment_id: int | None = None, instructions: str | None = None) -> ProviderAccount:
    """An iTEP account: the parts iTEP's documents leave open are settings here, not guesses in code.

    :raise RefusedValue: a value cannot work (not a URL, an unknown encoding or method, an empty secret).
    """
    if not endpoint_url.startswith(("https://", "http://")):
        raise RefusedValue(N_("The iTEP endpoint must be an http(s) URL."))
    if signature_encoding not in {"hex", "base64"}:
        raise RefusedValue(N_("The signature encoding must be hex or base64."))
    if webhook_auth not in {"header", "url_token"}:
        raise RefusedValue(N_("Webhook authentication must be header or url_token."))
    if on_invalidated not in {"withdraw", "pending"}:
        raise RefusedValue(N_("On invalidation the grade is either withdrawn or set pending."))
    if not api_key or not webhook_secret or not signature_header:
        raise RefusedValue(N_("The API key, the webhook secret and the signature header name are required."))
    account = ProviderAccount(provider=NAME, name=name, deployment_id=deployment_id, api_key=api_key,
                              webhook_secret=webhook_secret, settings={
                                  "endpoint_url": endpoint_url, "tracking_code": tracking_code,
                                  "signature_header": signature_header, "signature_encoding": signature_encoding,
                                  "webhook_auth": webhook_auth, "webhook_header": webhook_header,
                                  "on_invalidated": on_invalidated, "instructions": instructions})
    session.add(account)
    session.flush()
    return account


def account_from_form(session: orm.Session, name: str, form: Mapping[str, str],
                      deployment_id: int | None) -> ProviderAccount:
    return add_itep_account(
        session, name, form.get("endpoint_url", "").strip(), form.get("api_key", "").strip(),
        form.get("tracking_code", "").strip(), form.get("webhook_secret", "").strip(),
        signature_header=form.get("signature_header", "").strip(),
        signature_encoding=form.get("signature_encoding", "hex"), webhook_auth=form.get("webhook_auth", "header"),
        webhook_header=form.get("webhook_header", "X-iTEP-Token").strip() or "X-iTEP-Token",
        on_invalidated=form.get("on_invalidated", "withdraw"), deployment_id=deployment_id)


def add_itep_assessment(session: orm.Session, account: ProviderAccount, title: str, product_code: str) -> Assessment:
    """One iTEP product offered to teachers (GTX: the learner sees the test ID; STX: iTEP e-mails it)."""
    if not product_code or not product_code.replace("-", "").isalnum():
        raise RefusedValue(N_("The product code looks like GTX-Academic-Plus or STX-Placement-Timed."))
    assessment = Assessment(provider=NAME, title=title,
                            settings={"account_id": account.id, "product_code": product_code})
    session.add(assessment)
    session.flush()
    return assessment


def itep_webhook_url(settings_url: str, account: ProviderAccount) -> str:
    """The URL to give iTEP for the account's tracking code (iTEP staff configure it; it is not self-service)."""
    url = f"{settings_url}?account={account.id}"
    if account.settings.get("webhook_auth") == "url_token":
        url += f"&token={account.webhook_secret}"
    return url


def shown_webhook_url(callback_url: str, account: ProviderAccount) -> str:
    url = itep_webhook_url(callback_url, account)
    return url.replace(account.webhook_secret, HIDDEN_IN_URL) if account.webhook_secret else url


def account_view(account: ProviderAccount, callback_url: str) -> AccountView:
    settings = account.settings
    webhook = (AccountLine.worded(URL_TOKEN, muted=True) if settings.get("webhook_auth") == "url_token"
               else AccountLine.worded(N_("header %(header)s"), muted=True, header=settings.get("webhook_header")))
    return AccountView(id=account.id, name=account.name, columns=(
        (N_("Account"), (AccountLine(account.name),
                         AccountLine.worded(N_("tracking code %(tracking_code)s"), muted=True,
                                            tracking_code=settings.get("tracking_code")))),
        (N_("Fulfillment"), (AccountLine(code=str(settings.get("endpoint_url"))),
                             AccountLine.worded(N_("signature %(header)s (%(encoding)s)"), muted=True,
                                                header=settings.get("signature_header"),
                                                encoding=settings.get("signature_encoding")))),
        (N_("Results webhook (give this to iTEP)"), (AccountLine(code=shown_webhook_url(callback_url, account)),
                                                     webhook)),
        (N_("Secrets"), (AccountLine.worded(N_("API key"), code=masked(account.api_key)),
                         AccountLine.worded(N_("webhook secret"), code=masked(account.webhook_secret)))),
    ))


def instructions(account: ProviderAccount, callback_url: str) -> str:
    settings = account.settings
    shown = shown_webhook_url(callback_url, account)
    return (f"Ask iTEP to send tracking code {settings.get('tracking_code')}'s results to {shown}"
            + ("" if settings.get("webhook_auth") == "url_token"
               else f" with the header {settings.get('webhook_header')}."))
