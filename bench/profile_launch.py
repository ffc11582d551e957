"""Where the tool spends its CPU on one launch: a loop of launches through ``app.test_client()`` under cProfile.

    .venv/bin/python bench/profile_launch.py [--launches 1000] [--database postgresql|sqlite] [--top 30]

The tool is built exactly as ``lti_tool.wsgi`` builds it (production settings); the platform emulator serves its
JWKS over HTTP and signs each id_token, outside the profiled region. Printed: CPU per login and per launch without
the profiler, the SQL each one sends, self time per package, the top functions, and the inclusive time of the
steps a launch is made of. The raw profile is saved to bench/results/profile_launch.prof (e.g. for snakeviz).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import secrets
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from harness import LEARNER_PAGE_MARKER
from harness import RESULTS_DIR
from harness import LmsSetup
from harness import create_lms
from harness import fresh_database_url
from harness import prepare_tool_database
from loadgen import LaunchTemplate

from lti_tool.app import create_app
from lti_tool.config import load_settings
from lti_tool.sandbox.platform import create_platform_app

TOOL_URL = "http://127.0.0.1:5000"
# Inclusive time of these (path fragment, function) pairs: the steps one launch is made of. The tool's own
# functions are matched anywhere under lti_tool/, so that moving them between modules does not hide them.
STEPS = (
    ("flask/app.py", "wsgi_app"),
    ("lti_tool/", "login"),
    ("lti_tool/", "start_login"),
    ("lti_tool/", "registration"),
    ("lti_tool/", "launch"),
    ("lti_tool/", "validate_launch"),
    ("lti_tool/", "read_login_state"),
    ("pylti1p3/message_launch.py", "__init__"),
    ("lti_tool/", "validate_jwt_signature"),
    ("jwt/api_jwt.py", "decode"),
    ("lti_tool/", "validate_message"),
    ("lti_tool/", "record_launch"),
    ("lti_tool/", "find_or_register_deployment"),
    ("lti_tool/", "write_launch_rows"),
    ("lti_tool/", "upsert"),
    ("sqlalchemy/dialects/postgresql/dml.py", "excluded"),
    ("lti_tool/", "render_landing"),
    ("lti_tool/", "learner_page"),
    ("lti_tool/", "activity_at_link"),
    ("flask/templating.py", "render_template"),
    ("sqlalchemy/orm/session.py", "commit"),
    ("sqlalchemy/orm/session.py", "flush"),
    ("sqlalchemy/orm/session.py", "execute"),
    ("sqlalchemy/orm/session.py", "get"),
    ("sqlalchemy/engine/base.py", "_execute_context"),
    ("sqlalchemy/pool/base.py", "_checkout"),
    ("sqlalchemy/engine/default.py", "_do_ping_w_event"),
    ("sqlalchemy/sql/compiler.py", "__init__"),
    ("werkzeug/sansio/response.py", "set_cookie"),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--launches", type=int, default=1000, help="profiled launches (and as many unprofiled)")
    parser.add_argument("--warmup", type=int, default=100, help="launches before measuring (their SQL is listed)")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--top", type=int, default=30, help="functions to list by self time")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "profile_launch.prof")
    parser.add_argument("--profiler", choices=["cprofile", "none"], default="cprofile",
                        help="none: only run and time the launches (to sample them with py-spy instead)")
    return parser.parse_args(argv)


@dataclass
class SqlLog:
    """Statements sent to the database, per request kind (login or launch)."""

    current: str = "setup"
    statements: dict[str, Counter[str]] = field(default_factory=dict)

    def record(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.setdefault(self.current, Counter())[_normalise(statement)] += 1


def _normalise(statement: str) -> str:
    return re.sub(r"\s+", " ", statement).strip()[:160]


@dataclass
class Driver:
    """Runs launches through the test client; ``wrap`` surrounds each tool request (profiling, timing)."""

    client: FlaskClient
    template: LaunchTemplate
    lms: LmsSetup
    sql: SqlLog
    cpu: dict[str, float] = field(default_factory=lambda: {"login": 0.0, "launch": 0.0})

    def request(self, kind: str, call: Callable[[], Any], wrap: Callable[[Callable[[], Any]], Any]) -> Any:
        self.sql.current = kind
        started = time.process_time()
        response = wrap(call)
        self.cpu[kind] += time.process_time() - started
        self.sql.current = "other"
        return response

    def launch(self, sub: str, wrap: Callable[[Callable[[], Any]], Any]) -> None:
        params = {**self.template.login_params, "login_hint": sub, "lti_message_hint": secrets.token_urlsafe(16)}
        response = self.request("login", lambda: self.client.get("/lti/login", query_string=params), wrap)
        query = dict(parse_qsl(urlsplit(response.headers["Location"]).query))
        state = query["state"]
        id_token = self.lms.sign(self.template.header, self.template.learner_claims(sub, query["nonce"]))
        # The state cookie the login set, lti-tool-state-<login id>=<login id>, as a browser sends it back.
        cookie = {"Cookie": response.headers["Set-Cookie"].split(";", 1)[0]}
        response = self.request("launch", lambda: self.client.post(
            "/lti/launch", data={"id_token": id_token, "state": state}, headers=cookie), wrap)
        if response.status_code != 200 or LEARNER_PAGE_MARKER not in response.get_data(as_text=True):
            raise RuntimeError(f"launch failed: {response.status_code} {response.get_data(as_text=True)[:300]}")


def build_app(database_url: str, sql: SqlLog) -> Flask:
    settings = load_settings({"env": "production", "base_url": TOOL_URL, "secret_key": secrets.token_urlsafe(48),
                              "database_url": database_url, "proxy_count": 0, "log_level": "WARNING",
                              # the emulated LMS serves its keys on loopback over plain http
                              "allow_private_urls": True, "allow_insecure_http": True}, environ={})
    app = create_app(settings)
    engine = app.extensions["lti_tool.services"].database.engine
    sa.event.listen(engine, "before_cursor_execute", sql.record)
    return app


def run(driver: Driver, label: str, count: int, wrap: Callable[[Callable[[], Any]], Any]) -> None:
    for index in range(count):
        driver.launch(f"profile-{label}-{index}", wrap)


# --- reporting ------------------------------------------------------------------------------------------------------
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


def print_packages(stats: pstats.Stats, total: float, limit: int = 20) -> None:
    by_package: Counter[str] = Counter()
    for (filename, _line, function), (_cc, _nc, self_time, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename, function)] += self_time
    print("\nSelf time by package / module (% of profiled tool time):")
    for package, seconds in by_package.most_common(limit):
        print(f"  {seconds / total * 100:5.1f}%  {package}")


def print_steps(stats: pstats.Stats, total: float, launches: int) -> None:
    print("\nInclusive time of the launch's steps (% of profiled tool time, calls per launch):")
    for fragment, name in STEPS:
        for (filename, _line, function), (_cc, calls, _self, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
            if function == name and fragment in filename and (fragment.endswith("/") or filename.endswith(fragment)):
                print(f"  {cumulative / total * 100:5.1f}%  {calls / launches:5.1f}x  {fragment}:{name}")


def print_cpu(cpu: dict[str, float], launches: int) -> None:
    login, launch = (cpu[kind] / launches * 1000 for kind in ("login", "launch"))
    print(f"\nCPU per launch without the profiler: {login:.2f} ms login + {launch:.2f} ms launch = "
          f"{login + launch:.2f} ms (test client: no gunicorn, no HTTP parsing)")


def print_sql(sql: SqlLog, launches: int) -> None:
    for kind in ("login", "launch"):
        statements = sql.statements.get(kind, Counter())
        print(f"\nSQL per {kind}: {sum(statements.values()) / launches:.1f} statements")
        for statement, count in statements.most_common():
            print(f"  {count / launches:4.1f}x  {statement}")


def report(stats: pstats.Stats, args: argparse.Namespace) -> None:
    total = sum(entry[2] for entry in stats.stats.values())  # type: ignore[attr-defined]
    print(f"\ncProfile of {args.launches} more launches (CPU timer; its overhead inflates small calls):")
    print_packages(stats, total)
    print_steps(stats, total, args.launches)
    print(f"\nTop {args.top} functions by self time:")
    stats.sort_stats("tottime").print_stats(args.top)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lms = create_lms(TOOL_URL)
    database_url = fresh_database_url(args.database)
    prepare_tool_database(database_url, lms)
    lms.server.start(create_platform_app(lms.platform))
    sql = SqlLog()
    try:
        app = build_app(database_url, sql)
        template = LaunchTemplate(host="127.0.0.1", port=5000, header=lms.header, claims=lms.claims,
                                  login_params={k: v for k, v in lms.login_params.items()
                                                if k not in ("login_hint", "lti_message_hint")},
                                  auth_url=lms.auth_url, landing_marker=LEARNER_PAGE_MARKER, sign=lms.sign)
        # No cookie jar: the test client's jar would grow with every launch and dominate the profile.
        driver = Driver(app.test_client(use_cookies=False), template, lms, sql)
        run(driver, "warmup", args.warmup, lambda call: call())
        # The SQL is recorded during the warm-up only, so that recording it costs the measured launches nothing.
        sa.event.remove(app.extensions["lti_tool.services"].database.engine, "before_cursor_execute", sql.record)
        print_sql(sql, args.warmup)
        driver.cpu = {"login": 0.0, "launch": 0.0}
        run(driver, "plain", args.launches, lambda call: call())
        print_cpu(driver.cpu, args.launches)
        if args.profiler == "none":
            return 0
        # CPU time, not wall time: waiting for PostgreSQL is not the tool's CPU.
        profiler = cProfile.Profile(time.process_time)
        run(driver, "profiled", args.launches, lambda call: profiler.runcall(call))
    finally:
        lms.server.stop()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(str(args.output))
    report(pstats.Stats(profiler, stream=sys.stdout), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
