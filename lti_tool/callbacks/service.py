"""Handle a provider callback: authenticate, validate, store once, queue the gradebook score.

The usual callback costs one write: the provider names the attempt and its activity from the signed request, the
activity's settings come from the per-process cache (:mod:`lti_tool.activity_configs`), and the write itself
checks that the attempt still belongs to that activity. Anything unusual — a refusal, a repeated delivery, an
attempt that moved to another activity, a request that names no activity — is decided again from what is stored
now: the attempt's activity and its settings read afresh. So a cached setting never refuses a callback, and a
repeated delivery never stores anything.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.activity_configs import ActivityConfigs
from lti_tool.grading.policy import RecordedResult
from lti_tool.grading.policy import record_result
from lti_tool.models import Attempt
from lti_tool.providers.interfaces import ActivityConfig
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.providers.interfaces import CallbackError
from lti_tool.providers.interfaces import CallbackRequest
from lti_tool.providers.interfaces import CallbackTarget
from lti_tool.providers.interfaces import ReportedResult

log = logging.getLogger(__name__)

DUPLICATE = RecordedResult(result_id=None, is_new=False, submission_id=None)


def handle_callback(session: orm.Session, provider: AssessmentProvider, configs: ActivityConfigs,
                    request: CallbackRequest, report_page_url: str) -> RecordedResult:
    """:raise CallbackError: refused; the caller rolls back, so nothing is stored."""
    target = provider.find_attempt(session, request)
    if target.activity_id is not None:
        try:
            config, report = _read(session, provider, configs.get(session, target.activity_id), request)
        except CallbackError:
            pass  # decided below on the stored state: the attempt may have moved, the key may be new
        else:
            recorded = record_result(session, target, config, report, provider.label, report_page_url,
                                     check_activity=True, component_labels=provider.component_labels)
            if recorded is not None:
                return recorded
    activity_id = _attempt_activity(session, target)
    if activity_id is None:
        raise CallbackError(404, "No attempt matches this callback (the activity may have been removed).")
    config, report = _read(session, provider, configs.load(session, activity_id), request)
    recorded = record_result(session, target, config, report, provider.label, report_page_url,
                             check_activity=False, component_labels=provider.component_labels)
    if recorded is None:
        log.info("duplicate %s result for attempt %s ignored", provider.label, target.attempt)
        return DUPLICATE
    return recorded


def _read(session: orm.Session, provider: AssessmentProvider, config: ActivityConfig | None,
          request: CallbackRequest) -> tuple[ActivityConfig, ReportedResult]:
    if config is None or config.provider != provider.name:
        raise CallbackError(404, f"This attempt does not belong to a {provider.label} activity.")
    return config, provider.read_result(session, config, request)


def _attempt_activity(session: orm.Session, target: CallbackTarget) -> int | None:
    """The activity of the attempt ``target`` names, as stored now."""
    where = [getattr(Attempt, name) == value for name, value in target.attempt.items()]
    return session.scalar(sa.select(Attempt.activity_id).where(*where))
