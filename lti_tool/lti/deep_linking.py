"""LTI Deep Linking 2.0: the tool answers a deep-linking request with one graded ``ltiResourceLink``.

pylti1p3 builds the content item and the message; we sign it with our current key (its kid, joserfc) and the
picker renders our own auto-submitting form, because pylti1p3's puts the return URL into HTML unescaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from pylti1p3.registration import Registration
from sqlalchemy import orm

from lti_tool.keys import signing_key
from lti_tool.lti.claims import Claim
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiRegistration


class NotDeepLinking(ValueError):
    """The launch carries no deep-linking settings: there is nowhere to send a link back to."""


@dataclass(frozen=True)
class DeepLinkReturn:
    return_url: str
    jwt: str


@dataclass(frozen=True)
class PlacedLink:
    """The graded link to place: its gradebook column and the custom parameters the platform sends back at launch."""

    title: str
    launch_url: str
    score_maximum: float
    resource_id: str
    tag: str
    custom: Mapping[str, str]


def deep_link_response(session: orm.Session, launch: LtiLaunch, link: PlacedLink) -> DeepLinkReturn:
    """The signed ``LtiDeepLinkingResponse`` placing ``link`` as a graded resource link."""
    settings = launch.claims.get(Claim.DEEP_LINKING_SETTINGS)
    if not isinstance(settings, dict) or not settings.get("deep_link_return_url"):
        raise NotDeepLinking("This launch is not a deep-linking request; add the activity from the course editor.")
    registration = session.get(LtiRegistration, launch.registration_id)
    deployment = session.get(LtiDeployment, launch.deployment_id)
    assert registration is not None
    assert deployment is not None
    key = signing_key(session)
    line_item = (LineItem().set_score_maximum(link.score_maximum).set_label(link.title)
                 .set_resource_id(link.resource_id).set_tag(link.tag))
    resource = (DeepLinkResource().set_title(link.title).set_url(link.launch_url).set_lineitem(line_item)
                .set_custom_params(dict(link.custom)))
    # pylti1p3's message needs only the issuer and client_id of the registration; the tool signs it itself.
    platform = Registration().set_issuer(registration.issuer).set_client_id(registration.client_id)
    message: dict[str, Any] = DeepLink(platform, deployment.deployment_id,
                                       settings).get_message_jwt([resource])  # type: ignore[arg-type]
    if "data" not in settings:  # echo data only when the platform sent it (LTI-DL §4.4)
        message.pop("https://purl.imsglobal.org/spec/lti-dl/claim/data", None)
    token = jwt.encode({"alg": "RS256", "kid": key.kid}, message, RSAKey.import_key(key.private_key_pem))
    return DeepLinkReturn(return_url=str(settings["deep_link_return_url"]), jwt=token)
