"""Launches per second of this tool side by side with its reference and the web stack's ceiling, in one run.

    .venv/bin/python bench/compare_launches.py [--rounds 3] [--concurrency 50 200] [--launches 2000]
                                               [--tool-workers 2] [--tool-worker-class gthread|sync]
                                               [--tool-threads 4]
                                               [--pg-database lti_tool_bench]

Three servers, all under gunicorn, all launched by the same load generator (bench/loadgen.py: OIDC login, an
id_token signed by the LMS emulator, the launch POST, the landing page checked) against the same emulator:

- ``reference``: pylti1p3 2.0.0 in its best configuration (bench/reference/pylti1p3_tool.py; gthread 2 × 4);
- ``ceiling``: a trivial Flask login/launch pair (bench/reference/ceiling.py; gthread 2 × 4): a redirect, then
  an RS256 decode with a cached key — what the stack costs at the least;
- ``tool``: this tool in its production configuration on PostgreSQL: gunicorn with what `lti-tool serve` runs
  (gthread, lti_tool.serving.DEFAULT_WORKERS × DEFAULT_THREADS; ``--tool-workers``, ``--tool-worker-class`` and
  ``--tool-threads`` choose another).

Rounds alternate the three (the order rotates each round), so a machine that gets busier or quieter touches all of
them alike; the figures are medians over the rounds. Reported per concurrency: launches/s and p99 of each, and
the ratios tool/reference and tool/ceiling, with the installed versions of the key packages.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import PG_DATABASE
from harness import RESULTS_DIR
from harness import SERVE_THREADS
from harness import SERVE_WORKER_CLASS
from harness import SERVE_WORKERS
from harness import Gunicorn
from harness import GunicornConfig
from harness import create_lms
from harness import free_port
from harness import fresh_database_url
from harness import installed_versions
from harness import prepare_tool_database
from harness import tool_environment
from launch_throughput import LoadGenPool
from launch_throughput import make_template
from launch_throughput import run_level

from lti_tool.sandbox.platform import create_platform_app

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
VERSIONS = ("lti-tool", "pylti1p3", "flask", "werkzeug", "gunicorn", "sqlalchemy", "psycopg", "pyjwt",
            "cryptography", "authlib", "joserfc", "cachelib", "requests")
TARGETS = ("reference", "ceiling", "tool")


@dataclass(frozen=True)
class AppConfig(GunicornConfig):
    """gunicorn serving a bench/reference app instead of the tool."""

    app: str = ""

    def argv(self) -> list[str]:
        argv = super().argv()
        return [*argv[:-1], "--chdir", str(REFERENCE_DIR), self.app]

    def describe(self) -> str:
        return super().describe().replace("lti_tool.wsgi:app", self.app)


def versions() -> dict[str, str]:
    return installed_versions(VERSIONS)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--launches", type=int, default=2000, help="launches per server, level and round")
    parser.add_argument("--warmup", type=int, default=200, help="launches per server before the first round")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time limit of each level")
    parser.add_argument("--tool-workers", type=int, default=SERVE_WORKERS,
                        help="gunicorn workers of the tool (default: what `lti-tool serve` runs)")
    parser.add_argument("--tool-worker-class", choices=["sync", "gthread"], default=SERVE_WORKER_CLASS)
    parser.add_argument("--tool-threads", type=int, default=SERVE_THREADS, help="threads per gthread worker")
    parser.add_argument("--pg-database", default=PG_DATABASE,
                        help="PostgreSQL database to drop and recreate (another name when two runs share a server)")
    parser.add_argument("--loadgen-processes", type=int, default=2)
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--quiet-wait", type=float, default=30.0,
                        help="before each level wait up to this long for a quiet machine; 0 disables")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "compare_launches.json")
    return parser.parse_args(argv)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else 0.0


def summary(results: dict[str, dict[int, list[dict[str, Any]]]], concurrency: list[int]) -> list[dict[str, Any]]:
    rows = []
    for level in concurrency:
        row: dict[str, Any] = {"concurrency": level}
        for target in TARGETS:
            runs = results[target][level]
            row[target] = {"launches_per_s": median([run["launches_per_s"] for run in runs]),
                           "p99_ms": median([run["latency_ms"]["p99"] for run in runs]),
                           "errors": sum(run["errors"] for run in runs),
                           "rounds": [run["launches_per_s"] for run in runs]}
        tool = row["tool"]["launches_per_s"]
        row["tool_over_reference"] = round(tool / row["reference"]["launches_per_s"], 2) \
            if row["reference"]["launches_per_s"] else None
        row["tool_over_ceiling"] = round(tool / row["ceiling"]["launches_per_s"], 2) \
            if row["ceiling"]["launches_per_s"] else None
        rows.append(row)
    return rows


def print_summary(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'conc':>5} {'reference/s':>12} {'ceiling/s':>10} {'tool/s':>8} {'tool/ref':>9} {'tool/ceil':>10}"
          f" {'p99 ref':>8} {'p99 ceil':>9} {'p99 tool':>9}  errors")
    for row in rows:
        print(f"{row['concurrency']:>5} {row['reference']['launches_per_s']:>12} {row['ceiling']['launches_per_s']:>10}"
              f" {row['tool']['launches_per_s']:>8} {row['tool_over_reference']!s:>9} {row['tool_over_ceiling']!s:>10}"
              f" {row['reference']['p99_ms']:>8} {row['ceiling']['p99_ms']:>9} {row['tool']['p99_ms']:>9}  "
              + "/".join(str(row[target]["errors"]) for target in TARGETS))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ports = {target: free_port() for target in TARGETS}
    lms = create_lms(f"http://127.0.0.1:{ports['tool']}")
    database_url = fresh_database_url("postgresql", args.pg_database)
    prepare_tool_database(database_url, lms)
    lms.server.start(create_platform_app(lms.platform))
    platform = lms.platform
    reference_env = {**tool_environment(database_url, ""),
                     "BENCH_LTI_ISSUER": platform.issuer, "BENCH_LTI_CLIENT_ID": lms.client_id,
                     "BENCH_LTI_AUTH_URL": lms.auth_url, "BENCH_LTI_TOKEN_URL": platform.url("/token"),
                     "BENCH_LTI_JWKS_URL": platform.url("/jwks"), "BENCH_LTI_DEPLOYMENT_ID": lms.deployment_id,
                     "BENCH_LTI_CACHE_DIR": tempfile.mkdtemp(prefix="lti-bench-pylti1p3-cache-")}
    configs = {
        "reference": AppConfig(workers=2, worker_class="gthread", threads=4, port=ports["reference"],
                               app="pylti1p3_tool:app"),
        "ceiling": AppConfig(workers=2, worker_class="gthread", threads=4, port=ports["ceiling"], app="ceiling:app"),
        "tool": GunicornConfig(workers=args.tool_workers, worker_class=args.tool_worker_class,
                               threads=args.tool_threads, port=ports["tool"]),
    }
    servers = {
        "reference": Gunicorn(configs["reference"], reference_env, RESULTS_DIR / "compare-reference.log"),
        "ceiling": Gunicorn(configs["ceiling"], reference_env, RESULTS_DIR / "compare-ceiling.log"),
        "tool": Gunicorn(configs["tool"], tool_environment(database_url, f"http://127.0.0.1:{ports['tool']}"),
                         RESULTS_DIR / "compare-tool.log"),
    }
    prefixes = {"reference": "lti1p3-", "ceiling": "ceiling-", "tool": None}
    pools: dict[str, LoadGenPool] = {}
    for target in TARGETS:
        template = make_template(lms, ports[target], 1)
        if prefixes[target] is not None:
            template = dataclasses.replace(template, state_cookie_prefix=prefixes[target])
        pools[target] = LoadGenPool.fork(template, args.loadgen_processes)
    results: dict[str, dict[int, list[dict[str, Any]]]] = {t: {c: [] for c in args.concurrency} for t in TARGETS}
    try:
        for target in TARGETS:
            servers[target].start()
            print(f"{target}: {configs[target].describe()}")
            warm = run_level(pools[target], servers[target], f"warm-{target}", min(16, args.warmup), args.warmup, args)
            print(f"  warm-up: {warm['ok']} launches, {warm['errors']} errors {warm['error_samples'][:1]}")
        for round_index in range(args.rounds):
            order = TARGETS[round_index % 3:] + TARGETS[:round_index % 3]
            for target in order:
                for level in args.concurrency:
                    run = run_level(pools[target], servers[target], f"r{round_index}-{target}-c{level}", level,
                                    args.launches, args)
                    results[target][level].append(run)
                    print(f"round {round_index + 1} {target:>9} c{level}: {run['launches_per_s']} launches/s, "
                          f"p99 {run['latency_ms']['p99']} ms, {run['errors']} errors {run['error_samples'][:1]}")
    finally:
        for pool in pools.values():
            pool.stop()
        for server in servers.values():
            server.stop()
        lms.server.stop()
    rows = summary(results, args.concurrency)
    found = versions()
    print_summary(rows)
    print("versions: " + ", ".join(f"{name} {version}" for name, version in found.items()))
    report = {"servers": {target: configs[target].describe() for target in TARGETS}, "versions": found,
              "rounds": args.rounds, "launches_per_level": args.launches, "summary": rows,
              "runs": {target: {str(level): runs for level, runs in by_level.items()}
                       for target, by_level in results.items()}}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(f"written to {args.output}")
    errors = sum(row[target]["errors"] for row in rows for target in TARGETS)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
