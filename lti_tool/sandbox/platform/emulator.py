"""PlatformEmulator: an in-memory LTI 1.3 platform (a Moodle or Canvas stand-in) for tests, bench and demo.

All state is process memory guarded by one re-entrant lock; nothing is persisted. The HTTP face is
in views.py (create_platform_app / create_platform_blueprint); this module is the domain facade.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lti_tool.sandbox.platform import constants as c
from lti_tool.sandbox.platform.ags import AgsService
from lti_tool.sandbox.platform.deep_linking import DeepLinkService
from lti_tool.sandbox.platform.launch import IdTokenTamper
from lti_tool.sandbox.platform.launch import LaunchRequest
from lti_tool.sandbox.platform.launch import LaunchService
from lti_tool.sandbox.platform.models import Flavor
from lti_tool.sandbox.platform.models import LineItem
from lti_tool.sandbox.platform.models import PlatformError
from lti_tool.sandbox.platform.nrps import NrpsService
from lti_tool.sandbox.platform.oauth import OAuthService
from lti_tool.sandbox.platform.registration import RegistrationService
from lti_tool.sandbox.platform.state import PRODUCT_VERSIONS
from lti_tool.sandbox.platform.state import PlatformState


@dataclass(frozen=True)
class DefaultCourse:
    context_id: str
    instructor: str
    learner: str


class PlatformEmulator(PlatformState):
    """The emulated LMS. Setup methods mirror what an admin/teacher does; services answer the tool."""

    def __init__(self, issuer: str, base_url: str, flavor: Flavor = "moodle", auth_base_url: str | None = None) -> None:
        super().__init__(issuer, base_url, flavor, auth_base_url)
        self.launch_service = LaunchService(self)
        self.oauth = OAuthService(self)
        self.ags = AgsService(self)
        self.nrps = NrpsService(self)
        self.deep_linking = DeepLinkService(self)
        self.registration = RegistrationService(self)

    # --- keys ----------------------------------------------------------------------------------------
    def rotate_key(self) -> str:
        """New signing key (returned kid); older keys stay published until retire_old_keys()."""
        with self.lock:
            kid = self.keys.rotate()
        self.log(f"signing key rotated, new kid={kid}")
        return kid

    def retire_old_keys(self) -> None:
        with self.lock:
            self.keys.retire_old_keys()
        self.log("old signing keys retired")

    def public_jwks(self) -> dict[str, Any]:
        with self.lock:
            return self.keys.public_jwks()

    def sign_jwt(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        with self.lock:
            return self.keys.sign(header, claims)

    # --- setup helpers -------------------------------------------------------------------------------
    def set_can_manage_lineitems(self, client_id: str, allowed: bool) -> None:
        with self.lock:
            self.tool(client_id).can_manage_lineitems = allowed

    def add_default_course(self, context_id: str = "course-101") -> DefaultCourse:
        """A course with one instructor and one learner, handy for demos and tests."""
        self.add_context(context_id, "Introduction to Phonetics", "PHON101")
        instructor, learner = f"{context_id}-instructor", f"{context_id}-learner"
        self.add_user(instructor, "Ada", "Lovelace", email="ada@example.edu")
        self.add_user(learner, "Alan", "Turing", email="alan@example.edu")
        self.enrol(context_id, instructor, [c.ROLE_INSTRUCTOR, c.ROLE_INST_FACULTY])
        self.enrol(context_id, learner, [c.ROLE_LEARNER, c.ROLE_INST_STUDENT])
        return DefaultCourse(context_id=context_id, instructor=instructor, learner=learner)

    # --- launches ------------------------------------------------------------------------------------
    def begin_launch(self, client_id: str, sub: str, context_id: str, resource_link_id: str | None = None,
                     message_type: str = c.MSG_RESOURCE_LINK, deployment_id: str | None = None,
                     custom: dict[str, str] | None = None, roles: list[str] | None = None,
                     lineitem: str | None = None, with_lineitem: bool = False,
                     resource_link_title: str | None = None, target_link_uri: str | None = None,
                     extra_claims: dict[str, Any] | None = None, for_user: str | None = None) -> str:
        """Start a launch like a click in the LMS; returns the tool's login-initiation URL to open."""
        return self.launch_service.begin(LaunchRequest(
            client_id=client_id, sub=sub, context_id=context_id, resource_link_id=resource_link_id,
            message_type=message_type, deployment_id=deployment_id, custom=custom, roles=roles,
            lineitem=lineitem, with_lineitem=with_lineitem, resource_link_title=resource_link_title,
            target_link_uri=target_link_uri, extra_claims=extra_claims, for_user=for_user))

    def open_placement(self, client_id: str, sub: str, context_id: str, placement: str) -> str:
        """What a Canvas user's click opens (e.g. Modules → External Tool is ``link_selection``): the message the
        registration gave that placement, as Canvas kept it (the first message listing it)."""
        with self.lock:
            message = self.tool(client_id).placements.get(placement)
        if message is None:
            raise PlatformError(404, f"the tool has no {placement} placement")
        return self.begin_launch(client_id, sub, context_id, message_type=str(message.get("type")),
                                 target_link_uri=message.get("target_link_uri"))

    def tamper_next_id_token(self, fn: IdTokenTamper) -> None:
        """One-shot: fn(header, claims) mutates them in place, or returns a token string sent verbatim."""
        self.launch_service.tamper_next_id_token(fn)

    # --- services helpers ----------------------------------------------------------------------------
    def gradebook(self, context_id: str) -> dict[str, dict[str, dict[str, Any]]]:
        return self.ags.gradebook(context_id)

    def line_items_of(self, context_id: str) -> list[LineItem]:
        with self.lock:
            return [item for item in self.line_items.values() if item.context_id == context_id]

    def expire_access_tokens(self) -> None:
        self.oauth.expire_access_tokens()

    def throttle_next(self, times: int = 1, path_substring: str = "/scores") -> None:
        """Canvas's throttling (doc/api/throttling.md): the next calls get 403 with these words, to retry later."""
        self.fail_next(path_substring, 403, times, body="403 Forbidden (Rate Limit Exceeded)\n")

    def conclude_course(self, context_id: str) -> None:
        """The course ends: Canvas refuses its scores with 422."""
        with self.lock:
            self.context(context_id).concluded = True
        self.log(f"course {context_id} concluded")

    def limit_attempts(self, lineitem_id: str, allowed: int | None) -> None:
        """The assignment's "allowed attempts" (None: unlimited); each new submission takes one."""
        with self.lock:
            self.line_items[lineitem_id].allowed_attempts = allowed

    def grade_by_teacher(self, lineitem_id: str, sub: str, score: float) -> None:
        """A teacher types a grade in the gradebook (SpeedGrader): a grade Canvas calls "non-tool"."""
        with self.lock:
            grade = self.grades.get(lineitem_id, {}).get(sub)
            if grade is None:
                raise PlatformError(404, f"no submission of {sub!r} on line item {lineitem_id!r}")
            grade.score, grade.graded_by = score, "teacher"
        self.log(f"teacher graded {sub} on {lineitem_id}: {score}")

    def set_down(self, down: bool) -> None:
        """While down, token/AGS/NRPS endpoints answer 503."""
        self.down = down
        self.log(f"platform services {'down' if down else 'up'}")

    def begin_dynamic_registration(self, tool_registration_url: str) -> str:
        return self.registration.begin(tool_registration_url)

    def openid_configuration(self) -> dict[str, Any]:
        platform_configuration: dict[str, Any] = {
            "product_family_code": self.flavor,
            "version": PRODUCT_VERSIONS[self.flavor],
            "messages_supported": [{"type": message} for message in c.SUPPORTED_MESSAGES],
            "variables": [],
        }
        configuration: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.auth_url,
            "token_endpoint": self.token_url,
            "jwks_uri": self.jwks_url,
            "registration_endpoint": self.url("/register"),
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", *c.SERVICE_SCOPES],
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
            c.PLATFORM_CONFIGURATION: platform_configuration,
        }
        if self.flavor == "canvas":
            # As Canvas's security_controller.rb: the OIDC auth domain as a bare host, the messages with the
            # placements they can have (no Submission Review: Canvas reviews through its own extension), and the
            # school's (root account's) name.
            configuration["authorization_server"] = urlsplit(self.auth_base_url).netloc
            platform_configuration["messages_supported"] = [
                {"type": message, "placements": list(placements)}
                for message, placements in c.CANVAS_PLACEMENTS.items()]
            platform_configuration[c.CANVAS_ACCOUNT_NAME] = self.account_name
        return configuration
