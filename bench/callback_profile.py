"""Where the tool spends its CPU on one Speechace callback: callbacks through ``app.test_client()`` under cProfile.

    .venv/bin/python bench/callback_profile.py [--callbacks 2000] [--database postgresql|sqlite] [--top 30]

The tool is built as ``lti_tool.wsgi`` builds it (production settings, ``create_app()``); the callbacks are the
ones ``callback_throughput.py`` sends (signed by the tool's own SpeechaceProvider, spread over attempts with
retakes). Printed: the SQL of one callback, the CPU per callback without the profiler (and the share spent
waiting for the database), then a cProfile run with a CPU timer: self time by package, inclusive time of the
callback's steps, and the top functions. The raw profile goes to bench/results/callback_profile.prof.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from callback_setup import Callback
from callback_setup import callback_targets
from callback_setup import create_lms
from callback_setup import fresh_database_url
from callback_setup import plan_callbacks
from callback_setup import seed
from flask import Flask
from flask.testing import FlaskClient
from harness import RESULTS_DIR
from harness import tool_environment

from lti_tool.app import create_app
from lti_tool.config import load_settings

PG_DATABASE = "lti_tool_bench_callback_profile"
TOOL_URL = "http://127.0.0.1:5000"
# Inclusive time of these (path fragment, function) pairs: the steps one callback is made of.
STEPS = (
    ("flask/app.py", "wsgi_app"),
    ("flask/app.py", "full_dispatch_request"),
    ("lti_tool/callbacks/views.py", "provider_callback"),
    ("lti_tool/callbacks/service.py", "handle_callback"),
    ("lti_tool/providers/speechace.py", "find_attempt"),
    ("lti_tool/providers/signing.py", "verify"),
    ("lti_tool/providers/speechace.py", "read_result"),
    ("lti_tool/grading/policy.py", "record_result"),
    ("lti_tool/activity_configs.py", "get"),
    ("lti_tool/grading/policy.py", "_graded_value"),
    ("lti_tool/grading/policy.py", "_comment"),
    ("lti_tool/grading/results.py", "store_result"),
    ("sqlalchemy/orm/session.py", "get"),
    ("sqlalchemy/orm/session.py", "execute"),
    ("sqlalchemy/orm/session.py", "scalars"),
    ("sqlalchemy/orm/session.py", "flush"),
    ("sqlalchemy/orm/session.py", "commit"),
    ("sqlalchemy/orm/session.py", "close"),
    ("sqlalchemy/engine/base.py", "_execute_context"),
    ("sqlalchemy/sql/compiler.py", "__init__"),
    ("sqlalchemy/sql/elements.py", "_compile_w_cache"),
    ("sqlalchemy/sql/cache_key.py", "_generate_cache_key"),
    ("sqlalchemy/pool/base.py", "_checkout"),
    ("sqlalchemy/engine/default.py", "_do_ping_w_event"),
    ("flask/json/__init__.py", "jsonify"),
    ("flask/testing.py", "open"),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--callbacks", type=int, default=2000, help="profiled callbacks (and as many unprofiled)")
    parser.add_argument("--warmup", type=int, default=200, help="callbacks before measuring (their SQL is listed)")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--top", type=int, default=30, help="functions to list by self time")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "callback_profile.prof")
    parser.add_argument("--profiler", choices=["cprofile", "none"], default="cprofile",
                        help="none: only run and time the callbacks (to sample them with py-spy instead)")
    args = parser.parse_args(argv)
    if not 1 <= args.callbacks <= 200_000 or not 0 <= args.warmup <= 10_000:
        parser.error("callbacks must be 1..200,000 and warmup 0..10,000")
    return args


@dataclass
class SqlLog:
    """Statements sent to the database while ``recording``."""

    recording: bool = False
    statements: Counter[str] = field(default_factory=Counter)

    def record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.recording:
            self.statements[re.sub(r"\s+", " ", statement).strip()[:150]] += 1


@dataclass
class Driver:
    client: FlaskClient
    cpu_seconds: float = 0.0
    wall_seconds: float = 0.0

    def send(self, callbacks: list[Callback], wrap: Callable[[Callable[[], Any]], Any]) -> None:
        for callback in callbacks:
            def call(callback: Callback = callback) -> Any:
                return self.client.post(callback.target, data=callback.body, content_type="application/json")

            cpu, wall = time.process_time(), time.perf_counter()
            response = wrap(call)
            self.cpu_seconds += time.process_time() - cpu
            self.wall_seconds += time.perf_counter() - wall
            if response.status_code != 200 or response.get_json() != {"status": "accepted"}:
                raise RuntimeError(f"callback refused: {response.status_code} {response.get_data(as_text=True)}")


def build_app(environment: dict[str, str], sql: SqlLog) -> Flask:
    app = create_app(load_settings(environ=environment))
    sa.event.listen(app.extensions["lti_tool.services"].database.engine, "before_cursor_execute", sql.record)
    return app


# --- reporting ----------------------------------------------------------------------------------------------
def _package(filename: str, function: str) -> str:
    if filename == "~":
        return "C builtins: " + re.sub(r"<built-in method |<method |'| of .*|>|\{|\}", "", function)[:50]
    match = re.search(r"site-packages/([^/]+)", filename)
    if match:
        return match.group(1).removesuffix(".py")
    match = re.search(r"(lti_tool/.+)\.py$", filename)
    if match:
        return match.group(1).replace("/", ".")
    return "stdlib: " + Path(filename).stem


def report(stats: pstats.Stats, callbacks: int, top: int) -> None:
    entries = stats.stats.items()  # type: ignore[attr-defined]
    total = sum(entry[2] for _key, entry in entries)
    print(f"\ncProfile of {callbacks} more callbacks: {total / callbacks * 1000:.2f} ms CPU per callback under the "
          "profiler (its overhead inflates small calls)")
    by_package: Counter[str] = Counter()
    for (filename, _line, function), (_cc, _nc, self_time, _cum, _callers) in entries:
        by_package[_package(filename, function)] += self_time
    print("\nSelf time by package / module (% of profiled time):")
    for package, seconds in by_package.most_common(20):
        print(f"  {seconds / total * 100:5.1f}%  {package}")
    print("\nInclusive time of the callback's steps (% of profiled time, calls per callback):")
    for fragment, name in STEPS:
        for (filename, _line, function), (_cc, calls, _self, cumulative, _callers) in entries:
            if function == name and filename.endswith(fragment):
                print(f"  {cumulative / total * 100:5.1f}%  {calls / callbacks:5.1f}x  {fragment}:{name}")
    print(f"\nTop {top} functions by self time:")
    stats.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    learners = [f"learner-{index:06d}" for index in range(math.ceil(args.callbacks * 2 * 0.7))]
    warmup_learners = [f"warmup-{index:04d}" for index in range(args.warmup)]
    lms = create_lms(TOOL_URL, learners + warmup_learners)  # not started: ingest never calls the LMS
    database_url = fresh_database_url(args.database, PG_DATABASE)
    seeded = seed(database_url, lms, learners + warmup_learners)
    environment = tool_environment(database_url, TOOL_URL)
    targets = callback_targets(load_settings(environ=environment), seeded.attempts)
    plan = plan_callbacks(targets, seeded.attempts[len(learners):], seeded.attempts[:len(learners)],
                          args.callbacks * 2, 0.0)
    plain, profiled = plan.main[:args.callbacks], plan.main[args.callbacks:]
    sql = SqlLog()
    app = build_app(environment, sql)
    driver = Driver(app.test_client(use_cookies=False))
    sql.recording = True
    driver.send(plan.warmup, lambda call: call())
    sql.recording = False
    print(f"SQL per callback ({args.warmup} warm-up callbacks, each the first result of its attempt): "
          f"{sum(sql.statements.values()) / max(1, args.warmup):.1f} statements")
    for statement, count in sql.statements.most_common():
        print(f"  {count / max(1, args.warmup):4.1f}x  {statement}")
    driver.cpu_seconds = driver.wall_seconds = 0.0
    driver.send(plain, lambda call: call())
    cpu_ms, wall_ms = (value / len(plain) * 1000 for value in (driver.cpu_seconds, driver.wall_seconds))
    print(f"\nPer callback without the profiler ({len(plain)} callbacks, {args.database}): {cpu_ms:.2f} ms CPU in "
          f"this process, {wall_ms:.2f} ms wall ({max(0.0, wall_ms - cpu_ms):.2f} ms waiting, mostly for the "
          "database and its commit); test client: no gunicorn, no HTTP parsing")
    if args.profiler == "none":
        return 0
    profiler = cProfile.Profile(time.process_time)  # CPU time: waiting for the database is not the tool's CPU
    driver.send(profiled, lambda call: profiler.runcall(call))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(args.output))
    report(pstats.Stats(profiler, stream=sys.stdout), len(profiled), args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
