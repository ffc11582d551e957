"""Full LTI 1.3 launches per second against the tool under gunicorn, with latency and the tool's CPU per launch.

    .venv/bin/python bench/launch_throughput.py [--concurrency 50 200] [--launches N] [--workers W]
                                                [--worker-class sync|gthread] [--database postgresql|sqlite]

Every launch is a new learner: OIDC login (302 + state cookie), an id_token signed with the platform emulator's
key over the emulator's claim set, and the launch POST that validates it, writes the user, course, link,
membership and launch rows, and renders the landing page. See bench/README.md for what the numbers mean.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import platform as host_platform
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import CLOCK_TICKS
from harness import LEARNER_PAGE_MARKER
from harness import PG_DATABASE
from harness import QUIET_PERCENT
from harness import RESULTS_DIR
from harness import Gunicorn
from harness import GunicornConfig
from harness import LmsSetup
from harness import ProcessPool
from harness import count_rows
from harness import cpu_delta
from harness import create_lms
from harness import free_port
from harness import fresh_database_url
from harness import machine_cpu_ticks
from harness import own_cpu_seconds
from harness import percentile
from harness import postgres_backends_cpu
from harness import prepare_tool_database
from harness import tool_environment
from harness import wait_for_quiet
from loadgen import LaunchTemplate
from loadgen import LevelCommand
from loadgen import LevelResult
from loadgen import worker_main

from lti_tool.sandbox.platform import create_platform_app

TARGET_LAUNCHES_PER_S = 500.0
TARGET_P99_MS = 150.0
TARGET_CONCURRENCY = 50
TARGET_CPU_S_PER_1000 = 2.5
START_DELAY_SECONDS = 0.3
OTHERS_WARNING_PERCENT = 5.0
CHECKED_TABLES = ("lti_user", "lti_membership", "lti_launch")


# --- command line ----------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200], help="concurrent launches")
    parser.add_argument("--launches", type=int, default=5000, help="launches per concurrency level")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="time limit of each level")
    parser.add_argument("--warmup", type=int, default=500, help="launches before measuring (at concurrency 16)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync", help="gunicorn worker class")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-database", default=PG_DATABASE, help="PostgreSQL database to drop and recreate")
    parser.add_argument("--courses", type=int, default=1,
                        help="spread learners over this many courses (1: a whole class launching one activity)")
    parser.add_argument("--loadgen-processes", type=int, default=2, help="load-generator processes")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="seconds per HTTP request")
    parser.add_argument("--quiet-wait", type=float, default=60.0,
                        help="before each level, wait up to this many seconds for other processes to leave the "
                             f"machine (busy < {QUIET_PERCENT:g}%%); 0 disables")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "launch_throughput.json")
    args = parser.parse_args(argv)
    if args.launches < 1 or args.launches > 1_000_000 or args.max_seconds > 3600 or min(args.concurrency) < 1:
        parser.error("launches must be 1..1,000,000, max-seconds at most 3600, concurrency at least 1")
    return args


# --- the load-generator processes --------------------------------------------------------------------------------
def _share(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


class LoadGenPool(ProcessPool):
    """Forked processes (the launch template is inherited, not pickled), each running levels on its pipe."""

    @classmethod
    def fork(cls, template: LaunchTemplate, count: int) -> LoadGenPool:
        return cls.start("fork", count, worker_main, lambda pipe, index: (pipe, template, index))

    def run(self, label: str, concurrency: int, launches: int, args: argparse.Namespace) -> list[LevelResult]:
        parts = min(len(self.pipes), concurrency)
        start_at = time.monotonic() + START_DELAY_SECONDS
        for index, pipe in enumerate(self.pipes[:parts]):
            pipe.send(LevelCommand(label=label, concurrency=_share(concurrency, parts, index),
                                   launches=_share(launches, parts, index), max_seconds=args.max_seconds,
                                   start_at=start_at, request_timeout=args.request_timeout))
        return self.collect(parts, start_at + args.max_seconds + args.request_timeout + 10)


def run_level(pool: LoadGenPool, gunicorn: Gunicorn, label: str, concurrency: int, launches: int,
              args: argparse.Namespace) -> dict[str, Any]:
    if args.quiet_wait > 0:
        busy = wait_for_quiet(args.quiet_wait)
        if busy >= QUIET_PERCENT:
            print(f"  the machine is still {busy:.0f}% busy with other work; measuring anyway")
    pg_cpu = postgres_backends_cpu(args.pg_database)
    tool_cpu, own_cpu, machine = gunicorn.cpu_seconds(), own_cpu_seconds(), machine_cpu_ticks()
    results = pool.run(label, concurrency, launches, args)
    machine_after = machine_cpu_ticks()
    busy_ticks, all_ticks = machine_after[0] - machine[0], max(1, machine_after[1] - machine[1])
    cpu = {"tool": gunicorn.cpu_seconds() - tool_cpu,
           "postgresql": cpu_delta(pg_cpu, postgres_backends_cpu(args.pg_database)),
           "orchestrator": own_cpu_seconds() - own_cpu, "machine_busy": busy_ticks / all_ticks,
           "machine_busy_seconds": busy_ticks / CLOCK_TICKS}
    return summarise(label, concurrency, results, cpu)


def _others_cpu(cpu: dict[str, float], loadgen: float) -> float:
    """CPU used on the machine by everything else (other users' jobs, the kernel's idle-time work)."""
    return max(0.0, cpu["machine_busy_seconds"] - cpu["tool"] - cpu["postgresql"] - cpu["orchestrator"] - loadgen)


def _merged(results: list[LevelResult], name: str) -> list[float]:
    return [value for result in results for value in getattr(result, name)]


def summarise(label: str, concurrency: int, results: list[LevelResult], cpu: dict[str, float]) -> dict[str, Any]:
    ok = sum(result.ok for result in results)
    wall = max(result.finished for result in results) - min(result.started for result in results)
    total, login, launch = (_merged(results, name) for name in ("total_ms", "login_ms", "launch_ms"))
    per_1000 = 1000 / ok if ok else 0.0
    loadgen_cpu = sum(result.cpu_seconds for result in results)
    sign_cpu = sum(result.sign_cpu_seconds for result in results)
    return {
        "label": label, "concurrency": concurrency, "attempted": sum(result.attempted for result in results),
        "ok": ok, "errors": sum(result.errors for result in results),
        "error_samples": [sample for result in results for sample in result.error_samples][:10],
        "hit_time_limit": any(result.hit_deadline for result in results), "seconds": round(wall, 3),
        "launches_per_s": round(ok / wall, 1) if wall else 0.0,
        "latency_ms": {"p50": round(percentile(total, 0.5), 2), "p90": round(percentile(total, 0.9), 2),
                       "p99": round(percentile(total, 0.99), 2), "max": round(max(total, default=0.0), 2),
                       "login_p50": round(percentile(login, 0.5), 2), "launch_p50": round(percentile(launch, 0.5), 2),
                       "login_p99": round(percentile(login, 0.99), 2),
                       "launch_p99": round(percentile(launch, 0.99), 2)},
        "cpu_seconds": {"tool": round(cpu["tool"], 2), "postgresql": round(cpu["postgresql"], 2),
                        "loadgen": round(loadgen_cpu, 2), "loadgen_signing": round(sign_cpu, 2),
                        "orchestrator": round(cpu["orchestrator"], 2),
                        "other_processes": round(_others_cpu(cpu, loadgen_cpu), 2)},
        "cpu_seconds_per_1000_launches": {"tool": round(cpu["tool"] * per_1000, 3),
                                          "postgresql": round(cpu["postgresql"] * per_1000, 3),
                                          "loadgen": round(loadgen_cpu * per_1000, 3),
                                          "loadgen_signing": round(sign_cpu * per_1000, 3)},
        "machine_busy_percent": round(cpu["machine_busy"] * 100, 1),
        "other_processes_percent": round(_others_cpu(cpu, loadgen_cpu) / max(wall, 1e-9)
                                         / multiprocessing.cpu_count() * 100, 1),
    }


def signing_cost_us(lms: LmsSetup, template: LaunchTemplate, count: int = 200) -> float:
    """CPU microseconds of one id_token signature (emulator key, RS256, full claim set)."""
    started = time.process_time()
    for index in range(count):
        lms.sign(template.header, template.learner_claims(f"probe-{index}", "n" * 43))
    return (time.process_time() - started) / count * 1e6


# --- reporting ----------------------------------------------------------------------------------------------------
def print_table(levels: list[dict[str, Any]]) -> None:
    print(f"\n{'conc':>5} {'ok':>6} {'err':>4} {'launch/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'tool CPU-s':>11} "
          f"{'PG CPU-s':>9} {'loadgen':>8} {'(signing)':>9} {'busy':>6} {'others':>7}")
    print(" " * 47 + "---------- per 1,000 launches ----------  % of machine")
    for level in levels:
        per = level["cpu_seconds_per_1000_launches"]
        print(f"{level['concurrency']:>5} {level['ok']:>6} {level['errors']:>4} {level['launches_per_s']:>9.1f} "
              f"{level['latency_ms']['p50']:>8.1f} {level['latency_ms']['p99']:>8.1f} {per['tool']:>11.2f} "
              f"{per['postgresql']:>9.2f} {per['loadgen']:>8.2f} {per['loadgen_signing']:>9.2f} "
              f"{level['machine_busy_percent']:>5.0f}% {level['other_processes_percent']:>6.0f}%")
        for sample in level["error_samples"][:3]:
            print(f"      error: {sample}")
        if level["other_processes_percent"] > OTHERS_WARNING_PERCENT:
            print("      warning: other processes used the machine during this level; its numbers are disturbed")


def check_targets(levels: list[dict[str, Any]]) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    at_target = next((level for level in levels if level["concurrency"] == TARGET_CONCURRENCY), None)
    if at_target is not None:
        checks[f"launches_per_s_at_{TARGET_CONCURRENCY} >= {TARGET_LAUNCHES_PER_S:g}"] = \
            at_target["launches_per_s"] >= TARGET_LAUNCHES_PER_S
        checks[f"p99_ms_at_{TARGET_CONCURRENCY} < {TARGET_P99_MS:g}"] = at_target["latency_ms"]["p99"] < TARGET_P99_MS
    checks[f"tool_cpu_s_per_1000 <= {TARGET_CPU_S_PER_1000:g} (every level)"] = all(
        level["cpu_seconds_per_1000_launches"]["tool"] <= TARGET_CPU_S_PER_1000 for level in levels)
    checks["no errors"] = all(level["errors"] == 0 for level in levels)
    return checks


def print_targets(checks: dict[str, Any]) -> None:
    print()
    for name, passed in checks.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")


def database_check(database_url: str, levels: list[dict[str, Any]]) -> dict[str, Any]:
    """Every successful launch must have left its user, membership and launch rows, and used up its state."""
    rows = count_rows(database_url, CHECKED_TABLES)
    ok = sum(level["ok"] for level in levels)
    consistent = all(rows[table] == ok for table in CHECKED_TABLES)
    return {"rows": rows, "successful_launches": ok, "consistent": consistent}


# --- orchestration ------------------------------------------------------------------------------------------------
def make_template(lms: LmsSetup, port: int, courses: int) -> LaunchTemplate:
    login_params = {key: value for key, value in lms.login_params.items()
                    if key not in ("login_hint", "lti_message_hint")}
    return LaunchTemplate(host="127.0.0.1", port=port, header=lms.header, claims=lms.claims,
                          login_params=login_params, auth_url=lms.auth_url, landing_marker=LEARNER_PAGE_MARKER,
                          sign=lms.sign, courses=courses)


def benchmark(args: argparse.Namespace, lms: LmsSetup, template: LaunchTemplate, pool: LoadGenPool,
              config: GunicornConfig) -> dict[str, Any]:
    database_url = fresh_database_url(args.database, args.pg_database)
    prepare_tool_database(database_url, lms)
    lms.server.start(create_platform_app(lms.platform))
    gunicorn = Gunicorn(config, tool_environment(database_url, f"http://127.0.0.1:{config.port}"),
                        RESULTS_DIR / f"gunicorn-{args.database}.log")
    try:
        gunicorn.start()
        signing_us = signing_cost_us(lms, template)
        print(f"{config.describe()} on {args.database}; id_token signing costs {signing_us:.0f} us CPU each")
        warmup = run_level(pool, gunicorn, "warmup", min(16, args.warmup), args.warmup, args)
        print(f"warm-up: {warmup['ok']} launches, {warmup['errors']} errors, {warmup['launches_per_s']}/s")
        levels = []
        for concurrency in args.concurrency:
            levels.append(run_level(pool, gunicorn, f"c{concurrency}", concurrency, args.launches, args))
            print(f"concurrency {concurrency}: {levels[-1]['launches_per_s']} launches/s")
    finally:
        gunicorn.stop()
    return {"signing_us_per_id_token": round(signing_us, 1), "warmup": warmup, "levels": levels,
            "database_check": database_check(database_url, [warmup, *levels])}


def tool_revision() -> str:
    """The commit measured, with ``+dirty`` when the tool's code has uncommitted changes."""
    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", *argv], capture_output=True, text=True, check=True, timeout=10,
                                  cwd=RESULTS_DIR.parent).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--", "../lti_tool", "../templates") else "")


def report(args: argparse.Namespace, config: GunicornConfig, outcome: dict[str, Any]) -> dict[str, Any]:
    checks = check_targets(outcome["levels"])
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": multiprocessing.cpu_count(), "python": sys.version.split()[0],
                    "platform": host_platform.platform()},
        "database": args.database,
        "tool_revision": tool_revision(),
        "gunicorn": {"command": config.describe(), "argv": config.argv()[1:]},
        "loadgen": {"processes": args.loadgen_processes, "design": "forked processes, asyncio raw-socket HTTP/1.1, "
                    "one keep-alive connection per concurrent launch; id_token signed in-process with the "
                    "emulator's sign_jwt (the emulator's /auth endpoint is skipped)"},
        "launches_per_level": args.launches,
        "courses": args.courses,
        **outcome,
        "targets": checks,
    }


def _stop_on_sigterm(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt  # unwinds through the finally blocks that stop gunicorn and the load generators


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    config = GunicornConfig(workers=args.workers, worker_class=args.worker_class, threads=args.threads,
                            port=free_port())
    lms = create_lms(f"http://127.0.0.1:{config.port}")
    template = make_template(lms, config.port, args.courses)
    pool = LoadGenPool.fork(template, args.loadgen_processes)  # before the emulator's server thread starts
    try:
        outcome = benchmark(args, lms, template, pool, config)
    except KeyboardInterrupt:
        print("interrupted: gunicorn and the load generators are stopped", file=sys.stderr)
        return 130
    finally:
        pool.stop()
        lms.server.stop()
    result = report(args, config, outcome)
    print_table(outcome["levels"])
    print_targets(result["targets"])
    print(f"database check: {outcome['database_check']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
