"""Names and Role Provisioning Services: course memberships with cursor paging.

Cursors are deliberately mixed-case and matched exactly, so a client that normalises (lower-cases)
the rel="next" URL fails loudly instead of silently re-reading page one.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from lti_tool.sandbox.platform.models import PlatformError
from lti_tool.sandbox.platform.state import PlatformState


@dataclass(frozen=True)
class CursorPosition:
    context_id: str
    offset: int
    limit: int
    role: str | None


def mixed_case_token() -> str:
    while True:
        token = secrets.token_urlsafe(6)
        has_both_cases = any(ch in string.ascii_lowercase for ch in token) and \
            any(ch in string.ascii_uppercase for ch in token)
        if has_both_cases:
            return token


class NrpsService:
    def __init__(self, state: PlatformState) -> None:
        self.state = state
        self._cursors: dict[str, CursorPosition] = {}

    def memberships(self, context_id: str, args: Mapping[str, str]) -> tuple[dict[str, Any], str | None]:
        """One page of the membership container and the rel="next" URL, if any."""
        with self.state.lock:
            context = self.state.context(context_id)
            position = self._position(context_id, args)
            members = self._members(context_id, position.role)
            page = members[position.offset:position.offset + position.limit] if position.limit else members
            next_url = None
            if position.limit and position.offset + position.limit < len(members):
                next_url = self._next_url(position)
        body = {"id": self.state.url(f"/contexts/{context_id}/memberships"),
                "context": {"id": context.id, "label": context.label, "title": context.title},
                "members": page}
        return body, next_url

    def _position(self, context_id: str, args: Mapping[str, str]) -> CursorPosition:
        cursor = args.get("cursor")
        if cursor is not None:
            position = self._cursors.get(cursor)  # exact, case-sensitive match on purpose
            if position is None or position.context_id != context_id:
                raise PlatformError(400, f"invalid cursor {cursor!r}")
            return position
        try:
            limit = int(args.get("limit", 0))
        except ValueError as exc:
            raise PlatformError(400, "limit must be an integer") from exc
        return CursorPosition(context_id=context_id, offset=0, limit=max(limit, 0), role=args.get("role"))

    def _next_url(self, position: CursorPosition) -> str:
        cursor = mixed_case_token()
        self._cursors[cursor] = CursorPosition(position.context_id, position.offset + position.limit,
                                               position.limit, position.role)
        query = urlencode({"limit": position.limit, "cursor": cursor})
        return self.state.url(f"/contexts/{position.context_id}/memberships?{query}")

    def _members(self, context_id: str, role: str | None) -> list[dict[str, Any]]:
        members = []
        for sub, roles in self.state.enrolments.get(context_id, {}).items():
            if role and not any(r == role or r.endswith("#" + role) for r in roles):
                continue
            member: dict[str, Any] = {"status": "Active", "user_id": sub, "roles": list(roles)}
            member.update(self.state.users[sub].profile())
            members.append(member)
        return members
