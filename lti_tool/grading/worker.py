"""The passback worker: sends the score outbox to the platforms' gradebooks, and never drops a score silently.

Each round claims due rows under a lease (committed before any HTTP), sends each score outside any transaction,
and records the outcome: sent, retried later with exponential backoff, or parked with the LMS's message for the
teacher. Several workers (threads or processes) can run side by side on SQLite or PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import random as random_module
import threading
from collections import Counter
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from lti_tool.config import Settings
from lti_tool.db import Database
from lti_tool.db import utcnow
from lti_tool.grading.ags import CANVAS_RATE_LIMITED
from lti_tool.grading.ags import AgsClient
from lti_tool.grading.ags import AgsRejectedError
from lti_tool.grading.ags import AgsThrottledError
from lti_tool.grading.ags import AgsUnavailableError
from lti_tool.grading.ags import ScoreConflictError
from lti_tool.grading.ags import is_attempt_limit
from lti_tool.grading.breaker import Breakers
from lti_tool.grading.breaker import BreakerState
from lti_tool.grading.breaker import is_platform_failure
from lti_tool.grading.breaker import parse_retry_after
from lti_tool.grading.outbox import Lease
from lti_tool.grading.outbox import Outbox
from lti_tool.grading.scores import ONE_SECOND
from lti_tool.grading.scores import ScoreJob
from lti_tool.grading.scores import build_score
from lti_tool.grading.scores import first_timestamp
from lti_tool.grading.scores import iso_timestamp
from lti_tool.grading.tokens import AccessTokenError
from lti_tool.grading.tokens import AccessTokens
from lti_tool.http import HttpSession
from lti_tool.models import SubmissionStatus
from lti_tool.telemetry.heartbeat import Heartbeat

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 3600.0
# 409 means the LMS holds a timestamp at least as new as ours: step one second past it, a few times.
MAX_CONFLICT_RETRIES = 3
NO_LINEITEM = "no gradebook column for this activity"
REGISTRATION_DISABLED = "the tool's registration with this LMS is disabled"

SENT, RETRYING, PARKED, LOST, SUPERSEDED = "sent", "retrying", "parked", "lost", "superseded"
RELEASED, PROBES = "released", "probes"


def backoff_delay(tries: int, random: Callable[[], float]) -> dt.timedelta:
    """``min(base·2^tries, 1 h)`` with ±50 % jitter, so a fleet of rows does not hammer a recovering LMS at once."""
    ceiling = min(BACKOFF_BASE_SECONDS * 2 ** min(tries, 32), BACKOFF_MAX_SECONDS)
    return dt.timedelta(seconds=ceiling * (0.5 + random()))


class PassbackWorker:
    """Sends pending score submissions. ``clock`` and ``random`` are injectable for tests."""

    def __init__(self, database: Database, http: HttpSession, settings: Settings,
                 clock: Callable[[], dt.datetime] = utcnow, random: Callable[[], float] = random_module.random,
                 lease: dt.timedelta | None = None, breakers: Breakers | None = None) -> None:
        self.database = database
        self.clock = clock
        self.random = random
        self.launch_url = settings.url("/lti/launch")
        self.tokens = AccessTokens(http, clock=clock)
        self.ags = AgsClient(http, self.tokens)
        lease = lease or dt.timedelta(seconds=settings.passback_lease_seconds)
        self.outbox = Outbox(database, clock, lease)
        self.breakers = breakers or Breakers(database, clock)
        self.concurrency = max(1, settings.passback_concurrency_per_platform)
        self._wake = threading.Event()
        # Platforms whose breaker this worker saw open during the current round (written by the send threads).
        self._tripped: set[int] = set()
        self._probe_ids: set[int] = set()  # the rows this round sends to open platforms as their probes
        self._tripped_lock = threading.Lock()
        self.heartbeat = Heartbeat(database)

    # --- loop --------------------------------------------------------------------------------------------
    def wake(self) -> None:
        """Start the next round now (e.g. right after a provider callback enqueued a score)."""
        self._wake.set()

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0, limit: int = 50) -> None:
        """Run rounds until ``stop`` is set. Call :meth:`wake` after setting it to stop without waiting a poll."""
        log.info("passback worker started")
        while not stop.is_set():
            self._wake.clear()  # a wake() during the round below triggers the next round at once
            counts = self._guarded_round(limit)
            self._beat()
            if counts.get("claimed", 0) < limit and not stop.is_set():
                self._wake.wait(poll_seconds)
        log.info("passback worker stopped")

    def start_thread(self, stop: threading.Event, poll_seconds: float = 1.0) -> threading.Thread:
        """Run :meth:`run_forever` in a daemon thread (the embedded server's way to run the worker)."""
        thread = threading.Thread(target=self.run_forever, args=(stop, poll_seconds), name="passback-worker",
                                  daemon=True)
        thread.start()
        return thread

    def _beat(self) -> None:
        """Tell doctor, /metrics and the alerts this worker is alive (it reaches the database and its loop runs)."""
        try:
            self.heartbeat.beat()
        except Exception as exc:  # the database may be down: the stale heartbeat is the signal, not a crash
            log.warning("could not record the worker heartbeat (%s)", type(exc).__name__)

    def _guarded_round(self, limit: int) -> dict[str, int]:
        try:
            return self.run_once(limit)
        except Exception:  # the database may be down: keep the loop alive, try again next poll
            log.exception("passback round failed")
            return {}

    def run_once(self, limit: int = 50) -> dict[str, int]:
        """One round: probe the platforms whose breaker is open, claim up to ``limit`` due submissions of the
        others, read them in one query and send them, at most ``concurrency`` at a time per platform. Returns counts
        per outcome."""
        breakers = self.breakers.snapshot()
        self._tripped = {registration_id for registration_id, state in breakers.items() if state.opened}
        counts: Counter[str] = Counter()
        probes = self._probes(breakers, counts)
        self._probe_ids = {lease.submission_id for lease in probes}
        leases = probes + self.outbox.claim(limit, skip_registrations=self._tripped)
        counts["claimed"] += len(leases)
        jobs = self.outbox.load(leases)
        lanes: dict[tuple[int, int], list[tuple[Lease, ScoreJob]]] = defaultdict(list)
        for lease in leases:
            job = jobs.get(lease.submission_id)
            if job is None:
                counts[self._process_safely(lease, None)] += 1  # no longer ours: settled without a send
            else:  # one lane per attempt, so two scores of an attempt go out in order
                lanes[(job.registration.id, job.attempt_id % self.concurrency)].append((lease, job))
        recovering = {registration_id for registration_id, state in breakers.items() if state.failures}
        if len(lanes) <= 1:
            for lane in lanes.values():
                counts.update(self._run_lane(lane, recovering))
        else:
            with ThreadPoolExecutor(max_workers=min(len(lanes), 32), thread_name_prefix="passback-send") as pool:
                for lane_counts in pool.map(lambda lane: self._run_lane(lane, recovering), list(lanes.values())):
                    counts.update(lane_counts)
        return dict(counts)

    def _probes(self, breakers: dict[int, BreakerState], counts: Counter[str]) -> list[Lease]:
        """One row of each open platform whose probe is due, if this worker wins the probe."""
        now, leases = self.clock(), []
        for registration_id, state in breakers.items():
            if not state.opened or (state.probe_at is not None and state.probe_at > now):
                continue
            if self.breakers.take_probe(registration_id):
                probe = self.outbox.claim(1, only_registration=registration_id)
                counts[PROBES] += len(probe)
                leases += probe
        return leases

    def _run_lane(self, lane: list[tuple[Lease, ScoreJob]], recovering: set[int]) -> Counter[str]:
        counts: Counter[str] = Counter()
        handled: set[int] = set()
        for index, (lease, job) in enumerate(lane):
            registration_id = job.registration.id
            if registration_id in self._tripped and lease.submission_id not in self._probe_ids:
                # The platform went down under this lane: hand the rest back untouched, a probe will tell.
                self.outbox.release([lease for lease, _ in lane[index:]])
                counts[RELEASED] += len(lane) - index
                break
            outcome = self._process_safely(lease, None if job.attempt_id in handled else job)
            counts[outcome] += 1
            handled.add(job.attempt_id)
            if outcome == SENT and (registration_id in recovering or registration_id in self._tripped):
                self._platform_answered(registration_id, recovering)
        return counts

    def _platform_answered(self, registration_id: int, recovering: set[int]) -> None:
        """The platform took a score: it is up. Close its breaker, once per round (a refusal proves less: a
        score parked before any request, e.g. for want of a gradebook column, never reached it)."""
        with self._tripped_lock:
            if registration_id not in recovering and registration_id not in self._tripped:
                return
            recovering.discard(registration_id)
            self._tripped.discard(registration_id)
        try:
            if self.breakers.close(registration_id):
                self._wake.set()  # its scores are due now: the next round starts without waiting a poll
                log.warning("registration %s: the platform answers again; its queued scores are due now",
                            registration_id)
        except Exception:
            log.exception("registration %s: could not close the breaker", registration_id)

    def claim(self, limit: int = 50) -> list[Lease]:
        """Claim without sending (what a worker killed right after claiming leaves behind; used by tests)."""
        return self.outbox.claim(limit)

    # --- one submission ----------------------------------------------------------------------------------
    def _process_safely(self, lease: Lease, job: ScoreJob | None) -> str:
        try:
            return self.process(lease, job)
        except Exception as exc:  # a bug or a database error: keep the row, retry it later, say so
            log.exception("score submission %s: unexpected error", lease.submission_id)
            # The type only: database errors carry statement parameters, which may include a token.
            error = f"internal error ({type(exc).__name__}); see the worker's log"
            try:
                self.outbox.retry_later(lease, backoff_delay(0, self.random), error, None)
            except Exception:
                log.exception("score submission %s: could not record the error; its lease will expire",
                              lease.submission_id)
            return RETRYING

    def process(self, lease: Lease, job: ScoreJob | None = None) -> str:
        """Send one claimed submission and record the outcome: sent, retrying, parked, superseded or lost.

        ``job`` is the row as read with its batch right after the lease; it is read again (and the lease renewed)
        when it is not given or when less than half the lease is left.
        """
        if job is None or not self._lease_holds(lease):
            job = self.outbox.renew_and_load(lease)
        if job is None:
            log.info("score submission %s: lease lost (taken over or superseded); not sent", lease.submission_id)
            return LOST
        if job.lineitem_url is None:
            return self._park(lease, job, NO_LINEITEM, None)
        if not job.registration.is_active:
            return self._park(lease, job, REGISTRATION_DISABLED, None)
        if job.newer_sent and self.outbox.supersede_if_newer(lease, job, (SubmissionStatus.SENT,)):
            log.info("score submission %s: a newer score was sent already; superseded", job.submission_id)
            return SUPERSEDED
        return self._send(lease, job, job.lineitem_url)

    def _lease_holds(self, lease: Lease) -> bool:
        """True while at least half the lease taken at the claim is left: nobody else can have the row."""
        return lease.leased_until is not None and self.clock() < lease.leased_until - self.outbox.lease_length / 2

    def _send(self, lease: Lease, job: ScoreJob, lineitem_url: str) -> str:
        # The row's own timestamp, fixed by its first lease: the same score always goes out under the same one.
        timestamp = first_timestamp(job.score_timestamp or self.clock(), job.last_score_timestamp)
        resend = None not in (job.score_timestamp, lease.stamped) and job.score_timestamp != lease.stamped
        conflict_status = 409
        for conflicts in range(MAX_CONFLICT_RETRIES + 1):
            if conflicts and not self.outbox.renew(lease):
                log.info("score submission %s: lease lost between retries; not sent", lease.submission_id)
                return LOST
            try:
                self._post(job, lineitem_url, timestamp)
            except ScoreConflictError as exc:
                conflict_status = exc.status or conflict_status
                if self.outbox.supersede_if_newer(lease, job, (SubmissionStatus.PENDING, SubmissionStatus.SENT)):
                    log.info("score submission %s: 409 and a newer score is queued; superseded", job.submission_id)
                    return SUPERSEDED
                if resend and not conflicts:
                    # An earlier lease of this row sent this very timestamp (then lost its lease, or its answer):
                    # the platform holds it. Sending it again under a new timestamp would be a second grade.
                    log.info("score submission %s: the LMS already holds its timestamp %s; delivered by an earlier "
                             "attempt", job.submission_id, iso_timestamp(timestamp))
                    return self._sent(lease, job, timestamp)
                timestamp += ONE_SECOND
                continue
            except AgsRejectedError as exc:
                if resend and job.is_first_grade and is_attempt_limit(exc):
                    # An earlier lease's post may have made the Canvas attempt already (Canvas takes the same
                    # timestamp again): grade that attempt instead of asking for another one.
                    log.info("score submission %s: no attempts left in Canvas after a resend; grading the last "
                             "attempt", job.submission_id)
                    job = dataclasses.replace(job, graded_before=True)
                    continue
                return self._park(lease, job, exc.detail, exc.status)
            except (AgsUnavailableError, AccessTokenError) as exc:
                self._platform_failed(job, exc)
                return self._retry(lease, job, str(exc), exc.status)
            return self._sent(lease, job, timestamp)
        self.outbox.remember_timestamp(job.attempt_id, timestamp - ONE_SECOND)
        return self._retry(lease, job, f"the LMS kept refusing the timestamp as not newer (HTTP {conflict_status}) "
                                       f"up to {iso_timestamp(timestamp - ONE_SECOND)}", conflict_status,
                           new_timestamp=True)

    def _platform_failed(self, job: ScoreJob, exc: AgsUnavailableError | AccessTokenError) -> None:
        # Throttling is about the platform, not this score: it counts towards the breaker like a 5xx.
        throttled = isinstance(exc, AgsThrottledError) or (
            isinstance(exc, AccessTokenError) and exc.status == 403 and CANVAS_RATE_LIMITED in exc.text.lower())
        if not (throttled or is_platform_failure(exc.status)):
            return
        retry_after = parse_retry_after(exc.retry_after, self.clock())
        registration_id = job.registration.id
        try:
            is_open = self.breakers.record_failure(registration_id, str(exc), exc.status, retry_after)
        except Exception:
            log.exception("registration %s: could not record the platform's failure", registration_id)
            return
        if is_open:
            with self._tripped_lock:
                newly = registration_id not in self._tripped
                self._tripped.add(registration_id)
            if newly:
                log.warning("registration %s: the platform keeps failing (%s); sending paused, probing it",
                            registration_id, exc)

    def _post(self, job: ScoreJob, lineitem_url: str, timestamp: dt.datetime) -> None:
        # A fresh session: the token cache commits its own short transactions, so none is open during the POST.
        with self.database.sessionmaker() as session:
            score = build_score(job, timestamp, self.launch_url)
            self.ags.post_score(session, job.registration, lineitem_url, score)

    # --- outcomes (one log line each; never a token) ---------------------------------------------------------
    def _sent(self, lease: Lease, job: ScoreJob, timestamp: dt.datetime) -> str:
        if not self.outbox.mark_sent(lease, job, timestamp):
            log.warning("score submission %s was sent but its lease had been taken over", job.submission_id)
        log.info("score submission %s sent: attempt %s, %s/%s, timestamp %s", job.submission_id, job.attempt_id,
                 job.score_given, job.score_maximum, iso_timestamp(timestamp))
        return SENT

    def _park(self, lease: Lease, job: ScoreJob, message: str, http_status: int | None) -> str:
        if not self.outbox.park(lease, job, message, http_status):
            log.info("score submission %s: lease lost before it could be parked (%s)", job.submission_id, message)
            return LOST
        log.warning("score submission %s parked (HTTP %s): %s", job.submission_id, http_status, message)
        return PARKED

    def _retry(self, lease: Lease, job: ScoreJob, error: str, http_status: int | None,
               new_timestamp: bool = False) -> str:
        delay = backoff_delay(job.tries, self.random)
        if not self.outbox.retry_later(lease, delay, error, http_status, new_timestamp=new_timestamp):
            log.info("score submission %s: lease lost before a retry could be scheduled (%s)", job.submission_id, error)
            return LOST
        log.warning("score submission %s will be retried in %.0f s (try %s failed): %s", job.submission_id,
                    delay.total_seconds(), job.tries + 1, error)
        return RETRYING
