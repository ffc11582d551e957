"""Verified Speechace callbacks ingested per second by the tool under gunicorn, and AGS requests per score sent.

    .venv/bin/python bench/callback_throughput.py [--callbacks N] [--learners K] [--concurrency C] [--workers W]
                                                  [--worker-class sync|gthread] [--database postgresql|sqlite]
                                                  [--passback after|during|none]

Phases, each bounded in count and time:

1. set-up: a fresh database (``lti-tool init``), the LMS emulator registered with the tool, a Speechace assessment
   and activity, K learners' attempts, and the signed callback URL of each (the tool's own
   ``SpeechaceProvider.callback_url`` with the secret key the gunicorn tool runs with);
2. warm-up: one callback for each of a few extra attempts;
3. ingest (measured): N callbacks, each with its own reportUrl, over the K attempts (every attempt gets one,
   the rest are retakes of random attempts), at a fixed concurrency; every answer must be 200 ``accepted``;
4. duplicates: 10 % of the ingest callbacks sent again; every answer must be 200 ``duplicate`` and no row may
   be added (a correctness check, not a speed claim);
5. passback: ``lti-tool worker`` drains the outbox into the LMS emulator, which counts every token, AGS and NRPS
   request it receives; at the end the LMS gradebook must hold, for every learner, the value the activity's
   policy gives from the stored results.

See bench/README-callbacks.md for the definitions of the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import platform as host_platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from callback_loadgen import Phase
from callback_loadgen import PhaseResult
from callback_loadgen import build_request
from callback_loadgen import worker_main
from callback_setup import PG_DATABASE
from callback_setup import Callback
from callback_setup import CallbackPlan
from callback_setup import Lms
from callback_setup import Seeded
from callback_setup import callback_targets
from callback_setup import count_rows
from callback_setup import create_lms
from callback_setup import expected_gradebook
from callback_setup import fresh_database_url
from callback_setup import plan_callbacks
from callback_setup import seed
from harness import CLOCK_TICKS
from harness import QUIET_PERCENT
from harness import RESULTS_DIR
from harness import Gunicorn
from harness import GunicornConfig
from harness import ProcessPool
from harness import cpu_delta
from harness import free_port
from harness import machine_cpu_ticks
from harness import own_cpu_seconds
from harness import percentile
from harness import postgres_backends_cpu
from harness import process_cpu_seconds
from harness import tool_environment
from harness import wait_for_quiet

from lti_tool.config import load_settings
from lti_tool.db import Database
from lti_tool.models import AttemptsPolicy
from lti_tool.models import ScoreSubmission
from lti_tool.models import SubmissionStatus

TARGET_CALLBACKS_PER_S = 1000.0
TARGET_AGS_REQUESTS_PER_SCORE = 1.01
TARGET_CONCURRENCY = 50
START_DELAY_SECONDS = 0.3
OTHERS_WARNING_PERCENT = 5.0
DRAIN_POLL_SECONDS = 0.1
HOST = "127.0.0.1"


# --- command line ---------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--callbacks", type=int, default=10_000, help="callbacks in the measured ingest phase")
    parser.add_argument("--learners", type=int, default=None,
                        help="attempts the callbacks are spread over (default 70%% of --callbacks: 1.43 results "
                             "per attempt, some attempts get 3 or more)")
    parser.add_argument("--concurrency", type=int, default=TARGET_CONCURRENCY, help="callbacks in flight")
    parser.add_argument("--warmup", type=int, default=300, help="warm-up callbacks (each to its own extra attempt)")
    parser.add_argument("--duplicate-share", type=float, default=0.1, help="share of the callbacks sent twice")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync", help="gunicorn worker class")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-database", default=PG_DATABASE,
                        help="PostgreSQL database to drop and recreate (another name when two runs share a server)")
    parser.add_argument("--policy", choices=[policy.value for policy in AttemptsPolicy],
                        default=AttemptsPolicy.LATEST.value, help="the activity's attempts policy")
    parser.add_argument("--passback", choices=["after", "during", "none"], default="after",
                        help="start `lti-tool worker` after the ingest (default: the ingest is measured alone), "
                             "before it (production: scores are sent while callbacks arrive), or not at all")
    parser.add_argument("--passback-workers", type=int, default=1, help="`lti-tool worker` processes")
    parser.add_argument("--analyze-before-drain", action="store_true",
                        help="run ANALYZE before the passback worker starts (default: leave the planner statistics "
                             "to autovacuum, as in production after a burst of callbacks)")
    parser.add_argument("--loadgen-processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time limit of each HTTP phase")
    parser.add_argument("--drain-seconds", type=float, default=600.0, help="time limit of the outbox drain")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="seconds per callback request")
    parser.add_argument("--quiet-wait", type=float, default=30.0,
                        help="before the ingest, wait up to this many seconds for other processes to leave the "
                             f"machine (busy < {QUIET_PERCENT:g}%%); 0 disables")
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON results (default bench/results/callback_throughput[-sqlite].json)")
    args = parser.parse_args(argv)
    args.learners = args.learners or max(1, math.ceil(args.callbacks * 0.7))
    if not 1 <= args.callbacks <= 1_000_000 or not 1 <= args.learners <= args.callbacks:
        parser.error("callbacks must be 1..1,000,000 and learners 1..callbacks")
    if not 1 <= args.concurrency <= 2000 or args.max_seconds > 3600 or args.drain_seconds > 3600:
        parser.error("concurrency must be 1..2000, time limits at most 3600 s")
    if not 0 <= args.duplicate_share <= 1 or args.warmup < 0 or args.passback_workers < 1:
        parser.error("duplicate-share must be 0..1, warmup >= 0, passback-workers >= 1")
    if args.output is None:
        suffix = "" if args.database == "postgresql" else f"-{args.database}"
        args.output = RESULTS_DIR / f"callback_throughput{suffix}.json"
    return args


class LoadGenPool(ProcessPool):
    """Spawned processes, each waiting for a Phase on its pipe."""

    @classmethod
    def spawn(cls, count: int) -> LoadGenPool:
        return cls.start("spawn", count, worker_main, lambda pipe, index: (pipe,))

    def run(self, label: str, requests: list[bytes], expected: str, concurrency: int, port: int,
            args: argparse.Namespace) -> list[PhaseResult]:
        parts = max(1, min(len(self.pipes), concurrency, len(requests)))
        start_at = time.monotonic() + START_DELAY_SECONDS
        for index, pipe in enumerate(self.pipes[:parts]):
            share = concurrency // parts + (1 if index < concurrency % parts else 0)
            pipe.send(Phase(label=label, host=HOST, port=port, requests=requests[index::parts],
                            expected_status=expected, concurrency=share, start_at=start_at,
                            max_seconds=args.max_seconds, request_timeout=args.request_timeout))
        return self.collect(parts, start_at + args.max_seconds + args.request_timeout + 30)


# --- the passback worker processes ----------------------------------------------------------------------------
@dataclass
class PassbackWorkers:
    """``lti-tool worker`` processes (as in production), each in its own session so only we stop them."""

    environment: dict[str, str]
    log_path: Path
    count: int
    processes: list[subprocess.Popen[bytes]] | None = None
    started_at: float = 0.0

    def start(self) -> None:
        executable = Path(sys.executable).with_name("lti-tool")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.processes = [subprocess.Popen([str(executable), "worker"], env=self.environment, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True)
                              for _ in range(self.count)]
        self.started_at = time.monotonic()

    def cpu_seconds(self) -> float:
        return sum(process_cpu_seconds(process.pid) for process in self.processes or [])

    def stop(self) -> float:
        """SIGTERM (the worker finishes its round and exits); returns the CPU seconds they used."""
        used = self.cpu_seconds()
        for process in self.processes or []:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes or []:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.processes = None
        return used


def pending_submissions(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(ScoreSubmission).where(
            ScoreSubmission.status == SubmissionStatus.PENDING.value)) or 0)


def analyze(database: Database) -> None:
    """Refresh the planner statistics of every table (after the ingest filled the outbox)."""
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("ANALYZE"))


def wait_for_drain(database: Database, limit_seconds: float) -> tuple[float, bool]:
    """Seconds until the outbox holds no pending row (polled every 0.1 s), and whether that happened in time."""
    started = time.monotonic()
    while time.monotonic() - started < limit_seconds:
        if pending_submissions(database) == 0:
            return time.monotonic() - started, True
        time.sleep(DRAIN_POLL_SECONDS)
    return time.monotonic() - started, False


# --- measuring ------------------------------------------------------------------------------------------------
@dataclass
class CpuMeter:
    """CPU of every process of the benchmark over one phase, and of the machine as a whole."""

    gunicorn: Gunicorn
    workers: PassbackWorkers
    database_name: str | None

    def snapshot(self) -> dict[str, Any]:
        return {"tool": self.gunicorn.cpu_seconds(), "worker": self.workers.cpu_seconds(),
                "postgresql": postgres_backends_cpu(self.database_name) if self.database_name else {},
                "orchestrator": own_cpu_seconds(), "machine": machine_cpu_ticks()}

    def since(self, before: dict[str, Any]) -> dict[str, float]:
        after = self.snapshot()
        busy_ticks = after["machine"][0] - before["machine"][0]
        all_ticks = max(1, after["machine"][1] - before["machine"][1])
        postgresql = cpu_delta(before["postgresql"], after["postgresql"]) if self.database_name else math.nan
        return {"tool": after["tool"] - before["tool"], "worker": after["worker"] - before["worker"],
                "postgresql": postgresql,
                "orchestrator": after["orchestrator"] - before["orchestrator"],
                "machine_busy": busy_ticks / all_ticks, "machine_busy_seconds": busy_ticks / CLOCK_TICKS,
                "machine_seconds": all_ticks / CLOCK_TICKS}  # the window's length times the CPUs


def run_phase(pool: LoadGenPool, meter: CpuMeter, label: str, callbacks: list[Callback], expected: str,
              concurrency: int, port: int, args: argparse.Namespace) -> dict[str, Any]:
    requests = [build_request(HOST, port, callback.target, callback.body) for callback in callbacks]
    before = meter.snapshot()
    results = pool.run(label, requests, expected, concurrency, port, args)
    return summarise(label, concurrency, len(requests), results, meter.since(before))


def _rounded(value: float, digits: int) -> float | None:
    """None for a figure that does not apply (NaN: PostgreSQL CPU on SQLite), so the JSON stays valid."""
    return None if math.isnan(value) else round(value, digits)


def summarise(label: str, concurrency: int, planned: int, results: list[PhaseResult],
              cpu: dict[str, float]) -> dict[str, Any]:
    ok = sum(result.ok for result in results)
    wall = max(result.finished for result in results) - min(result.started for result in results)
    latency = [value for result in results for value in result.latency_ms]
    loadgen = sum(result.cpu_seconds for result in results)
    database_cpu = 0.0 if math.isnan(cpu["postgresql"]) else cpu["postgresql"]  # SQLite runs inside the tool
    others = max(0.0, cpu["machine_busy_seconds"] - cpu["tool"] - cpu["worker"] - database_cpu
                 - cpu["orchestrator"] - loadgen)
    per_1000 = 1000 / ok if ok else 0.0
    answers: dict[str, int] = {}
    for result in results:
        for answer, number in result.answers.items():
            answers[answer] = answers.get(answer, 0) + number
    return {
        "phase": label, "concurrency": concurrency, "planned": planned,
        "sent": sum(result.sent for result in results), "ok": ok, "errors": sum(result.errors for result in results),
        "answers": answers, "error_samples": [sample for result in results for sample in result.error_samples][:10],
        "hit_time_limit": any(result.hit_deadline for result in results), "seconds": round(wall, 3),
        "callbacks_per_s": round(ok / wall, 1) if wall else 0.0,
        "latency_ms": {"p50": round(percentile(latency, 0.5), 2), "p90": round(percentile(latency, 0.9), 2),
                       "p99": round(percentile(latency, 0.99), 2), "max": round(max(latency, default=0.0), 2)},
        "connections_opened": sum(result.connections_opened for result in results),
        "resent_after_server_close": sum(result.resent_after_close for result in results),
        "cpu_seconds": {"tool": round(cpu["tool"], 2), "postgresql": _rounded(cpu["postgresql"], 2),
                        "passback_worker": round(cpu["worker"], 2), "loadgen": round(loadgen, 2),
                        "orchestrator_and_lms": round(cpu["orchestrator"], 2), "other_processes": round(others, 2)},
        "cpu_seconds_per_1000_callbacks": {"tool": round(cpu["tool"] * per_1000, 3),
                                           "postgresql": _rounded(cpu["postgresql"] * per_1000, 3),
                                           "loadgen": round(loadgen * per_1000, 3)},
        "machine_busy_percent": round(cpu["machine_busy"] * 100, 1),
        "other_processes_percent": round(others / max(cpu["machine_seconds"], 1e-9) * 100, 1),
    }


# --- passback -------------------------------------------------------------------------------------------------
def passback_figures(lms: Lms, rows: dict[str, int], drain: Drain, expected: dict[str, float],
                     mode: str) -> dict[str, Any]:
    """AGS requests per score, the drain, and the gradebook check."""
    assert drain.cpu is not None
    drain_seconds, drained, worker_cpu, drain_cpu = drain.seconds, drain.drained, drain.worker_cpu, drain.cpu
    requests = lms.counter.snapshot()
    total = sum(requests.values())
    score_posts = sum(number for kind, number in requests.items() if kind.startswith("POST scores"))
    token_requests = sum(number for kind, number in requests.items() if kind.startswith("POST token"))
    with lms.platform.lock:
        emulator_score_posts = len(lms.platform.score_posts)
        emulator_token_requests = len(lms.platform.token_requests)
        refused_posts = sum(1 for post in lms.platform.score_posts if post.status != 200)
    gradebook = lms.gradebook()
    mismatched = sorted(sub for sub, value in expected.items()
                        if gradebook.get(sub) is None or abs(float(gradebook[sub] or 0.0) - value) > 1e-3)
    results, attempts = rows["result"], rows["attempts_with_results"]
    sent = rows.get(f"submission_{SubmissionStatus.SENT.value}", 0)
    return {
        "mode": mode, "lms_requests": dict(sorted(requests.items())), "lms_requests_total": total,
        "score_posts": score_posts, "token_requests": token_requests,
        "other_service_requests": total - score_posts - token_requests,
        "emulator_records": {"score_posts": emulator_score_posts, "token_requests": emulator_token_requests,
                             "refused_score_posts": refused_posts},
        "results_stored": results, "attempts_with_results": attempts, "outbox": rows,
        "ags_requests_per_result": round(total / results, 4) if results else None,
        "ags_requests_per_attempt": round(total / attempts, 4) if attempts else None,
        "score_posts_per_result": round(score_posts / results, 4) if results else None,
        "drain_seconds": round(drain_seconds, 2), "drained": drained,
        "scores_sent_per_s": round(sent / drain_seconds, 1) if drain_seconds > 0 else None,
        "worker_cpu_seconds": round(worker_cpu, 2),
        "worker_cpu_seconds_per_1000_sent": round(worker_cpu / sent * 1000, 3) if sent else None,
        # From the worker's start ("after") or the end of the ingest ("during") to the empty outbox.
        "drain_cpu_seconds": {"worker": round(drain_cpu["worker"], 2),
                              "postgresql": _rounded(drain_cpu["postgresql"], 2),
                              "lms_emulator_and_orchestrator": round(drain_cpu["orchestrator"], 2),
                              "tool": round(drain_cpu["tool"], 2),
                              "machine_busy_percent": round(drain_cpu["machine_busy"] * 100, 1)},
        "gradebook_check": {"learners_expected": len(expected), "learners_in_gradebook": len(gradebook),
                            "mismatched": len(mismatched), "mismatched_samples": mismatched[:5],
                            "correct": not mismatched and len(gradebook) == len(expected)},
    }


# --- reporting ------------------------------------------------------------------------------------------------
def _column(value: float | None, width: int) -> str:
    return f"{value:>{width}.2f}" if value is not None else f"{'n/a':>{width}}"


def print_phases(phases: list[dict[str, Any]]) -> None:
    print(f"\n{'phase':<11} {'conc':>4} {'ok':>6} {'err':>4} {'cb/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'tool CPU-s':>10} {'PG CPU-s':>8} {'loadgen':>7} {'busy':>5} {'others':>6}")
    print(" " * 50 + "----- per 1,000 callbacks -----  % of machine")
    for phase in phases:
        per = phase["cpu_seconds_per_1000_callbacks"]
        print(f"{phase['phase']:<11} {phase['concurrency']:>4} {phase['ok']:>6} {phase['errors']:>4} "
              f"{phase['callbacks_per_s']:>7.1f} {phase['latency_ms']['p50']:>7.1f} {phase['latency_ms']['p99']:>7.1f} "
              f"{per['tool']:>10.2f} {_column(per['postgresql'], 8)} {per['loadgen']:>7.2f} "
              f"{phase['machine_busy_percent']:>4.0f}% {phase['other_processes_percent']:>5.0f}%")
        for sample in phase["error_samples"][:3]:
            print(f"      error: {sample}")
        if phase["other_processes_percent"] > OTHERS_WARNING_PERCENT:
            print("      warning: other processes used the machine during this phase; its numbers are disturbed")


def print_passback(passback: dict[str, Any]) -> None:
    outbox = passback["outbox"]
    print(f"\npassback: {passback['results_stored']} results stored for {passback['attempts_with_results']} "
          f"attempts; outbox: {outbox.get('submission_sent', 0)} sent, {outbox.get('submission_superseded', 0)} "
          f"superseded, {outbox.get('submission_pending', 0)} pending, {outbox.get('submission_parked', 0)} parked")
    print(f"  LMS requests: {passback['lms_requests']}")
    print(f"  AGS requests per result {passback['ags_requests_per_result']}, per attempt "
          f"{passback['ags_requests_per_attempt']} ({passback['score_posts']} score POSTs + "
          f"{passback['token_requests']} token + {passback['other_service_requests']} other)")
    print(f"  drained in {passback['drain_seconds']} s ({passback['scores_sent_per_s']} scores/s; worker "
          f"{passback['worker_cpu_seconds_per_1000_sent']} CPU-s per 1,000 sent)" if passback["drained"] else
          f"  NOT drained within {passback['drain_seconds']} s")
    print(f"  CPU during the drain: {passback['drain_cpu_seconds']}")
    print(f"  gradebook check: {passback['gradebook_check']}")


def check_targets(ingest: dict[str, Any], duplicates: dict[str, Any] | None, passback: dict[str, Any] | None,
                  rows_check: dict[str, Any]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    if ingest["concurrency"] == TARGET_CONCURRENCY:
        checks[f"callbacks_per_s_at_{TARGET_CONCURRENCY} >= {TARGET_CALLBACKS_PER_S:g}"] = \
            ingest["callbacks_per_s"] >= TARGET_CALLBACKS_PER_S
    checks["every callback answered 200 accepted"] = ingest["errors"] == 0 and ingest["ok"] == ingest["planned"]
    if duplicates is not None:
        checks["every duplicate answered 200 duplicate and stored nothing"] = (
            duplicates["errors"] == 0 and duplicates["ok"] == duplicates["planned"] and rows_check["duplicates_added"]
            == {"result": 0, "score_submission": 0})
    checks["one result and one outbox row per accepted callback"] = rows_check["one_row_per_accepted"]
    if passback is None:
        return checks
    per_result, per_attempt = passback["ags_requests_per_result"], passback["ags_requests_per_attempt"]
    checks[f"ags_requests_per_result <= {TARGET_AGS_REQUESTS_PER_SCORE:g}"] = \
        per_result is not None and per_result <= TARGET_AGS_REQUESTS_PER_SCORE
    if passback["mode"] == "after":  # with the worker running, a retake after a sent score is a new value to send
        checks[f"ags_requests_per_attempt <= {TARGET_AGS_REQUESTS_PER_SCORE:g} (stricter reading)"] = \
            per_attempt is not None and per_attempt <= TARGET_AGS_REQUESTS_PER_SCORE
    checks["outbox drained, nothing parked or refused"] = (
        passback["drained"] and passback["outbox"].get("submission_parked", 0) == 0
        and passback["emulator_records"]["refused_score_posts"] == 0)
    checks["LMS gradebook = policy value of the stored results, for every learner"] = \
        passback["gradebook_check"]["correct"]
    return checks


# --- orchestration --------------------------------------------------------------------------------------------
@dataclass
class Bench:
    args: argparse.Namespace
    config: GunicornConfig
    lms: Lms
    seeded: Seeded
    plan: CallbackPlan
    database_url: str
    environment: dict[str, str]


def prepare(args: argparse.Namespace) -> Bench:
    started = time.monotonic()
    config = GunicornConfig(workers=args.workers, worker_class=args.worker_class, threads=args.threads,
                            port=free_port())
    tool_url = f"http://{HOST}:{config.port}"
    learners = [f"learner-{index:06d}" for index in range(args.learners)]
    warmup_learners = [f"warmup-{index:04d}" for index in range(args.warmup)]
    lms = create_lms(tool_url, learners + warmup_learners)
    database_url = fresh_database_url(args.database, args.pg_database)
    seeded = seed(database_url, lms, learners + warmup_learners, attempts_policy=args.policy)
    environment = tool_environment(database_url, tool_url)
    settings = load_settings(environ=environment)
    targets = callback_targets(settings, seeded.attempts)
    plan = plan_callbacks(targets, seeded.attempts[args.learners:], seeded.attempts[:args.learners], args.callbacks,
                          args.duplicate_share)
    print(f"set-up: {len(seeded.attempts)} attempts, {len(plan.main)} callbacks planned "
          f"({max(plan.results_per_attempt.values())} at most for one attempt) in {time.monotonic() - started:.1f} s")
    return Bench(args, config, lms, seeded, plan, database_url, environment)


@dataclass
class Drain:
    seconds: float = 0.0
    drained: bool = False
    worker_cpu: float = 0.0
    cpu: dict[str, float] | None = None


def benchmark(bench: Bench, pool: LoadGenPool) -> dict[str, Any]:
    args, config = bench.args, bench.config
    gunicorn = Gunicorn(config, bench.environment, RESULTS_DIR / f"gunicorn-callbacks-{args.database}.log")
    workers = PassbackWorkers(bench.environment, RESULTS_DIR / f"worker-callbacks-{args.database}.log",
                              args.passback_workers)
    meter = CpuMeter(gunicorn, workers, args.pg_database if args.database == "postgresql" else None)
    database = Database(bench.database_url)
    bench.lms.start()
    drain = Drain()
    try:
        gunicorn.start()
        passback = (f"{args.passback_workers} `lti-tool worker` {args.passback} the ingest"
                    if args.passback != "none" else "none")
        print(f"{config.describe()} on {args.database}; passback: {passback}")
        phases = []
        if bench.plan.warmup:
            phases.append(run_phase(pool, meter, "warm-up", bench.plan.warmup, "accepted",
                                    min(16, args.concurrency), config.port, args))
        if args.passback == "during":
            workers.start()
        if args.quiet_wait > 0 and (busy := wait_for_quiet(args.quiet_wait)) >= QUIET_PERCENT:
            print(f"  the machine is still {busy:.0f}% busy with other work; measuring anyway")
        ingest = run_phase(pool, meter, "ingest", bench.plan.main, "accepted", args.concurrency, config.port, args)
        ingest_finished, ingest_cpu_after = time.monotonic(), meter.snapshot()
        phases.append(ingest)
        print(f"ingest: {ingest['ok']} accepted, {ingest['errors']} errors, {ingest['callbacks_per_s']} callbacks/s")
        rows_after_ingest = count_rows(bench.database_url)
        duplicates = None
        if bench.plan.duplicates:
            duplicates = run_phase(pool, meter, "duplicates", bench.plan.duplicates, "duplicate", args.concurrency,
                                   config.port, args)
            phases.append(duplicates)
        rows_after_duplicates = count_rows(bench.database_url)
        if args.passback != "none":
            drain_cpu_before = ingest_cpu_after
            if args.passback == "after":
                if args.analyze_before_drain:
                    analyze(database)
                drain_cpu_before = meter.snapshot()
                workers.start()
            drain.seconds, drain.drained = wait_for_drain(database, args.drain_seconds)
            if args.passback == "during":  # counted from the last callback, not from the duplicates' end
                drain.seconds = time.monotonic() - ingest_finished
            drain.cpu = meter.since(drain_cpu_before)
            drain.worker_cpu = workers.stop()
    finally:
        workers.stop()
        gunicorn.stop()
        database.dispose()
    accepted = sum(phase["answers"].get("200 accepted", 0) for phase in phases)
    rows_check = {
        "after_ingest": rows_after_ingest, "after_duplicates": rows_after_duplicates,
        "duplicates_added": {table: rows_after_duplicates[table] - rows_after_ingest[table]
                             for table in ("result", "score_submission")},
        "accepted_callbacks": accepted,
        "one_row_per_accepted": rows_after_ingest["result"] == accepted == rows_after_ingest["score_submission"],
    }
    passback = None
    if drain.cpu is not None:
        passback = passback_figures(bench.lms, count_rows(bench.database_url), drain,
                                    expected_gradebook(bench.database_url, bench.seeded.activity_id), args.passback)
    return {"phases": phases, "ingest": ingest, "duplicates": duplicates, "rows_check": rows_check,
            "passback": passback, "targets": check_targets(ingest, duplicates, passback, rows_check)}


def report(bench: Bench, outcome: dict[str, Any]) -> dict[str, Any]:
    args = bench.args
    per_attempt = bench.plan.results_per_attempt
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": multiprocessing.cpu_count(), "python": sys.version.split()[0],
                    "platform": host_platform.platform()},
        "database": args.database,
        "gunicorn": {"command": bench.config.describe(), "argv": bench.config.argv()[1:]},
        "passback": {"mode": args.passback, "workers": args.passback_workers, "command": "lti-tool worker",
                     "analyze_before_drain": args.analyze_before_drain},
        "loadgen": {"processes": args.loadgen_processes,
                    "design": "spawned processes, asyncio raw-socket HTTP/1.1 replaying pre-built requests, one "
                              "connection per concurrent sender (reopened when the server closes it)"},
        "workload": {"callbacks": len(bench.plan.main), "attempts": len(per_attempt), "warmup": len(bench.plan.warmup),
                     "duplicates": len(bench.plan.duplicates), "policy": args.policy,
                     "results_per_attempt": dict(sorted(_histogram(per_attempt.values()).items()))},
        **outcome,
    }


def _histogram(values: Any) -> dict[int, int]:
    histogram: dict[int, int] = {}
    for value in values:
        histogram[value] = histogram.get(value, 0) + 1
    return histogram


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pool = LoadGenPool.spawn(args.loadgen_processes)
    bench = None
    try:
        bench = prepare(args)
        outcome = benchmark(bench, pool)
    except KeyboardInterrupt:
        print("interrupted; gunicorn, the workers and the load generators are stopped", file=sys.stderr)
        return 130
    finally:
        pool.stop()
        if bench is not None:
            bench.lms.stop()
    result = report(bench, outcome)
    print_phases(outcome["phases"])
    print(f"  duplicates: {outcome['rows_check']['duplicates_added']} rows added; ingest rows "
          f"{outcome['rows_check']['after_ingest']}")
    if outcome["passback"] is not None:
        print_passback(outcome["passback"])
    print()
    for name, passed in outcome["targets"].items():
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
