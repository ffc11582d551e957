"""Speechace callbacks ingested per second by the tool side by side with the web stack's ceiling, in one run.

    .venv/bin/python bench/compare_callbacks.py [--rounds 3] [--concurrency 50 200] [--callbacks 2000]
                                                [--workers 2] [--worker-class gthread|sync] [--threads 4]
                                                [--pg-database lti_tool_bench_callbacks]

Three servers under the same gunicorn configuration, by default what `lti-tool serve` runs (gthread,
lti_tool.serving.DEFAULT_WORKERS × DEFAULT_THREADS), fed by the same load generator (bench/callback_loadgen.py)
with the same signed callbacks (bench/callback_setup.py; every one a new result):

- ``ceiling``: a trivial Flask JSON POST that writes one row (bench/reference/ceiling.py), in the same PostgreSQL;
- ``ceiling_rows``: the same POST storing what the tool stores, with the tool's own statement over plain psycopg
  (``BENCH_CEILING_CALLBACK_ROWS_URL``), in a copy of the tool's database: no signature, key or body checks, no ORM;
- ``tool``: this tool in its production configuration (the callback verified, the result stored and its score
  queued, in one statement).

Rounds alternate the servers (the order rotates each round); the figures are medians over the rounds. Reported per
concurrency: callbacks/s and p99 of each, the ratios tool/ceiling, tool/ceiling_rows and ceiling_rows/ceiling, and
the installed versions of the key packages.
Passback is not part of it (see callback_throughput.py and outage_drain.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import callback_throughput as ct
import sqlalchemy as sa
from callback_setup import PG_DATABASE
from callback_setup import fresh_database_url
from compare_launches import AppConfig
from compare_launches import versions
from harness import RESULTS_DIR
from harness import SERVE_THREADS
from harness import SERVE_WORKER_CLASS
from harness import SERVE_WORKERS
from harness import Gunicorn
from harness import GunicornConfig
from harness import free_port

TARGETS = ("ceiling", "ceiling_rows", "tool")
RATIOS = (("tool", "ceiling"), ("tool", "ceiling_rows"), ("ceiling_rows", "ceiling"))
SHORT = {"ceiling": "ceil", "ceiling_rows": "ceil+rows", "tool": "tool"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--concurrency", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--callbacks", type=int, default=2000, help="callbacks per server, level and round")
    parser.add_argument("--workers", type=int, default=SERVE_WORKERS,
                        help="gunicorn workers of both servers (default: what `lti-tool serve` runs)")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default=SERVE_WORKER_CLASS)
    parser.add_argument("--threads", type=int, default=SERVE_THREADS, help="threads per gthread worker")
    parser.add_argument("--pg-database", default=PG_DATABASE,
                        help="PostgreSQL database to drop and recreate (another name when two runs share a server)")
    parser.add_argument("--loadgen-processes", type=int, default=2)
    parser.add_argument("--quiet-wait", type=float, default=30.0)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "compare_callbacks.json")
    return parser.parse_args(argv)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else 0.0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets = [target for target in TARGETS if target in args.targets]
    runs = args.rounds * len(args.concurrency)
    total = runs * args.callbacks
    tool_args = ct.parse_args(["--callbacks", str(total), "--learners", str(total), "--warmup", "100",
                               "--duplicate-share", "0", "--workers", str(args.workers), "--worker-class",
                               args.worker_class, "--threads", str(args.threads), "--passback", "none",
                               "--pg-database", args.pg_database,
                               "--quiet-wait", str(args.quiet_wait)])
    pool = ct.LoadGenPool.spawn(args.loadgen_processes)
    bench = ct.prepare(tool_args)
    engine = sa.create_engine(bench.database_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE ceiling_callback (id bigserial PRIMARY KEY, path text NOT NULL, "
                                   "body text NOT NULL, received timestamptz NOT NULL DEFAULT now())"))
    engine.dispose()
    # ceiling_rows stores the same results as the tool: in a copy of its database, or the tool would find them
    # stored already.
    rows_database = f"{args.pg_database}_rows"
    rows_database_url = fresh_database_url("postgresql", rows_database, template=args.pg_database) \
        if "ceiling_rows" in targets else ""
    gunicorn_config = {"workers": args.workers, "worker_class": args.worker_class, "threads": args.threads}
    configs: dict[str, GunicornConfig] = {
        "ceiling": AppConfig(**gunicorn_config, port=free_port(), app="ceiling:app"),
        "ceiling_rows": AppConfig(**gunicorn_config, port=free_port(), app="ceiling:app"),
        "tool": bench.config}
    environments = {"ceiling": {**bench.environment, "BENCH_CEILING_DATABASE_URL": bench.database_url},
                    "ceiling_rows": {**bench.environment, "BENCH_CEILING_CALLBACK_ROWS_URL": rows_database_url},
                    "tool": bench.environment}
    databases = {"ceiling": args.pg_database, "ceiling_rows": rows_database, "tool": args.pg_database}
    servers = {target: Gunicorn(configs[target], environments[target],
                                RESULTS_DIR / f"compare-callbacks-{target}.log") for target in targets}
    idle = ct.PassbackWorkers(bench.environment, RESULTS_DIR / "unused.log", 0)
    meters = {target: ct.CpuMeter(servers[target], idle, databases[target]) for target in targets}
    results: dict[str, dict[int, list[dict[str, Any]]]] = {t: {c: [] for c in args.concurrency} for t in targets}
    batches = iter([bench.plan.main[index * args.callbacks:(index + 1) * args.callbacks] for index in range(runs)])
    bench.lms.start()
    try:
        for target in targets:
            servers[target].start()
            print(f"{target}: {configs[target].describe()}")
            warm = ct.run_phase(pool, meters[target], f"warm-{target}", bench.plan.warmup, "accepted", 16,
                                configs[target].port, tool_args)
            print(f"  warm-up: {warm['ok']} accepted, {warm['errors']} errors {warm['error_samples'][:1]}")
        for round_index in range(args.rounds):
            # Every server gets the same callbacks in a round: each stores them once (the tool as new results).
            batch_by_level = {level: next(batches) for level in args.concurrency}
            shift = round_index % len(targets)
            for target in targets[shift:] + targets[:shift]:
                for level in args.concurrency:
                    run = ct.run_phase(pool, meters[target], f"r{round_index}-{target}-c{level}",
                                       batch_by_level[level], "accepted", level, configs[target].port, tool_args)
                    results[target][level].append(run)
                    print(f"round {round_index + 1} {target:>12} c{level}: {run['callbacks_per_s']} callbacks/s, "
                          f"p99 {run['latency_ms']['p99']} ms, {run['errors']} errors {run['error_samples'][:1]}")
    finally:
        pool.stop()
        for server in servers.values():
            server.stop()
        bench.lms.stop()
    rows = summary(args.concurrency, targets, results)
    found = versions()
    print("versions: " + ", ".join(f"{name} {version}" for name, version in found.items()))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"servers": {t: configs[t].describe() for t in targets}, "versions": found,
                                       "databases": {t: databases[t] for t in targets},
                                       "rounds": args.rounds, "callbacks_per_level": args.callbacks,
                                       "summary": rows, "runs": {t: {str(c): r for c, r in by.items()}
                                                                 for t, by in results.items()}}, indent=2))
    print(f"written to {args.output}")
    return 0 if all(row[target]["errors"] == 0 for row in rows for target in targets) else 1


def summary(levels: list[int], targets: list[str], results: dict[str, dict[int, list[dict[str, Any]]]],
            ) -> list[dict[str, Any]]:
    """Per concurrency: each server's medians and the ratios between them (None: a server did not run)."""
    rows = []
    ratios = [(top, bottom) for top, bottom in RATIOS if top in targets and bottom in targets]
    ratio_names = [f"{SHORT[top]}/{SHORT[bottom]}" for top, bottom in ratios]
    print(f"\n{'conc':>5} " + " ".join(f"{SHORT[t] + '/s':>12}" for t in targets)
          + " " + " ".join(f"{name:>15}" for name in ratio_names)
          + " " + " ".join(f"{'p99 ' + SHORT[t]:>14}" for t in targets)
          + " " + " ".join(f"{'ms ' + SHORT[t]:>13}" for t in targets) + "  errors")
    for level in levels:
        row: dict[str, Any] = {"concurrency": level}
        for target in targets:
            level_runs = results[target][level]
            row[target] = {"callbacks_per_s": median([run["callbacks_per_s"] for run in level_runs]),
                           "p99_ms": median([run["latency_ms"]["p99"] for run in level_runs]),
                           "errors": sum(run["errors"] for run in level_runs),
                           # The server's CPU and PostgreSQL's per callback: where the ratio comes from.
                           "cpu_ms_per_callback": round(statistics.median(
                               [run["cpu_seconds_per_1000_callbacks"]["tool"]
                                + run["cpu_seconds_per_1000_callbacks"]["postgresql"] for run in level_runs]), 2),
                           "rounds": [run["callbacks_per_s"] for run in level_runs]}
        for top, bottom in RATIOS:
            both = top in targets and bottom in targets and row[bottom]["callbacks_per_s"]
            row[f"{top}_over_{bottom}"] = round(row[top]["callbacks_per_s"] / row[bottom]["callbacks_per_s"], 2) \
                if both else None
        rows.append(row)
        print(f"{level:>5} " + " ".join(f"{row[t]['callbacks_per_s']:>12}" for t in targets)
              + " " + " ".join(f"{row[f'{top}_over_{bottom}']!s:>15}" for top, bottom in ratios)
              + " " + " ".join(f"{row[t]['p99_ms']:>14}" for t in targets)
              + " " + " ".join(f"{row[t]['cpu_ms_per_callback']:>13}" for t in targets)
              + "  " + "/".join(str(row[t]["errors"]) for t in targets))
    return rows


if __name__ == "__main__":
    sys.exit(main())
