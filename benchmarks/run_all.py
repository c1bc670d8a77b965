"""Run every workload on Agent Engine and on LangGraph in one process and print the comparison table.

Usage (from the repository root, with ``pip install -e . -r benchmarks/requirements.txt`` done)::

    python benchmarks/run_all.py [--quick] [--json out.json] [--only chain,import]

Each figure is the median of several timed repeats after untimed warm-up calls, the two frameworks' calls
interleaved. The ratio column is LangGraph / Agent Engine: above 1 means Agent Engine is faster for times,
below 1 means it is faster for runs/s. A workload that cannot run on one side (not installed, an error)
prints ``n/a`` and the reason under the table; the suite never stops on it and never asserts on a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import bench_branch_merge
import bench_chain
import bench_dask
import bench_durability
import bench_fanout_sleep
import bench_import
import bench_load_large
import bench_observers
import bench_payload
import bench_queue
import bench_sequential_runs
from _harness import ERRORS, Row, Settings, machine, table

WORKLOADS = {
    "chain": bench_chain,
    "branch": bench_branch_merge,
    "fanout": bench_fanout_sleep,
    "sequential": bench_sequential_runs,
    "load": bench_load_large,
    "import": bench_import,
    "observers": bench_observers,
    "payload": bench_payload,
    "queue": bench_queue,
    "dask": bench_dask,
    "durability": bench_durability,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Agent Engine vs LangGraph benchmarks.")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and runs (a smoke run)")
    parser.add_argument("--json", metavar="PATH", help="also write the rows and machine facts as JSON")
    parser.add_argument("--only", metavar="NAMES", help=f"comma-separated subset of: {', '.join(WORKLOADS)}")
    args = parser.parse_args(argv)
    selected = args.only.split(",") if args.only else list(WORKLOADS)
    unknown = sorted(set(selected) - set(WORKLOADS))
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}")

    settings = Settings.make(quick=args.quick)
    rows: list[Row] = []
    for name in selected:
        started = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += WORKLOADS[name].run(settings)
        print(f"  done in {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)

    facts = machine()
    print()
    print(table(rows))
    print()
    print("Machine: " + ", ".join(f"{k}={v}" for k, v in facts.items()))
    if ERRORS:
        print("\nProblems:")
        print("\n".join(f"- {e}" for e in ERRORS))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(
                {"machine": facts, "settings": vars(args), "rows": [r.as_json() for r in rows], "problems": ERRORS},
                out,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
