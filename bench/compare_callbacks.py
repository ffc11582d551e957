"""Speechace callbacks ingested per second by the tool side by side with the web stack's ceiling, in one run.

    .venv/bin/python bench/compare_callbacks.py [--rounds 3] [--concurrency 50 200] [--callbacks 2000]
                                                [--workers 2] [--worker-class gthread|sync] [--threads 4]
                                                [--pg-database lti_tool_bench_callbacks]

Two servers under the same gunicorn configuration, by default what `lti-tool serve` runs (gthread,
lti_tool.serving.DEFAULT_WORKERS × DEFAULT_THREADS), fed by the same load generator (bench/callback_loadgen.py)
with the same signed callbacks (bench/callback_setup.py; every one a new result):

- ``ceiling``: a trivial Flask JSON POST that writes one row (bench/reference/ceiling.py), in the same PostgreSQL;
- ``tool``: this tool in its production configuration (the callback verified, the result stored and its score
  queued, in one statement).

Rounds alternate the two (the order swaps each round); the figures are medians over the rounds. Reported per
concurrency: callbacks/s and p99 of each, the ratio tool/ceiling, and the installed versions of the key packages.
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
from compare_launches import AppConfig
from compare_launches import versions
from harness import RESULTS_DIR
from harness import SERVE_THREADS
from harness import SERVE_WORKER_CLASS
from harness import SERVE_WORKERS
from harness import Gunicorn
from harness import GunicornConfig
from harness import free_port

TARGETS = ("ceiling", "tool")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
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
    ceiling_config = AppConfig(workers=args.workers, worker_class=args.worker_class, threads=args.threads,
                               port=free_port(), app="ceiling:app")
    configs: dict[str, GunicornConfig] = {"ceiling": ceiling_config, "tool": bench.config}
    ceiling_env = {**bench.environment, "BENCH_CEILING_DATABASE_URL": bench.database_url}
    servers = {"ceiling": Gunicorn(ceiling_config, ceiling_env, RESULTS_DIR / "compare-callbacks-ceiling.log"),
               "tool": Gunicorn(bench.config, bench.environment, RESULTS_DIR / "compare-callbacks-tool.log")}
    idle = ct.PassbackWorkers(bench.environment, RESULTS_DIR / "unused.log", 0)
    meters = {target: ct.CpuMeter(servers[target], idle, args.pg_database) for target in TARGETS}
    results: dict[str, dict[int, list[dict[str, Any]]]] = {t: {c: [] for c in args.concurrency} for t in TARGETS}
    batches = iter([bench.plan.main[index * args.callbacks:(index + 1) * args.callbacks] for index in range(runs)])
    bench.lms.start()
    try:
        for target in TARGETS:
            servers[target].start()
            print(f"{target}: {configs[target].describe()}")
            warm = ct.run_phase(pool, meters[target], f"warm-{target}", bench.plan.warmup, "accepted", 16,
                                configs[target].port, tool_args)
            print(f"  warm-up: {warm['ok']} accepted, {warm['errors']} errors {warm['error_samples'][:1]}")
        for round_index in range(args.rounds):
            # Both servers get the same callbacks in a round: each stores them once (the tool as new results).
            batch_by_level = {level: next(batches) for level in args.concurrency}
            for target in TARGETS if round_index % 2 == 0 else TARGETS[::-1]:
                for level in args.concurrency:
                    run = ct.run_phase(pool, meters[target], f"r{round_index}-{target}-c{level}",
                                       batch_by_level[level], "accepted", level, configs[target].port, tool_args)
                    results[target][level].append(run)
                    print(f"round {round_index + 1} {target:>8} c{level}: {run['callbacks_per_s']} callbacks/s, "
                          f"p99 {run['latency_ms']['p99']} ms, {run['errors']} errors {run['error_samples'][:1]}")
    finally:
        pool.stop()
        for server in servers.values():
            server.stop()
        bench.lms.stop()
    rows = []
    print(f"\n{'conc':>5} {'ceiling/s':>10} {'tool/s':>8} {'tool/ceil':>10} {'p99 ceil':>9} {'p99 tool':>9}"
          f" {'ms ceil':>8} {'ms tool':>8}  errors")
    for level in args.concurrency:
        row: dict[str, Any] = {"concurrency": level}
        for target in TARGETS:
            level_runs = results[target][level]
            row[target] = {"callbacks_per_s": median([run["callbacks_per_s"] for run in level_runs]),
                           "p99_ms": median([run["latency_ms"]["p99"] for run in level_runs]),
                           "errors": sum(run["errors"] for run in level_runs),
                           # The server's CPU and PostgreSQL's per callback: where the ratio comes from.
                           "cpu_ms_per_callback": round(statistics.median(
                               [run["cpu_seconds_per_1000_callbacks"]["tool"]
                                + run["cpu_seconds_per_1000_callbacks"]["postgresql"] for run in level_runs]), 2),
                           "rounds": [run["callbacks_per_s"] for run in level_runs]}
        ceiling = row["ceiling"]["callbacks_per_s"]
        row["tool_over_ceiling"] = round(row["tool"]["callbacks_per_s"] / ceiling, 2) if ceiling else None
        rows.append(row)
        print(f"{level:>5} {ceiling:>10} {row['tool']['callbacks_per_s']:>8} {row['tool_over_ceiling']!s:>10} "
              f"{row['ceiling']['p99_ms']:>9} {row['tool']['p99_ms']:>9} "
              f"{row['ceiling']['cpu_ms_per_callback']:>8} {row['tool']['cpu_ms_per_callback']:>8}  "
              f"{row['ceiling']['errors']}/{row['tool']['errors']}")
    found = versions()
    print("versions: " + ", ".join(f"{name} {version}" for name, version in found.items()))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"servers": {t: configs[t].describe() for t in TARGETS}, "versions": found,
                                       "rounds": args.rounds, "callbacks_per_level": args.callbacks,
                                       "summary": rows, "runs": {t: {str(c): r for c, r in by.items()}
                                                                 for t, by in results.items()}}, indent=2))
    print(f"written to {args.output}")
    return 0 if all(row[target]["errors"] == 0 for row in rows for target in TARGETS) else 1


if __name__ == "__main__":
    sys.exit(main())
