"""The score outbox seen from a worker: claim due rows under a lease, and record what became of them.

Every write after the claim is guarded by the lease token, so a worker that was paused past its lease (and whose
rows another worker took over) cannot overwrite the newer owner's outcome. Each method is one short transaction.
While the lease holds, nobody else changes a claimed row (callbacks and admins leave leased rows alone), so a batch
is read once, right after the lease.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.db import Database
from lti_tool.db import sql_constant
from lti_tool.grading.scores import ScoreJob
from lti_tool.grading.scores import to_milliseconds
from lti_tool.models import Attempt
from lti_tool.models import AttemptStatus
from lti_tool.models import LtiRegistration
from lti_tool.models import LtiUser
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus

Submission = ScoreSubmission
PENDING = SubmissionStatus.PENDING.value
FULLY_GRADED = "FullyGraded"


@dataclass(frozen=True)
class Lease:
    submission_id: int
    token: str
    leased_until: dt.datetime | None = None  # as claimed; a renewal extends it in the database only
    # The score timestamp this lease would have given the row; a row that already had another one was claimed
    # before (a crash, a timeout, a retry): the platform may hold it already.
    stamped: dt.datetime | None = None


class Outbox:
    def __init__(self, database: Database, clock: Callable[[], dt.datetime], lease: dt.timedelta) -> None:
        self.database = database
        self.clock = clock
        self.lease_length = lease

    def claim(self, limit: int, skip_registrations: Collection[int] = (),
              only_registration: int | None = None) -> list[Lease]:
        """Lease up to ``limit`` due rows to this worker, oldest due first; committed before returning.

        The same write fixes each row's score timestamp if it has none yet, so a resend carries the first one.
        ``skip_registrations``: platforms whose breaker is open. ``only_registration``: a probe of an open
        platform, which takes its oldest pending row whatever its backoff.
        """
        now, token = self.clock(), secrets.token_hex(16)
        stamp = to_milliseconds(now)
        sibling = orm.aliased(Submission)
        # One score of an attempt in flight at a time: two workers racing would let the older value land last.
        sibling_in_flight = sa.exists().where(sibling.attempt_id == Submission.attempt_id,
                                              sibling.id != Submission.id, sibling.status == sql_constant(PENDING),
                                              sibling.locked_until > now)
        due: list[sa.ColumnElement[bool]] = [
            Submission.status == sql_constant(PENDING),
            sa.or_(Submission.locked_until.is_(None), Submission.locked_until <= now), ~sibling_in_flight]
        if only_registration is not None:
            due.append(Submission.attempt_id.in_(
                sa.select(Attempt.id).where(Attempt.registration_id == only_registration)))
        else:
            due.append(Submission.next_attempt_at <= now)
        if skip_registrations:
            due.append(Submission.attempt_id.not_in(
                sa.select(Attempt.id).where(Attempt.registration_id.in_(list(skip_registrations)))))
        oldest_due = sa.select(Submission.id).where(*due).order_by(Submission.next_attempt_at, Submission.id)
        leased_until = now + self.lease_length
        lease = {"claim_token": token, "locked_until": leased_until,
                 "score_timestamp": sa.func.coalesce(Submission.score_timestamp,
                                                     sa.literal(stamp, Submission.score_timestamp.type))}
        with self.database.session() as session:
            if self.database.is_postgresql:
                # Rows another worker is claiming right now are skipped, not waited for.
                ids = list(session.scalars(oldest_due.limit(limit).with_for_update(skip_locked=True)))
                if ids:
                    session.execute(sa.update(Submission).where(Submission.id.in_(ids)).values(**lease),
                                    execution_options={"synchronize_session": False})
            else:
                # SQLite runs one writer at a time: a single guarded UPDATE cannot interleave with another claim.
                claimed = sa.update(Submission).where(Submission.id.in_(oldest_due.limit(limit)), *due)
                ids = list(session.scalars(claimed.values(**lease).returning(Submission.id),
                                           execution_options={"synchronize_session": False}))
        return [Lease(submission_id, token, leased_until, stamp) for submission_id in sorted(ids)]

    def release(self, leases: list[Lease]) -> None:
        """Give claimed rows back unsent and untouched (their platform's breaker just opened): one statement."""
        if not leases:
            return
        with self.database.session() as session:
            for token in {lease.token for lease in leases}:
                ids = [lease.submission_id for lease in leases if lease.token == token]
                stamp = next(lease.stamped for lease in leases if lease.token == token)
                # A timestamp this lease gave was never sent: the next lease stamps afresh. One from an earlier
                # lease stays (that lease may have delivered it).
                stamped_here = Submission.score_timestamp == sa.literal(stamp, Submission.score_timestamp.type)
                session.execute(sa.update(Submission).where(Submission.id.in_(ids), Submission.claim_token == token,
                                                            Submission.status == PENDING)
                                .values(locked_until=None, score_timestamp=sa.case(
                                    (stamped_here, sa.null()), else_=Submission.score_timestamp)),
                                execution_options={"synchronize_session": False})

    def renew(self, lease: Lease) -> bool:
        """Extend the lease before a send; False when the row is no longer ours (taken over or superseded)."""
        with self.database.session() as session:
            return self._update(session, lease, pending_only=True, locked_until=self.clock() + self.lease_length)

    def load(self, leases: list[Lease]) -> dict[int, ScoreJob]:
        """What is needed to send each claimed row that is still ours and pending, by submission id: one query
        for a whole batch."""
        if not leases:
            return {}
        with self.database.session() as session:
            return self._jobs(session, {lease.submission_id: lease.token for lease in leases})

    def renew_and_load(self, lease: Lease) -> ScoreJob | None:
        """Extend the lease and read the row again; None when it is no longer ours (taken over or superseded)."""
        with self.database.session() as session:
            if not self._update(session, lease, pending_only=True, locked_until=self.clock() + self.lease_length):
                return None
            return self._jobs(session, {lease.submission_id: lease.token}).get(lease.submission_id)

    @staticmethod
    def _jobs(session: orm.Session, tokens: dict[int, str]) -> dict[int, ScoreJob]:
        newer = orm.aliased(Submission)
        newer_sent = sa.exists().where(newer.attempt_id == Submission.attempt_id, newer.id > Submission.id,
                                       newer.status == SubmissionStatus.SENT.value)
        earlier = orm.aliased(Submission)
        earlier_sent = [earlier.attempt_id == Submission.attempt_id, earlier.id < Submission.id,
                        earlier.status == SubmissionStatus.SENT.value]
        graded_before = sa.exists().where(*earlier_sent, earlier.grading_progress == FULLY_GRADED)
        result_sent_before = sa.exists().where(*earlier_sent, earlier.result_id == Submission.result_id)
        rows = session.execute(
            sa.select(Submission.id, Submission.claim_token, Submission.attempt_id, Submission.tries,
                      Submission.score_given, Submission.score_maximum, Submission.activity_progress,
                      Submission.grading_progress, Submission.comment, Submission.score_timestamp,
                      Attempt.lineitem_url,
                      Attempt.last_score_timestamp, Attempt.datetime_finished, LtiUser.sub, LtiRegistration,
                      newer_sent.label("newer_sent"), graded_before.label("graded_before"),
                      result_sent_before.label("result_sent_before"))
            .join(Attempt, Attempt.id == Submission.attempt_id)
            .join(LtiUser, LtiUser.id == Attempt.user_id)
            .join(LtiRegistration, LtiRegistration.id == Attempt.registration_id)
            .where(Submission.id.in_(list(tokens)), Submission.status == PENDING)
        ).all()
        session.expunge_all()  # the registrations outlive the session; only their columns are read
        jobs = {}
        for row in rows:
            if row.claim_token != tokens[row.id]:
                continue  # taken over by another worker
            jobs[row.id] = ScoreJob(
                submission_id=row.id, attempt_id=row.attempt_id, tries=row.tries, lineitem_url=row.lineitem_url,
                user_sub=row.sub, registration=row.LtiRegistration, score_given=row.score_given,
                score_maximum=row.score_maximum, activity_progress=row.activity_progress,
                grading_progress=row.grading_progress, comment=row.comment,
                last_score_timestamp=row.last_score_timestamp, newer_sent=bool(row.newer_sent),
                score_timestamp=row.score_timestamp, finished_at=row.datetime_finished,
                graded_before=bool(row.graded_before), result_sent_before=bool(row.result_sent_before))
        return jobs

    def mark_sent(self, lease: Lease, job: ScoreJob, timestamp: dt.datetime) -> bool:
        """Record the LMS's acceptance. The attempt is updated even if the lease was lost: the LMS has the score."""
        now = self.clock()
        last = Attempt.last_score_timestamp
        with self.database.session() as session:
            recorded = self._update(session, lease, pending_only=False, status=SubmissionStatus.SENT.value,
                                    datetime_sent=now, locked_until=None, last_error=None, last_http_status=200)
            session.execute(sa.update(Attempt).where(Attempt.id == job.attempt_id).values(
                status=AttemptStatus.GRADED.value, status_detail=None,
                last_score_timestamp=sa.case((sa.or_(last.is_(None), last < timestamp), timestamp), else_=last)))
        return recorded

    def park(self, lease: Lease, job: ScoreJob, message: str, http_status: int | None) -> bool:
        """Give up on the row and tell the teacher why, in the LMS's words."""
        with self.database.session() as session:
            parked = self._update(session, lease, pending_only=True, status=SubmissionStatus.PARKED.value,
                                  locked_until=None, last_error=message, last_http_status=http_status)
            if parked:
                session.execute(sa.update(Attempt).where(Attempt.id == job.attempt_id).values(
                    status=AttemptStatus.GRADE_FAILED.value, status_detail=message))
        return parked

    def retry_later(self, lease: Lease, delay: dt.timedelta, error: str, http_status: int | None,
                    new_timestamp: bool = False) -> bool:
        """Schedule another try. ``new_timestamp``: the next lease stamps the row afresh (the platform holds
        newer timestamps than any we tried, so the one we had is no proof of delivery)."""
        with self.database.session() as session:
            return self._update(session, lease, pending_only=True, tries=Submission.tries + 1,
                                next_attempt_at=self.clock() + delay, locked_until=None, last_error=error,
                                last_http_status=http_status,
                                score_timestamp=None if new_timestamp else Submission.score_timestamp)

    def supersede_if_newer(self, lease: Lease, job: ScoreJob, newer_statuses: tuple[str, ...]) -> bool:
        """Mark the row superseded if a newer submission of the attempt has one of ``newer_statuses``.

        Sending an older score after a newer one (a paused worker), or re-stamping it after a 409, would make the
        older value win in the gradebook.
        """
        other = orm.aliased(Submission)
        newer = sa.select(other.id).where(other.attempt_id == job.attempt_id, other.id > job.submission_id,
                                          other.status.in_(newer_statuses))
        with self.database.session() as session:
            return self._update(session, lease, pending_only=True, extra_guard=sa.exists(newer),
                                status=SubmissionStatus.SUPERSEDED.value, locked_until=None)

    def remember_timestamp(self, attempt_id: int, timestamp: dt.datetime) -> None:
        """Keep the newest timestamp tried, so the next round starts after it."""
        with self.database.session() as session:
            self._raise_last_timestamp(session, attempt_id, timestamp)

    @staticmethod
    def _raise_last_timestamp(session: orm.Session, attempt_id: int, timestamp: dt.datetime) -> None:
        session.execute(sa.update(Attempt).where(
            Attempt.id == attempt_id,
            sa.or_(Attempt.last_score_timestamp.is_(None), Attempt.last_score_timestamp < timestamp),
        ).values(last_score_timestamp=timestamp))

    @staticmethod
    def _update(session: orm.Session, lease: Lease, pending_only: bool,
                extra_guard: sa.ColumnElement[bool] | None = None, **values: object) -> bool:
        guard = [Submission.id == lease.submission_id, Submission.claim_token == lease.token]
        if pending_only:  # never bring a superseded row back to life
            guard.append(Submission.status == PENDING)
        if extra_guard is not None:
            guard.append(extra_guard)
        result = session.execute(sa.update(Submission).where(*guard).values(**values),
                                 execution_options={"synchronize_session": False})
        return int(result.rowcount) == 1  # type: ignore[attr-defined]
