"""Assignment and Grade Services: line items, scores and results, with Moodle's or Canvas's strictness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from lti_tool.sandbox.platform.canvas_scores import CanvasScores
from lti_tool.sandbox.platform.models import LineItem
from lti_tool.sandbox.platform.models import PlatformError
from lti_tool.sandbox.platform.models import ScorePost
from lti_tool.sandbox.platform.models import is_gradable
from lti_tool.sandbox.platform.scores import parse_score
from lti_tool.sandbox.platform.state import PlatformState

Page = tuple[list[dict[str, Any]], "str | None"]
LINEITEM_FILTERS = {"resource_link_id": "resource_link_id", "resource_id": "resource_id", "tag": "tag"}


def require_media_type(content_type: str, expected: str, flavor: str) -> None:
    # Moodle insists on the IMS media type; Canvas also takes plain JSON.
    accepted = {expected} if flavor == "moodle" else {expected, "application/json"}
    if content_type not in accepted:
        raise PlatformError(415, f"unsupported media type {content_type!r}, expected {expected}")


def paginate(items: list[dict[str, Any]], args: Mapping[str, str], base: str) -> Page:
    """Offset paging with `limit`/`from` (as Moodle does); returns the page and the rel=next URL."""
    limit, start = _int_arg(args, "limit", 0), _int_arg(args, "from", 0)
    if limit <= 0:
        return items[start:], None
    page, rest = items[start:start + limit], items[start + limit:]
    if not rest:
        return page, None
    params = {key: value for key, value in args.items() if key not in ("limit", "from")}
    return page, base + "?" + urlencode({**params, "limit": limit, "from": start + limit})


def _int_arg(args: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(args.get(name, default))
    except ValueError as exc:
        raise PlatformError(400, f"{name} must be an integer") from exc


class AgsService:
    def __init__(self, state: PlatformState) -> None:
        self.state = state
        self.canvas = CanvasScores(state)

    # --- line items ------------------------------------------------------------------------------------
    def list_lineitems(self, context_id: str, client_id: str, args: Mapping[str, str]) -> Page:
        with self.state.lock:
            self.state.context(context_id)
            items = [item for item in self.state.line_items.values()
                     if item.context_id == context_id and item.client_id == client_id
                     and all(getattr(item, attribute) == args[name]
                             for name, attribute in LINEITEM_FILTERS.items() if name in args)]
            bodies = [item.to_json(self.state.lineitem_url(item)) for item in items]
        return paginate(bodies, args, self.state.url(f"/contexts/{context_id}/lineitems"))

    def create_lineitem(self, context_id: str, client_id: str, body: Any) -> dict[str, Any]:
        with self.state.lock:
            self.state.context(context_id)
            fields = self._lineitem_fields(body, context_id, creating=True)
            item = self.state.create_line_item(LineItem(id="", context_id=context_id, client_id=client_id,
                                                        **fields))
            return item.to_json(self.state.lineitem_url(item))

    def get_lineitem(self, context_id: str, lineitem_id: str, client_id: str) -> dict[str, Any]:
        with self.state.lock:
            item = self._owned_lineitem(context_id, lineitem_id, client_id)
            return item.to_json(self.state.lineitem_url(item))

    def update_lineitem(self, context_id: str, lineitem_id: str, client_id: str, body: Any) -> dict[str, Any]:
        with self.state.lock:
            item = self._owned_lineitem(context_id, lineitem_id, client_id)
            old_maximum = item.score_maximum
            for name, value in self._lineitem_fields(body, context_id, creating=False).items():
                if name != "resource_link_id":  # the link of a line item cannot be changed
                    setattr(item, name, value)
            if self.state.flavor == "moodle" and item.score_maximum != old_maximum:
                self._rescale_grades(lineitem_id, old_maximum, item.score_maximum)
            self.state.log(f"line item {lineitem_id} updated: {item.label!r} max={item.score_maximum}")
            return item.to_json(self.state.lineitem_url(item))

    def _rescale_grades(self, lineitem_id: str, old_maximum: float, new_maximum: float) -> None:
        """Moodle's grade_item::rescale_grades_keep_percentage after a PUT changed grademax; Canvas keeps the
        points a submission has when points_possible changes."""
        for grade in self.state.grades.get(lineitem_id, {}).values():
            if grade.score is not None:
                grade.score = grade.score / old_maximum * new_maximum
            grade.max = new_maximum

    def delete_lineitem(self, context_id: str, lineitem_id: str, client_id: str) -> None:
        with self.state.lock:
            self._owned_lineitem(context_id, lineitem_id, client_id)
            del self.state.line_items[lineitem_id]
            self.state.grades.pop(lineitem_id, None)
        self.state.log(f"line item {lineitem_id} deleted")

    def _owned_lineitem(self, context_id: str, lineitem_id: str, client_id: str) -> LineItem:
        item = self.state.line_items.get(lineitem_id)
        if item is None or item.context_id != context_id or item.client_id != client_id:
            raise PlatformError(404, f"line item {lineitem_id!r} not found")
        return item

    def _lineitem_fields(self, body: Any, context_id: str, creating: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise PlatformError(400, "line item body must be a JSON object")
        label, maximum = body.get("label"), body.get("scoreMaximum")
        if not isinstance(label, str) or not label.strip():
            raise PlatformError(400, "label is required")
        if isinstance(maximum, bool) or not isinstance(maximum, (int, float)) or maximum <= 0:
            raise PlatformError(400, "scoreMaximum must be a positive number")
        link_id = body.get("resourceLinkId")
        if creating and link_id is not None:
            link = self.state.resource_links.get(str(link_id))
            if link is None or link.context_id != context_id:
                raise PlatformError(400, f"unknown resourceLinkId {link_id!r} in this context")
        return {"label": label, "score_maximum": float(maximum), "resource_link_id": link_id,
                "resource_id": body.get("resourceId"), "tag": body.get("tag"),
                "start_date_time": body.get("startDateTime"), "end_date_time": body.get("endDateTime")}

    # --- scores and results ----------------------------------------------------------------------------
    def post_score(self, context_id: str, lineitem_id: str, client_id: str,
                   body: Any) -> dict[str, Any] | None:
        """Store a score; the answer body is None for Moodle (empty 200) and {resultUrl} for Canvas."""
        post = ScorePost(context_id=context_id, lineitem_id=lineitem_id, body=body, status=200)
        try:
            return self._store_score(context_id, lineitem_id, client_id, body)
        except PlatformError as exc:
            post.status = exc.status
            self.state.log(f"score refused ({exc.status}) on {lineitem_id}: {exc.description}")
            raise
        finally:
            with self.state.lock:
                self.state.score_posts.append(post)

    def _store_score(self, context_id: str, lineitem_id: str, client_id: str,
                     body: Any) -> dict[str, Any] | None:
        with self.state.lock:
            item = self._owned_lineitem(context_id, lineitem_id, client_id)
            if self.state.flavor == "canvas":
                return self.canvas.store(item, body)
            score = parse_score(body)
            self._require_gradable(context_id, score.user_id)
            grades = self.state.grades.setdefault(lineitem_id, {})
            previous = grades.get(score.user_id)
            # Moodle: 409 with an empty body for a timestamp not later, to the second, than the stored one.
            if previous is not None and int(score.parsed_timestamp.timestamp()) <= int(
                    previous.parsed_timestamp.timestamp()):
                raise PlatformError(409, "score timestamp is not after the stored one", kind="empty")
            grade = score.to_grade(item.score_maximum, keep_submission=False)
            grades[score.user_id] = grade
            self.state.log(f"score stored on {lineitem_id} for {score.user_id}: {grade.score}")
            return None

    def _require_gradable(self, context_id: str, sub: str) -> None:
        roles = self.state.enrolments.get(context_id, {}).get(sub)
        if roles is None or not is_gradable(roles):
            raise PlatformError(400, f"Incorrect score received: user {sub!r} is not a learner here")

    def results(self, context_id: str, lineitem_id: str, client_id: str, args: Mapping[str, str]) -> Page:
        with self.state.lock:
            item = self._owned_lineitem(context_id, lineitem_id, client_id)
            url = self.state.lineitem_url(item)
            bodies = []
            for sub, grade in self.state.grades.get(lineitem_id, {}).items():
                if args.get("user_id") not in (None, sub):
                    continue
                result: dict[str, Any] = {"id": f"{url}/results/{sub}", "scoreOf": url, "userId": sub,
                                          "resultMaximum": grade.max}
                if grade.score is not None:
                    result["resultScore"] = grade.score
                if grade.comment:
                    result["comment"] = grade.comment
                bodies.append(result)
        return paginate(bodies, args, f"{url}/results")

    def gradebook(self, context_id: str) -> dict[str, dict[str, dict[str, Any]]]:
        with self.state.lock:
            return {lineitem_id: {sub: grade.to_public() for sub, grade in grades.items()}
                    for lineitem_id, grades in self.state.grades.items()
                    if self.state.line_items[lineitem_id].context_id == context_id}

