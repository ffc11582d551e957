"""Grade passback: service access tokens, the AGS client, and the worker that empties the score outbox."""

from __future__ import annotations

from lti_tool.grading.ags import AgsClient
from lti_tool.grading.ags import AgsError
from lti_tool.grading.ags import AgsRejectedError
from lti_tool.grading.ags import AgsThrottledError
from lti_tool.grading.ags import AgsUnauthorizedError
from lti_tool.grading.ags import AgsUnavailableError
from lti_tool.grading.ags import ScoreConflictError
from lti_tool.grading.ags import scores_url
from lti_tool.grading.outbox import Lease
from lti_tool.grading.scores import build_score
from lti_tool.grading.tokens import AccessTokenError
from lti_tool.grading.tokens import AccessTokens
from lti_tool.grading.worker import PassbackWorker
from lti_tool.grading.worker import backoff_delay

__all__ = [
    "AccessTokenError",
    "AccessTokens",
    "AgsClient",
    "AgsError",
    "AgsRejectedError",
    "AgsThrottledError",
    "AgsUnauthorizedError",
    "AgsUnavailableError",
    "Lease",
    "PassbackWorker",
    "ScoreConflictError",
    "backoff_delay",
    "build_score",
    "scores_url",
]
