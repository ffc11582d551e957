"""Speaking tests: what a school can use (assessments), where teachers put them (activities), what learners did
(attempts and results), and the scores on their way to the gradebook (the outbox)."""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from lti_tool.db import Base
from lti_tool.db import utcnow


def new_public_id() -> str:
    """Opaque identifier for URLs and LMS custom parameters (never the primary key)."""
    return secrets.token_urlsafe(16)


class Assessment(Base):
    """A test offered to teachers: one provider's test (a share link, a test URL, a product of an account…).

    ``settings`` holds what may be shown to admins; ``secret`` (a provider key, …) never leaves the server.
    """

    __tablename__ = "assessment"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(40), unique=True, default=new_public_id)
    provider: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(default=True)
    datetime_created: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:  # never show the secret
        return f"<Assessment {self.id} {self.provider} {self.title!r}>"


class AttemptsPolicy(enum.StrEnum):
    LATEST = "latest"
    BEST = "best"


class Activity(Base):
    """A speaking test placed in a course, with its grading settings. Resource links point at it."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(40), unique=True, default=new_public_id)
    assessment_id: Mapped[int] = mapped_column(sa.ForeignKey("assessment.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(sa.String(200))
    score_maximum: Mapped[float] = mapped_column(default=100.0)
    # Which provider score goes to the gradebook: "overall" or one component ("pronunciation", …).
    score_component: Mapped[str] = mapped_column(sa.String(40), default="overall")
    attempts_policy: Mapped[str] = mapped_column(sa.String(20), default=AttemptsPolicy.LATEST.value)
    show_score_to_student: Mapped[bool] = mapped_column(default=True)
    # How many times a learner may take the test here (None: as often as they like); a teacher's reset gives
    # one learner their tries back.
    max_attempts: Mapped[int | None] = mapped_column()
    # About how long the test takes, as the teacher says (the providers do not publish it); shown to learners.
    expected_minutes: Mapped[int | None] = mapped_column()
    datetime_created: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AttemptStatus(enum.StrEnum):
    STARTED = "started"
    SUBMITTED = "submitted"
    GRADED = "graded"
    GRADE_FAILED = "grade_failed"


class Attempt(Base):
    """A learner's participation in one placement of an activity (one per resource link and user)."""

    __tablename__ = "attempt"
    __table_args__ = (sa.UniqueConstraint("resource_link_id", "user_id", name="uq_attempt_per_link_and_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(40), unique=True, default=new_public_id)
    activity_id: Mapped[int] = mapped_column(sa.ForeignKey("activity.id", ondelete="CASCADE"))
    registration_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_registration.id", ondelete="CASCADE"))
    context_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_context.id", ondelete="CASCADE"))
    resource_link_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_resource_link.id", ondelete="CASCADE"))
    # Indexed for deleting users (privacy, retention): the cascade finds a user's attempts by it; the unique key
    # above leads with the link and does not help.
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("lti_user.id", ondelete="CASCADE"), index=True)
    lineitem_url: Mapped[str | None] = mapped_column(sa.String(1000))
    status: Mapped[str] = mapped_column(sa.String(20), default=AttemptStatus.STARTED.value)
    # Provider-side handle (a test id) and what the learner must be shown (password, instructions).
    provider_reference: Mapped[str | None] = mapped_column(sa.String(200), index=True)
    provider_data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fulfillment_state: Mapped[str | None] = mapped_column(sa.String(20))
    fulfillment_started_at: Mapped[dt.datetime | None] = mapped_column()
    status_detail: Mapped[str | None] = mapped_column(sa.Text)
    # AGS timestamps must increase strictly per (line item, user); Moodle compares them to the second.
    last_score_timestamp: Mapped[dt.datetime | None] = mapped_column()
    # When the learner finished (the first "finished" or graded result since the last reset): Canvas marks the
    # submission late by this time, not by when the grade arrived.
    datetime_finished: Mapped[dt.datetime | None] = mapped_column()
    # Which try the learner is on (a retake adds one), and when a teacher last reset the attempt: results
    # received before the current try started belong to an earlier one.
    tries: Mapped[int] = mapped_column(default=1, server_default="1")
    datetime_reset: Mapped[dt.datetime | None] = mapped_column()
    datetime_started: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Indexed for retention (privacy/retention.py), which looks for attempts with no activity since its cutoff.
    datetime_updated: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)


class Result(Base):
    """One outcome a provider reported for an attempt; ``external_id`` makes repeated deliveries harmless."""

    __tablename__ = "result"
    __table_args__ = (sa.UniqueConstraint("attempt_id", "external_id", name="uq_result_per_attempt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(40), unique=True, default=new_public_id)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(sa.String(1000))
    status: Mapped[str] = mapped_column(sa.String(40), default="complete")
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    scale_maximum: Mapped[float] = mapped_column()
    # A capability URL: whoever has it can read the report. Teachers only; never sent to the LMS or a learner.
    report_url: Mapped[str | None] = mapped_column(sa.String(2000))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    datetime_received: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SubmissionStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    PARKED = "parked"
    SUPERSEDED = "superseded"


class ScoreSubmission(Base):
    """A score on its way to the LMS (the durable outbox), written in the transaction that stored the result.

    Workers claim due rows with a lease (``locked_until``); a worker that dies leaves the row to be claimed again.
    """

    __tablename__ = "score_submission"
    __table_args__ = (
        sa.Index("ix_score_submission_due", "status", "next_attempt_at"),
        # The claim checks "is another score of this attempt in flight?" for every candidate row; an index over
        # the pending rows alone keeps that cheap even before the database has statistics on the table.
        sa.Index("ix_score_submission_pending_attempt", "attempt_id",
                 postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(sa.ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    # Indexed for deleting results (with their attempts): each deleted result's SET NULL looks its scores up by it.
    result_id: Mapped[int | None] = mapped_column(sa.ForeignKey("result.id", ondelete="SET NULL"), index=True)
    score_given: Mapped[float | None] = mapped_column()
    score_maximum: Mapped[float] = mapped_column()
    activity_progress: Mapped[str] = mapped_column(sa.String(40))
    grading_progress: Mapped[str] = mapped_column(sa.String(40))
    comment: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default=SubmissionStatus.PENDING.value)
    tries: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    claim_token: Mapped[str | None] = mapped_column(sa.String(64))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_http_status: Mapped[int | None] = mapped_column()
    datetime_created: Mapped[dt.datetime] = mapped_column(default=utcnow)
    datetime_sent: Mapped[dt.datetime | None] = mapped_column()
    # The AGS timestamp of this score, fixed by its first claim: a resend after a crash carries the same one.
    score_timestamp: Mapped[dt.datetime | None] = mapped_column()


class ProviderAccount(Base):
    """A school's account with a provider that needs one: endpoint, credentials, webhook authentication.

    ``deployment_id`` scopes it to one LMS deployment (a school); ``None`` serves every deployment. Secrets
    (API key, webhook secret) live in their own columns and are never rendered.
    """

    __tablename__ = "provider_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(200))
    deployment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("lti_deployment.id", ondelete="CASCADE"))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    api_key: Mapped[str | None] = mapped_column(sa.Text)
    webhook_secret: Mapped[str | None] = mapped_column(sa.Text)
    datetime_created: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:  # never show the secrets
        return f"<ProviderAccount {self.id} {self.provider} {self.name!r}>"


class FulfillmentState(enum.StrEnum):
    """Getting a test ID from the provider: claimed before the request so two tabs cannot both ask."""

    REQUESTING = "requesting"
    DONE = "done"
    FAILED = "failed"  # definitely not assigned (refused, no inventory, not reached): may be retried
    UNCERTAIN = "uncertain"  # the request may have been processed: only a teacher may ask again
