"""Set-up shared by the callback benchmarks: a fresh database with learners' attempts at a Speechace activity, the
LMS emulator (with a counter of the service requests it receives), and the signed callbacks Speechace would send.

The tool is configured as an admin would (``lti-tool init``, a manual registration with the deployment approved,
``lti-tool assessment add`` / ``activity add`` through the same domain functions). The course, its link and the
learners' attempts are written directly, as K launches would have left them: launching over HTTP is what
``launch_throughput.py`` measures, and is not needed to receive callbacks.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from lti_tool.activities import create_activity
from lti_tool.cli import initialise
from lti_tool.config import Settings
from lti_tool.db import Database
from lti_tool.http import HttpSession
from lti_tool.lti.registration import PlatformDetails
from lti_tool.lti.registration import register_platform
from lti_tool.models import Activity
from lti_tool.models import Attempt
from lti_tool.models import AttemptsPolicy
from lti_tool.models import LtiContext
from lti_tool.models import LtiDeployment
from lti_tool.models import LtiResourceLink
from lti_tool.models import LtiUser
from lti_tool.models import Result
from lti_tool.models import ScoreSubmission
from lti_tool.providers import build_providers
from lti_tool.providers.speechace import SCALE_MAXIMUM
from lti_tool.providers.speechace_assessments import add_speechace_assessment
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.platform import PlatformEmulator
from lti_tool.sandbox.platform import constants as c
from lti_tool.sandbox.platform import create_platform_app
from lti_tool.sandbox.platform.models import LineItem
from lti_tool.sandbox.platform.models import ToolClient

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse
    from _typeshed.wsgi import WSGIApplication
    from _typeshed.wsgi import WSGIEnvironment

PG_SERVER_URL = os.environ.get("LTI_TOOL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_DATABASE = "lti_tool_bench_callbacks"
COURSE_ID = "course-bench"
LINK_ID = "speaking-1"
# The share link is only parsed (the key is split off): nothing listens on port 9 and ingest never calls it.
SPEECHACE_KEY = "BenchKey0123456789abcdef"
SHARE_LINK = ("http://127.0.0.1:9/embed/oembed?url=https%3A%2F%2Fapp.speechace.co%2Fplacement%2Fquiz%2Fbench"
              f"&key={SPEECHACE_KEY}")
REPORT_URL = "https://app.speechace.co/placement/report/{}"
SCORE_FIELDS = ("overall", "pronunciation", "fluency", "vocab", "grammar")
SCORE_MAXIMUM = 100.0


# --- database -----------------------------------------------------------------------------------------------------
def fresh_database_url(backend: str, name: str = PG_DATABASE, template: str | None = None) -> str:
    """Drop and recreate the PostgreSQL database ``name`` (SQLite: a new file); returns its URL, schema not
    created, or a copy of the database ``template`` (which must have no open connection). The database is left
    in place after a run, for inspection."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="lti-tool-bench-callbacks-"))
        return f"sqlite:///{folder / 'lti-tool.sqlite3'}"
    if backend != "postgresql":
        raise ValueError(f"unknown database backend {backend!r}")
    server = sa.create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    finally:
        server.dispose()
    return sa.make_url(PG_SERVER_URL).set(database=name).render_as_string(hide_password=False)


# --- the emulated LMS, counting what the tool asks of it ----------------------------------------------------------
class ServiceCounter:
    """WSGI middleware: counts every request to the token, AGS and NRPS endpoints, by kind and status."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        kind = service_kind(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
        if kind is None:
            return self.app(environ, start_response)

        def counting_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            with self._lock:
                self.counts[f"{kind} {status.split()[0]}"] += 1
            return start_response(status, headers, exc_info)

        return self.app(environ, counting_start_response)

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)


def service_kind(method: str, path: str) -> str | None:
    """``POST scores``, ``POST token``, ``GET lineitems`` …; None for the browser-facing pages and the JWKS."""
    if path.endswith("/token"):
        return f"{method} token"
    if not path.startswith("/contexts/"):
        return None
    parts = path.strip("/").split("/")  # contexts/<id>/lineitems/<id>/scores
    names = {3: "lineitems", 4: "lineitem", 5: parts[-1]}
    if len(parts) == 3 and parts[2] == "memberships":
        return f"{method} memberships"
    return f"{method} {names.get(len(parts), 'other')}"


@dataclass
class Lms:
    platform: PlatformEmulator
    server: LiveServer
    client: ToolClient
    counter: ServiceCounter
    lineitem_url: str

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def gradebook(self) -> dict[str, float | None]:
        """sub → score on the line item, as the LMS holds it."""
        with self.platform.lock:
            grades = self.platform.grades.get(self.lineitem_url.rsplit("/", 1)[1], {})
            return {sub: grade.score for sub, grade in grades.items()}


def create_lms(tool_url: str, learners: list[str]) -> Lms:
    """A Moodle-flavoured emulator with the tool registered, one course with ``learners`` enrolled and one
    gradebook column; its server is bound (the URL is known) but not started."""
    server = LiveServer()
    platform = PlatformEmulator(issuer=server.url, base_url=server.url)
    client = platform.register_tool("Speaking tests", oidc_initiation_url=f"{tool_url}/lti/login",
                                    target_link_uri=f"{tool_url}/lti/launch", jwks_uri=f"{tool_url}/lti/jwks")
    platform.add_context(COURSE_ID, "Placement speaking tests", "SPEAK")
    for sub in learners:
        platform.add_user(sub, "Learner", sub, email=f"{sub}@example.edu")
        platform.enrol(COURSE_ID, sub, [c.ROLE_LEARNER, c.ROLE_INST_STUDENT])
    item = platform.create_line_item(LineItem(id="", context_id=COURSE_ID, client_id=client.client_id,
                                              label="Unit 3 speaking test", score_maximum=SCORE_MAXIMUM,
                                              resource_link_id=LINK_ID))
    app = create_platform_app(platform)
    counter = ServiceCounter(app.wsgi_app)
    app.wsgi_app = counter  # type: ignore[method-assign]
    server.set_app(app)
    return Lms(platform=platform, server=server, client=client, counter=counter,
               lineitem_url=platform.lineitem_url(item))


# --- the tool's data ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AttemptKeys:
    """What a callback URL is made of (the attempt's course, link, user and activity), and the learner's sub."""

    attempt_id: int
    context_id: int
    resource_link_id: int
    user_id: int
    sub: str
    activity_id: int


@dataclass
class Seeded:
    activity_id: int
    attempts: list[AttemptKeys]


def seed(database_url: str, lms: Lms, learners: list[str], attempts_policy: str = AttemptsPolicy.LATEST.value,
         ) -> Seeded:
    """``lti-tool init``, the registration, a Speechace assessment and activity, and one attempt per learner."""
    database = Database(database_url)
    try:
        initialise(database)
        platform = lms.platform
        details = PlatformDetails(issuer=platform.issuer, client_id=lms.client.client_id,
                                  auth_login_url=platform.url("/auth"), auth_token_url=platform.url("/token"),
                                  key_set_url=platform.url("/jwks"), name="Emulated LMS",
                                  product_family_code="moodle")
        with database.session() as session:
            registration = register_platform(session, details, "manual", [lms.client.deployment_id], approve=True)
            deployment_pk = session.scalars(sa.select(LtiDeployment.id).where(
                LtiDeployment.registration_id == registration.id)).one()
            assessment = add_speechace_assessment(session, "Placement speaking test", oembed_url=SHARE_LINK)
            activity = create_activity(session, assessment, "Unit 3 speaking test", score_maximum=SCORE_MAXIMUM,
                                       attempts_policy=attempts_policy)
            context = LtiContext(deployment_id=deployment_pk, id_on_platform=COURSE_ID, title="Placement tests",
                                 lineitems_url=platform.url(f"/contexts/{COURSE_ID}/lineitems"),
                                 ags_scopes=list(c.AGS_SCOPES))
            session.add(context)
            session.flush()
            link = LtiResourceLink(context_id=context.id, id_on_platform=LINK_ID, title="Unit 3 speaking test",
                                   lineitem_url=lms.lineitem_url, activity_id=activity.id)
            session.add(link)
            session.flush()
            user_ids = list(session.scalars(
                sa.insert(LtiUser).returning(LtiUser.id, sort_by_parameter_order=True),
                [{"registration_id": registration.id, "sub": sub, "given_name": "Learner", "family_name": sub,
                  "name": f"Learner {sub}", "email": f"{sub}@example.edu"} for sub in learners]))
            attempt_ids = list(session.scalars(
                sa.insert(Attempt).returning(Attempt.id, sort_by_parameter_order=True),
                [{"activity_id": activity.id, "registration_id": registration.id, "context_id": context.id,
                  "resource_link_id": link.id, "user_id": user_id, "lineitem_url": lms.lineitem_url}
                 for user_id in user_ids]))
            attempts = [AttemptKeys(attempt_id, context.id, link.id, user_id, sub, activity.id)
                        for attempt_id, user_id, sub in zip(attempt_ids, user_ids, learners, strict=True)]
            return Seeded(activity_id=activity.id, attempts=attempts)
    finally:
        database.dispose()


# --- what Speechace sends -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Callback:
    """One completion callback: the signed URL's path and query, and the JSON body."""

    attempt: AttemptKeys
    target: str  # path?query
    body: bytes
    report_id: str


@dataclass
class CallbackPlan:
    warmup: list[Callback]
    main: list[Callback]
    duplicates: list[Callback] = field(default_factory=list)

    @property
    def results_per_attempt(self) -> Counter[int]:
        """How many distinct results each attempt of the main phase receives."""
        return Counter(callback.attempt.attempt_id for callback in self.main)


def callback_targets(settings: Settings, attempts: list[AttemptKeys]) -> dict[int, str]:
    """attempt id → the signed callback target (path?query), built by the tool's own SpeechaceProvider with the
    secret key and base URL the tool under test runs with."""
    providers = build_providers(HttpSession(timeout=settings.http_timeout_seconds), settings)
    provider = providers["speechace"]
    assert hasattr(provider, "callback_url")
    targets = {}
    for keys in attempts:
        url = provider.callback_url(Attempt(context_id=keys.context_id, resource_link_id=keys.resource_link_id,
                                            user_id=keys.user_id, activity_id=keys.activity_id), keys.sub)
        parts = urlsplit(url)
        targets[keys.attempt_id] = f"{parts.path}?{parts.query}"
    return targets


def speechace_body(attempt: AttemptKeys, report_id: str, rng: random.Random, key: str = SPEECHACE_KEY) -> bytes:
    """The body of Speechace's completion callback (scores on 0–9, half points)."""
    scores = {name: rng.randrange(0, int(SCALE_MAXIMUM) * 2 + 1) / 2 for name in SCORE_FIELDS}
    return json.dumps({"version": "1.0", "key": key, "courseId": "bench-course", "quizId": "bench-quiz",
                       "userId": attempt.sub, "score": scores, "reportUrl": REPORT_URL.format(report_id)},
                      separators=(",", ":")).encode()


def plan_callbacks(targets: dict[int, str], warmup_attempts: list[AttemptKeys], attempts: list[AttemptKeys],
                   callbacks: int, duplicate_share: float, seed_value: int = 20240501) -> CallbackPlan:
    """Warm-up: one callback per warm-up attempt. Main: every attempt gets one result, the remaining
    ``callbacks - len(attempts)`` go to attempts drawn at random (retakes), and the whole list is shuffled.
    Duplicates: a random ``duplicate_share`` of the main callbacks, sent again byte for byte."""
    if callbacks < len(attempts):
        raise ValueError("at least one callback per attempt")
    rng = random.Random(seed_value)

    def make(keys: AttemptKeys, label: str, index: int) -> Callback:
        report_id = f"{label}{index:07x}{rng.getrandbits(64):016x}"
        return Callback(keys, targets[keys.attempt_id], speechace_body(keys, report_id, rng), report_id)

    warmup = [make(keys, "a", index) for index, keys in enumerate(warmup_attempts)]
    owners = list(attempts) + [rng.choice(attempts) for _ in range(callbacks - len(attempts))]
    rng.shuffle(owners)
    main = [make(keys, "b", index) for index, keys in enumerate(owners)]
    duplicates = rng.sample(main, round(len(main) * duplicate_share))
    return CallbackPlan(warmup=warmup, main=main, duplicates=duplicates)


# --- what the database holds --------------------------------------------------------------------------------------
def count_rows(database_url: str) -> dict[str, int]:
    """Results, outbox rows by status, and attempts that have at least one result."""
    database = Database(database_url)
    try:
        with database.session() as session:
            counts = {"result": int(session.scalar(sa.select(sa.func.count()).select_from(Result)) or 0),
                      "score_submission": int(session.scalar(
                          sa.select(sa.func.count()).select_from(ScoreSubmission)) or 0),
                      "attempts_with_results": int(session.scalar(
                          sa.select(sa.func.count(sa.distinct(Result.attempt_id)))) or 0)}
            for status, number in session.execute(sa.select(ScoreSubmission.status, sa.func.count())
                                                  .group_by(ScoreSubmission.status)):
                counts[f"submission_{status}"] = int(number)
            return counts
    finally:
        database.dispose()


def expected_gradebook(database_url: str, activity_id: int) -> dict[str, float]:
    """sub → the score the activity's policy gives from every stored result (what the LMS must end up with)."""
    database = Database(database_url)
    try:
        with database.session() as session:
            activity = session.get(Activity, activity_id)
            assert activity is not None
            rows = session.execute(
                sa.select(LtiUser.sub, Result.id, Result.scores, Result.scale_maximum)
                .join(Attempt, Attempt.id == Result.attempt_id).join(LtiUser, LtiUser.id == Attempt.user_id)
                .where(Attempt.activity_id == activity_id, Result.status == "complete").order_by(Result.id)).all()
            fractions: dict[str, list[float]] = {}
            for sub, _id, scores, scale in rows:
                fractions.setdefault(sub, []).append(float(scores[activity.score_component]) / float(scale))
            pick = max if activity.attempts_policy == AttemptsPolicy.BEST else (lambda values: values[-1])
            return {sub: round(pick(values) * activity.score_maximum, 4) for sub, values in fractions.items()}
    finally:
        database.dispose()
