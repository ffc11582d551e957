"""An LMS outage during a burst of scores: how many requests the down LMS gets, and how fast the gradebook fills
once it is back.

    .venv/bin/python bench/outage_drain.py [--scores 2000] [--down-seconds 180] [--passback-workers 2]
                                           [--per-platform 4] [--kill-web] [--kill-worker] [--json PATH]

1. set-up: a fresh PostgreSQL database, the LMS emulator (Moodle rules) with one learner per score, the tool under
   gunicorn (production configuration) and ``lti-tool worker`` processes;
2. the LMS goes down (503 with Retry-After on its token and AGS endpoints, counted), and Speechace's completion
   callbacks for every learner arrive (each retried until the tool answers 200, as Speechace does);
   ``--kill-web`` SIGKILLs a gunicorn worker in the middle of the burst;
3. after ``--down-seconds`` (counted from the moment it went down) the LMS is back; ``--kill-worker`` SIGKILLs a
   passback worker once a tenth of the grades are in (mid-send) and starts another;
4. drain: the time from recovery until the LMS gradebook holds, for every learner, the value of the stored result.

Reported: requests to the down LMS (by kind), drain time, and per learner the score POSTs the LMS accepted —
lost (no grade), wrong (another value) and duplicated (more than one accepted POST) must all be 0.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from callback_setup import Callback
from callback_setup import callback_targets
from callback_setup import create_lms
from callback_setup import expected_gradebook
from callback_setup import fresh_database_url
from callback_setup import plan_callbacks
from callback_setup import seed
from harness import RESULTS_DIR
from harness import Gunicorn
from harness import GunicornConfig
from harness import free_port
from harness import installed_versions
from harness import tool_environment

from lti_tool.config import load_settings

HOST = "127.0.0.1"
GOAL_DRAIN_SECONDS = 30.0
GOAL_DOWN_REQUESTS = 300
VERSIONS = ("lti-tool", "flask", "sqlalchemy", "psycopg", "requests", "gunicorn", "pylti1p3", "authlib")


@dataclass
class OutagePlan:
    scores: int = 2000
    down_seconds: float = 180.0
    web_workers: int = 2
    passback_workers: int = 2
    per_platform: int = 4
    sender_threads: int = 16
    drain_limit: float = 300.0
    retry_after: int | None = 5
    kill_web: bool = False
    kill_worker: bool = False
    lease_seconds: float = 60.0
    http_timeout: float = 10.0
    lms_delay: float = 0.0  # seconds the LMS takes per service request (a real one takes some)
    database_name: str = "lti_tool_bench_outage"
    log_dir: Path = RESULTS_DIR


class Workers:
    """``lti-tool worker`` processes, each in its own session so only we stop them."""

    def __init__(self, environment: dict[str, str], log_path: Path) -> None:
        self.environment = environment
        self.log_path = log_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, count: int = 1) -> None:
        executable = Path(sys.executable).with_name("lti-tool")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.processes += [subprocess.Popen([str(executable), "worker"], env=self.environment, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
                               for _ in range(count)]

    def kill_one(self) -> None:
        victim = self.processes.pop(0)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.processes = []


class Sender:
    """Speechace's side: POST each callback until the tool answers 200 (a crash or a 5xx is retried)."""

    def __init__(self, base_url: str, on_sent: Any = None) -> None:
        self.base_url = base_url
        self.retries = 0
        self.answers: Counter[str] = Counter()
        self.on_sent = on_sent
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sent = 0

    def send(self, callback: Callback) -> None:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        if self.on_sent is not None:
            with self._lock:
                sent = self._sent
            self.on_sent(sent)
        for _ in range(50):
            try:
                response = session.post(self.base_url + callback.target, data=callback.body,
                                        headers={"Content-Type": "application/json"}, timeout=30)
                if response.status_code == 200:
                    with self._lock:
                        self.answers[response.text.strip()[:40]] += 1
                        self._sent += 1
                    return
            except requests.RequestException:
                session = self._local.session = requests.Session()
            with self._lock:
                self.retries += 1
            time.sleep(0.2)
        raise RuntimeError(f"callback for {callback.attempt.sub} never accepted")


def same(grade: float | None, expected: float) -> bool:
    """The LMS rescales to its column's maximum; the tool rounds to 4 decimals."""
    return grade is not None and abs(grade - expected) < 1e-3


def versions() -> dict[str, str]:
    return installed_versions(VERSIONS)


def run_outage(plan: OutagePlan) -> dict[str, Any]:
    started = time.monotonic()
    config = GunicornConfig(workers=plan.web_workers, worker_class="sync", threads=1, port=free_port())
    tool_url = f"http://{HOST}:{config.port}"
    learners = [f"learner-{index:06d}" for index in range(plan.scores)]
    lms = create_lms(tool_url, learners)
    database_url = fresh_database_url("postgresql", plan.database_name)
    seeded = seed(database_url, lms, learners)
    environment = {**tool_environment(database_url, tool_url),
                   "LTI_TOOL_PASSBACK_CONCURRENCY_PER_PLATFORM": str(plan.per_platform),
                   "LTI_TOOL_PASSBACK_LEASE_SECONDS": str(plan.lease_seconds),
                   "LTI_TOOL_HTTP_TIMEOUT_SECONDS": str(plan.http_timeout)}
    targets = callback_targets(load_settings(environ=environment), seeded.attempts)
    callbacks = plan_callbacks(targets, [], seeded.attempts, plan.scores, 0.0).main
    gunicorn = Gunicorn(config, environment, plan.log_dir / "gunicorn-outage.log")
    workers = Workers(environment, plan.log_dir / "worker-outage.log")
    platform = lms.platform
    platform.down_retry_after = plan.retry_after
    platform.delay_seconds = plan.lms_delay
    killed_web: list[int] = []

    def kill_the_web_workers(sent: int) -> None:
        """Once a third of the callbacks are in, SIGKILL every gunicorn worker just after a callback went out,
        so at least one dies mid-callback (the master starts new ones)."""
        if plan.kill_web and not killed_web and sent >= plan.scores // 3:
            killed_web.append(sent)
            pids = gunicorn.worker_pids()
            threading.Timer(0.002, lambda: [os.kill(pid, signal.SIGKILL) for pid in pids]).start()

    sender = Sender(tool_url, kill_the_web_workers)
    figures: dict[str, Any] = {"plan": {key: str(value) if isinstance(value, Path) else value
                                        for key, value in asdict(plan).items()}, "versions": versions()}
    lms.start()
    try:
        gunicorn.start()
        workers.start(plan.passback_workers)
        setup_seconds = time.monotonic() - started
        platform.set_down(True)
        down_at = time.monotonic()
        with ThreadPoolExecutor(max_workers=plan.sender_threads) as pool:
            list(pool.map(sender.send, callbacks))
        ingest_seconds = time.monotonic() - down_at
        expected = expected_gradebook(database_url, seeded.activity_id)
        time.sleep(max(0.0, down_at + plan.down_seconds - time.monotonic()))
        down_counts = lms.counter.snapshot()
        platform.set_down(False)
        up_at = time.monotonic()
        drained, killed_worker = False, False
        while time.monotonic() - up_at < plan.drain_limit:
            gradebook = lms.gradebook()
            if plan.kill_worker and not killed_worker and len(gradebook) >= max(1, plan.scores // 10):
                workers.kill_one()
                workers.start(1)
                killed_worker = True
            if len(gradebook) >= len(expected) and all(same(gradebook.get(sub), value)
                                                       for sub, value in expected.items()):
                drained = True
                break
            time.sleep(0.1)
        drain_seconds = time.monotonic() - up_at
        time.sleep(min(2.0, plan.lease_seconds))  # a late resend would show up as a duplicate
    finally:
        workers.stop()
        gunicorn.stop()
        lms.stop()
    gradebook = lms.gradebook()
    with platform.lock:
        accepted = Counter(str(post.body.get("userId")) for post in platform.score_posts if post.status == 200)
        refused = Counter(post.status for post in platform.score_posts if post.status != 200)
    figures.update({
        "setup_seconds": round(setup_seconds, 1),
        "ingest_seconds_while_down": round(ingest_seconds, 2),
        "callbacks_retried": sender.retries,
        "callback_answers": dict(sender.answers),
        "web_worker_killed": bool(killed_web),
        "passback_worker_killed": plan.kill_worker and killed_worker,
        "requests_to_down_lms": platform.requests_while_down,
        "requests_to_down_lms_by_kind": dict(down_counts),
        "drained": drained,
        "drain_seconds_after_recovery": round(drain_seconds, 2),
        "score_posts_refused_by_status": {str(status): count for status, count in refused.items()},
        "lost": sorted(sub for sub in expected if sub not in gradebook),
        "wrong": sorted(sub for sub, value in expected.items() if sub in gradebook
                        and not same(gradebook[sub], value)),
        "duplicated": sorted(sub for sub, count in accepted.items() if count > 1),
        "learners": len(expected),
    })
    return figures


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scores", type=int, default=2000, help="learners, one completed test each")
    parser.add_argument("--down-seconds", type=float, default=180.0, help="how long the LMS is down")
    parser.add_argument("--passback-workers", type=int, default=2)
    parser.add_argument("--per-platform", type=int, default=4, help="LTI_TOOL_PASSBACK_CONCURRENCY_PER_PLATFORM")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--retry-after", type=int, default=5, help="Retry-After of the down LMS; -1: none")
    parser.add_argument("--lms-delay", type=float, default=0.0, help="seconds per LMS service request")
    parser.add_argument("--drain-limit", type=float, default=300.0)
    parser.add_argument("--kill-web", action="store_true", help="SIGKILL a gunicorn worker mid-burst")
    parser.add_argument("--kill-worker", action="store_true", help="SIGKILL a passback worker mid-drain")
    parser.add_argument("--lease-seconds", type=float, default=60.0)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = OutagePlan(scores=args.scores, down_seconds=args.down_seconds, passback_workers=args.passback_workers,
                      per_platform=args.per_platform, web_workers=args.web_workers,
                      retry_after=None if args.retry_after < 0 else args.retry_after, lms_delay=args.lms_delay,
                      drain_limit=args.drain_limit, kill_web=args.kill_web, kill_worker=args.kill_worker,
                      lease_seconds=args.lease_seconds)
    figures = run_outage(plan)
    print(json.dumps(figures, indent=2))
    print(f"\n{figures['learners']} scores, LMS down {args.down_seconds:.0f} s: "
          f"{figures['requests_to_down_lms']} requests to the down LMS (goal < {GOAL_DOWN_REQUESTS}); "
          f"drained {figures['drain_seconds_after_recovery']} s after recovery (goal < {GOAL_DRAIN_SECONDS:.0f} s); "
          f"lost {len(figures['lost'])}, wrong {len(figures['wrong'])}, duplicated {len(figures['duplicated'])}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    ok = (figures["drained"] and not figures["lost"] and not figures["wrong"] and not figures["duplicated"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
