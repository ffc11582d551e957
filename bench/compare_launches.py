"""Launches per second of this tool side by side with its reference and the web stack's ceiling, in one run.

    .venv/bin/python bench/compare_launches.py [--rounds 3] [--concurrency 50 200] [--launches 2000]
                                               [--tool-workers 2] [--tool-worker-class gthread|sync]
                                               [--tool-threads 4]
                                               [--targets reference ceiling ceiling_rows tool serve]
                                               [--pg-database lti_tool_bench]

Five servers, all launched by the same load generator (bench/loadgen.py: OIDC login, an id_token signed by the LMS
emulator, the launch POST, the landing page checked) against the same emulator:

- ``reference``: pylti1p3 2.0.0 in its best configuration (bench/reference/pylti1p3_tool.py; gunicorn gthread 2 × 4);
- ``ceiling``: a trivial Flask login/launch pair (bench/reference/ceiling.py; gunicorn gthread 2 × 4): a redirect,
  then an RS256 decode with a cached key — what the stack costs at the least;
- ``ceiling_rows``: the same pair, whose launch also stores what the tool stores with the tool's own single
  PostgreSQL statement over plain psycopg (its own database, prepared as the tool's): what any tool that keeps
  these rows costs at the least, so that tool/ceiling_rows says how far the tool is from its own floor and
  ceiling_rows/ceiling what storing the launch costs the stack;
- ``tool``: this tool in its production configuration on PostgreSQL: gunicorn with what `lti-tool serve` runs
  (gthread, lti_tool.serving.DEFAULT_WORKERS × DEFAULT_THREADS; ``--tool-workers``, ``--tool-worker-class`` and
  ``--tool-threads`` choose another);
- ``serve``: the `lti-tool serve` command itself with its defaults, on the embedded default database (SQLite), with
  the passback worker it starts beside gunicorn; its CPU is that of the whole process tree.

Rounds alternate the servers (the order rotates each round), so a machine that gets busier or quieter touches all
of them alike; the figures are medians over the rounds. Reported per concurrency: launches/s and p99 of each, the
ratios tool/reference, tool/ceiling, serve/reference and serve/ceiling, with the installed versions of the key
packages. ``--targets`` leaves servers out (a ratio whose servers did not run is null).
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
from harness import Serve
from harness import ServeConfig
from harness import create_lms
from harness import free_port
from harness import fresh_database_url
from harness import installed_versions
from harness import prepare_tool_database
from harness import serve_environment
from harness import tool_environment
from launch_throughput import LoadGenPool
from launch_throughput import make_template
from launch_throughput import run_level

from lti_tool.sandbox.platform import create_platform_app

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
VERSIONS = ("lti-tool", "pylti1p3", "flask", "werkzeug", "gunicorn", "sqlalchemy", "psycopg", "pyjwt",
            "cryptography", "authlib", "joserfc", "cachelib", "requests")
TARGETS = ("reference", "ceiling", "ceiling_rows", "tool", "serve")
# The ratios reported: (numerator, denominator).
RATIOS = (("tool", "reference"), ("tool", "ceiling"), ("serve", "reference"), ("serve", "ceiling"),
          ("tool", "ceiling_rows"), ("ceiling_rows", "ceiling"))


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
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS),
                        help="servers to run (e.g. leave `serve` out)")
    parser.add_argument("--pg-database", default=PG_DATABASE,
                        help="PostgreSQL database to drop and recreate (another name when two runs share a server)")
    parser.add_argument("--loadgen-processes", type=int, default=2)
    parser.add_argument("--request-timeout", type=float, default=30.0)
    parser.add_argument("--quiet-wait", type=float, default=30.0,
                        help="before each level wait up to this long for a quiet machine; 0 disables")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "compare_launches.json")
    args = parser.parse_args(argv)
    args.targets = [target for target in TARGETS if target in args.targets]  # one order, whatever was typed
    return args


def median(values: list[float], digits: int = 1) -> float:
    return round(statistics.median(values), digits) if values else 0.0


def ratio_key(numerator: str, denominator: str) -> str:
    return f"{numerator}_over_{denominator}"


def summary(results: dict[str, dict[int, list[dict[str, Any]]]], concurrency: list[int],
            targets: list[str]) -> list[dict[str, Any]]:
    rows = []
    for level in concurrency:
        row: dict[str, Any] = {"concurrency": level}
        for target in targets:
            runs = results[target][level]
            row[target] = {"launches_per_s": median([run["launches_per_s"] for run in runs]),
                           "p99_ms": median([run["latency_ms"]["p99"] for run in runs]),
                           "errors": sum(run["errors"] for run in runs),
                           # The server's CPU and its database's (PostgreSQL's backends; SQLite runs inside the
                           # server) per launch: the figure that shows where a ratio comes from.
                           "cpu_ms_per_launch": median([server_cpu_ms(run) for run in runs], digits=2),
                           "rounds": [run["launches_per_s"] for run in runs]}
        for numerator, denominator in RATIOS:
            top = row.get(numerator, {}).get("launches_per_s")
            bottom = row.get(denominator, {}).get("launches_per_s")
            row[ratio_key(numerator, denominator)] = round(top / bottom, 2) if top is not None and bottom else None
        rows.append(row)
    return rows


SHORT = {"reference": "ref", "ceiling": "ceil", "ceiling_rows": "ceil+rows", "tool": "tool", "serve": "serve"}


def summary_columns(targets: list[str]) -> list[tuple[str, str, str | None]]:
    """(title, key in the row, key below it) of each column of the printed summary."""
    columns: list[tuple[str, str, str | None]] = [("conc", "concurrency", None)]
    columns += [(f"{target}/s", target, "launches_per_s") for target in targets]
    columns += [(f"{SHORT[top]}/{SHORT[bottom]}", ratio_key(top, bottom), None)
                for top, bottom in RATIOS if top in targets and bottom in targets]
    columns += [(f"p99 {SHORT[target]}", target, "p99_ms") for target in targets]
    columns += [(f"ms {SHORT[target]}", target, "cpu_ms_per_launch") for target in targets]
    return columns


def server_cpu_ms(run: dict[str, Any]) -> float:
    cpu = run["cpu_seconds_per_1000_launches"]
    return float(cpu["tool"]) + float(cpu["postgresql"])


def print_summary(rows: list[dict[str, Any]], targets: list[str]) -> None:
    columns = summary_columns(targets)
    widths = [max(len(title), 6) for title, _, _ in columns]
    print("\n" + " ".join(f"{title:>{width}}" for (title, _, _), width in zip(columns, widths, strict=True))
          + "  errors " + "/".join(targets))
    for row in rows:
        cells = [row[key] if below is None else row[key][below] for _, key, below in columns]
        print(" ".join(f"{cell!s:>{width}}" for cell, width in zip(cells, widths, strict=True))
              + "  " + "/".join(str(row[target]["errors"]) for target in targets))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets: list[str] = args.targets
    ports = {target: free_port() for target in TARGETS}
    lms = create_lms(f"http://127.0.0.1:{ports['tool']}")
    database_url = fresh_database_url("postgresql", args.pg_database)
    prepare_tool_database(database_url, lms)
    # `lti-tool serve` on the embedded default database: a new SQLite file, prepared as an admin would.
    serve_database_url = fresh_database_url("sqlite") if "serve" in targets else ""
    if serve_database_url:
        prepare_tool_database(serve_database_url, lms)
    rows_database_url = (fresh_database_url("postgresql", f"{args.pg_database}_rows")
                         if "ceiling_rows" in targets else "")
    if rows_database_url:
        prepare_tool_database(rows_database_url, lms)
    lms.server.start(create_platform_app(lms.platform))
    platform = lms.platform
    reference_env = {**tool_environment(database_url, ""),
                     "BENCH_LTI_ISSUER": platform.issuer, "BENCH_LTI_CLIENT_ID": lms.client_id,
                     "BENCH_LTI_AUTH_URL": lms.auth_url, "BENCH_LTI_TOKEN_URL": platform.url("/token"),
                     "BENCH_LTI_JWKS_URL": platform.url("/jwks"), "BENCH_LTI_DEPLOYMENT_ID": lms.deployment_id,
                     "BENCH_LTI_CACHE_DIR": tempfile.mkdtemp(prefix="lti-bench-pylti1p3-cache-")}
    configs: dict[str, GunicornConfig] = {
        "reference": AppConfig(workers=2, worker_class="gthread", threads=4, port=ports["reference"],
                               app="pylti1p3_tool:app"),
        "ceiling": AppConfig(workers=2, worker_class="gthread", threads=4, port=ports["ceiling"], app="ceiling:app"),
        "ceiling_rows": AppConfig(workers=2, worker_class="gthread", threads=4, port=ports["ceiling_rows"],
                                  app="ceiling:app"),
        "tool": GunicornConfig(workers=args.tool_workers, worker_class=args.tool_worker_class,
                               threads=args.tool_threads, port=ports["tool"]),
        "serve": ServeConfig.defaults(ports["serve"]),
    }
    databases = {"reference": "postgresql (unused: launch data in a cachelib FileSystemCache)", "ceiling": "none",
                 "ceiling_rows": "postgresql (the tool's launch statement)", "tool": "postgresql", "serve": "sqlite"}
    servers: dict[str, Gunicorn] = {
        "reference": Gunicorn(configs["reference"], reference_env, RESULTS_DIR / "compare-reference.log"),
        "ceiling": Gunicorn(configs["ceiling"], reference_env, RESULTS_DIR / "compare-ceiling.log"),
        "ceiling_rows": Gunicorn(configs["ceiling_rows"], {**reference_env,
                                                           "BENCH_CEILING_LAUNCH_ROWS_URL": rows_database_url},
                                 RESULTS_DIR / "compare-ceiling-rows.log"),
        "tool": Gunicorn(configs["tool"], tool_environment(database_url, f"http://127.0.0.1:{ports['tool']}"),
                         RESULTS_DIR / "compare-tool.log"),
        "serve": Serve(configs["serve"],
                       serve_environment(serve_database_url, f"http://127.0.0.1:{ports['serve']}"),
                       RESULTS_DIR / "compare-serve.log"),
    }
    prefixes = {"reference": "lti1p3-", "ceiling": "ceiling-", "ceiling_rows": "ceiling-", "tool": None,
                "serve": None}
    pools: dict[str, LoadGenPool] = {}
    for target in targets:
        template = make_template(lms, ports[target], 1)
        if prefixes[target] is not None:
            template = dataclasses.replace(template, state_cookie_prefix=prefixes[target])
        pools[target] = LoadGenPool.fork(template, args.loadgen_processes)
    results: dict[str, dict[int, list[dict[str, Any]]]] = {t: {c: [] for c in args.concurrency} for t in targets}
    try:
        for target in targets:
            servers[target].start()
            print(f"{target}: {configs[target].describe()}")
            warm = run_level(pools[target], servers[target], f"warm-{target}", min(16, args.warmup), args.warmup, args)
            print(f"  warm-up: {warm['ok']} launches, {warm['errors']} errors {warm['error_samples'][:1]}")
        for round_index in range(args.rounds):
            shift = round_index % len(targets)
            for target in targets[shift:] + targets[:shift]:
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
    rows = summary(results, args.concurrency, targets)
    found = versions()
    print_summary(rows, targets)
    print("versions: " + ", ".join(f"{name} {version}" for name, version in found.items()))
    report = {"servers": {target: configs[target].describe() for target in targets},
              "argv": {target: configs[target].argv()[1:] for target in targets},
              "databases": {target: databases[target] for target in targets}, "versions": found,
              "rounds": args.rounds, "launches_per_level": args.launches, "summary": rows,
              "runs": {target: {str(level): runs for level, runs in by_level.items()}
                       for target, by_level in results.items()}}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(f"written to {args.output}")
    errors = sum(row[target]["errors"] for row in rows for target in targets)
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
