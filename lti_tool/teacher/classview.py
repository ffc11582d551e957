"""The class view of one activity link: every student with status, grade, sub-scores and history, and a summary.

Three queries, each joined to the link's attempts and so scoped to the launch's registration, course and link:
attempts with their students, the results of those attempts, and their scores in the outbox.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy import orm

from lti_tool.attempt_state import ORDER
from lti_tool.attempt_state import AttemptView
from lti_tool.attempt_state import State
from lti_tool.attempt_state import view_from
from lti_tool.grading.columns import Column
from lti_tool.models import Activity
from lti_tool.models import Attempt
from lti_tool.models import LtiLaunch
from lti_tool.models import LtiUser
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.providers.interfaces import AssessmentProvider
from lti_tool.teacher.roster import Member
from lti_tool.translatable import N_
from lti_tool.translatable import gettext

RESULT_WORDS = {"complete": N_("Completed"), "finished": N_("Finished, waiting for the provider's grading"),
                "withdrawn": N_("Withdrawn or reset by the provider"), "pending": N_("Invalidated, grade pending"),
                "attention": N_("Needs attention at the provider"),
                "invalidated": N_("No longer counts (invalidated)")}
CHART_BINS = 10
ResultOrScore = TypeVar("ResultOrScore", Result, ScoreSubmission)


@dataclass(frozen=True)
class Grade:
    """What the gradebook holds (or is about to): the provider's value beside the gradebook's points."""

    provider_value: float | None
    provider_scale: float | None
    points: float
    maximum: float


@dataclass(frozen=True)
class HistoryEntry:
    received: dt.datetime
    status: str
    scores: dict[str, float]
    scale_maximum: float
    result_public_id: str

    @property
    def status_words(self) -> str:
        """In the reader's language; a status the tool has no words for as the provider stored it."""
        return gettext(RESULT_WORDS[self.status]) if self.status in RESULT_WORDS else self.status


@dataclass(frozen=True)
class StudentRow:
    sub: str
    name: str
    given_name: str | None
    family_name: str | None
    email: str | None
    view: AttemptView  # where the attempt stands: the same answer the student's page and the result page give
    stored_status: str  # the attempt's own status ("not_started" without one), for scripts and old links
    attempt_public_id: str | None = None
    started: dt.datetime | None = None
    updated: dt.datetime | None = None
    grade: Grade | None = None
    sent_at: dt.datetime | None = None
    sub_scores: dict[str, float] = field(default_factory=dict)  # the newest completed result's scores
    scale_maximum: float | None = None
    history: tuple[HistoryEntry, ...] = ()
    detail: str | None = None  # the LMS's refusal, the provider's word, or what the tool noted on the attempt

    @property
    def state(self) -> State:
        return self.view.state

    @property
    def label(self) -> str:
        return self.view.label

    @property
    def can_resend(self) -> bool:
        return self.attempt_public_id is not None and self.view.can_resend

    @property
    def latest_result_public_id(self) -> str | None:
        return self.history[0].result_public_id if self.history else None


@dataclass(frozen=True)
class Bin:
    low: float
    high: float
    count: int


@dataclass(frozen=True)
class Summary:
    students: int
    counts: dict[State, int]
    graded_points: tuple[float, ...]
    maximum: float

    @property
    def graded(self) -> int:
        return len(self.graded_points)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.graded_points) if self.graded_points else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.graded_points) if self.graded_points else None

    @property
    def lowest(self) -> float | None:
        return min(self.graded_points, default=None)

    @property
    def highest(self) -> float | None:
        return max(self.graded_points, default=None)

    @property
    def spread(self) -> float | None:
        """The population standard deviation of the graded points (0 for one grade)."""
        return statistics.pstdev(self.graded_points) if self.graded_points else None

    def bins(self, count: int = CHART_BINS) -> list[Bin]:
        """The distribution: ``count`` equal ranges of points, the last one including the maximum."""
        width = self.maximum / count
        tallies = [0] * count
        for value in self.graded_points:
            tallies[min(max(int(value / width), 0), count - 1) if width > 0 else 0] += 1
        return [Bin(low=index * width, high=(index + 1) * width, count=tally) for index, tally in enumerate(tallies)]


@dataclass(frozen=True)
class ClassView:
    activity: Activity
    rows: list[StudentRow]
    summary: Summary
    column: Column
    components: tuple[str, ...]  # the sub-score names the results carry, in the provider's order
    roster_problem: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)  # the provider's words for its score names

    def filtered(self, status: str | None) -> list[StudentRow]:
        return [row for row in self.rows if status in (None, "", row.state)]


def class_view(session: orm.Session, launch: LtiLaunch, activity: Activity, provider: AssessmentProvider | None,
               roster: list[Member], column: Column, roster_problem: str | None = None) -> ClassView:
    """Everyone on the course ``roster`` and everyone who opened the link, with what the tool stored for them;
    each attempt's state from :func:`lti_tool.attempt_state.view_from`, the rows read once for the link."""
    attempts = session.execute(
        sa.select(Attempt, LtiUser).join(LtiUser, LtiUser.id == Attempt.user_id)
        .where(Attempt.registration_id == launch.registration_id, Attempt.context_id == launch.context_id,
               Attempt.resource_link_id == launch.resource_link_id)
    ).all()
    link_attempts = _link_attempts(launch).scalar_subquery()
    results = _by_attempt(session.scalars(sa.select(Result).where(Result.attempt_id.in_(link_attempts))
                                          .order_by(Result.id.desc())))
    submissions = _by_attempt(session.scalars(sa.select(ScoreSubmission)
                                              .where(ScoreSubmission.attempt_id.in_(link_attempts))
                                              .order_by(ScoreSubmission.id.desc())))
    components: list[str] = []
    rows: dict[str, StudentRow] = {}
    for attempt, user in attempts:
        rows[user.sub] = _row(activity, provider, attempt, user, results.get(attempt.id, []),
                              submissions.get(attempt.id, []), column, components)
    for member in roster:
        rows.setdefault(member.sub, StudentRow(
            sub=member.sub, name=member.name, given_name=member.given_name, family_name=member.family_name,
            email=member.email, view=AttemptView(State.NOT_STARTED), stored_status=State.NOT_STARTED.value))
    ordered = sorted(rows.values(), key=lambda row: (row.state == State.NOT_STARTED, row.name.lower()))
    counts = {key: sum(1 for row in ordered if row.state == key) for key in ORDER}
    graded = tuple(row.grade.points for row in ordered if row.state == State.GRADED and row.grade is not None)
    maximum = column.maximum if column.maximum is not None else activity.score_maximum
    return ClassView(activity=activity, rows=ordered, column=column, roster_problem=roster_problem,
                     summary=Summary(students=len(ordered), counts=counts, graded_points=graded, maximum=maximum),
                     components=_in_provider_order(components, provider),
                     labels=provider.component_labels if provider else {})


def _in_provider_order(names: list[str], provider: AssessmentProvider | None) -> tuple[str, ...]:
    order = {name: index for index, name in enumerate(provider.components if provider else ())}
    return tuple(sorted(names, key=lambda name: order.get(name, len(order))))


def _link_attempts(launch: LtiLaunch) -> sa.Select[int]:
    return sa.select(Attempt.id).where(
        Attempt.registration_id == launch.registration_id, Attempt.context_id == launch.context_id,
        Attempt.resource_link_id == launch.resource_link_id)


def _by_attempt(items: Iterable[ResultOrScore]) -> dict[int, list[ResultOrScore]]:
    grouped: dict[int, list[ResultOrScore]] = {}
    for item in items:
        grouped.setdefault(item.attempt_id, []).append(item)
    return grouped


def _row(activity: Activity, provider: AssessmentProvider | None, attempt: Attempt, user: LtiUser,
         results: list[Result], submissions: list[ScoreSubmission], column: Column,
         components: list[str]) -> StudentRow:
    """``results`` and ``submissions`` newest first."""
    view = view_from(attempt, activity, provider, results, submissions)
    completed = next((result for result in results if result.status == "complete"), None)
    for name in completed.scores if completed else ():
        if name not in components:
            components.append(name)
    grade = None
    latest = submissions[0] if submissions else None
    if view.points is not None and latest is not None and view.state in _GRADE_STATES:
        grade = grade_of(latest, view.result, column)
    history = tuple(HistoryEntry(received=result.datetime_received, status=result.status,
                                 scores={name: float(value) for name, value in result.scores.items()},
                                 scale_maximum=result.scale_maximum, result_public_id=result.public_id)
                    for result in results)
    return StudentRow(sub=user.sub, name=user.display_name, given_name=user.given_name,
                      family_name=user.family_name, email=user.email, view=view, stored_status=attempt.status,
                      attempt_public_id=attempt.public_id, started=attempt.datetime_started,
                      updated=attempt.datetime_updated, grade=grade,
                      sent_at=latest.datetime_sent if grade is not None and latest is not None else None,
                      sub_scores={name: float(value) for name, value in completed.scores.items()} if completed
                      else {},
                      scale_maximum=completed.scale_maximum if completed else None, history=history,
                      detail=_detail(view, attempt))


# The states in which the gradebook holds the grade, or is about to (a refused one is not shown as a grade).
_GRADE_STATES = frozenset({State.GRADED, State.GRADE_ON_ITS_WAY})
# The states in which what the tool noted on the attempt (a missing column, a teacher's reset) still holds.
_NOTED_STATES = frozenset({State.IN_PROGRESS, State.RESET, State.GRADE_ON_ITS_WAY})


def _detail(view: AttemptView, attempt: Attempt) -> str | None:
    if view.refusal:
        return view.refusal
    if view.provider_said:
        return view.provider_said
    return attempt.status_detail if view.state in _NOTED_STATES else None


def grade_of(submission: ScoreSubmission, result: Result | None, column: Column) -> Grade:
    """The score's share of its maximum, in the gradebook's points: the LMS scales every score to its column."""
    assert submission.score_given is not None
    share = submission.score_given / submission.score_maximum if submission.score_maximum else 0.0
    maximum = column.maximum if column.maximum is not None else submission.score_maximum
    scale = result.scale_maximum if result is not None else None
    return Grade(provider_value=round(share * scale, 2) if scale else None, provider_scale=scale,
                 points=round(share * maximum, 2), maximum=maximum)
