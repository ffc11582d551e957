"""The statements that look for pending scores name 'pending' in their SQL text.

PostgreSQL may run a prepared statement with a generic plan, which can use the partial index over pending rows
(``WHERE status = 'pending'``) only when the query names the value itself; bound as ``$1`` it scans every score
of the attempt, or of the table for the worker's claim.
"""

from __future__ import annotations

import datetime as dt
import re

from lti_tool.db import Database
from lti_tool.db import utcnow
from lti_tool.grading.outbox import Outbox
from lti_tool.grading.results import supersede_pending
from tests.sql_capture import statements_sent


def _touching_submissions(sent: list[str]) -> list[str]:
    return [statement for statement in sent if "score_submission" in statement]


def assert_pending_is_written_in(statement: str) -> None:
    assert ".status = 'pending'" in statement
    assert not re.search(r"\.status = (\?|%\(|\$|:)", statement), statement  # no status bound as a parameter


def test_superseding_names_pending_in_the_sql(database: Database) -> None:
    with statements_sent(database.engine) as sent, database.session() as session:
        supersede_pending(session, attempt_id=1, now=utcnow())
    [update] = _touching_submissions(sent)
    assert_pending_is_written_in(update)


def test_the_workers_claim_names_pending_in_the_sql(database: Database) -> None:
    with statements_sent(database.engine) as sent:
        Outbox(database, utcnow, dt.timedelta(seconds=60)).claim(10)
    [claim] = _touching_submissions(sent)
    assert_pending_is_written_in(claim)  # for the claimed rows and their in-flight siblings
