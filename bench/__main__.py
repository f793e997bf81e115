"""Run the benchmarks: `make bench` (all), `make bench BENCH_QUICK=1` (short runs while
developing), `python -m bench --only catalog` (some suites).

Prints each suite's figures as it goes, then every target with its measured value and met /
NOT MET, saves the run as JSON under .bench/ (keyed by time and git commit) and prints the delta
against the last saved run of the same mode. Benchmarks never fail the build: the exit status
is 0 whether targets are met or not (non-zero only when the bench itself cannot run).
"""

import argparse
import importlib
import os
import time

from bench import wrk
from bench.harness import Bench
from bench.results import delta_lines, last_saved, new_run, target_lines

SUITES = ("catalog", "orders", "relay", "worker")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.getenv("BENCH_QUICK", "") not in ("", "0"),
        help="2 s per figure instead of 5 (also BENCH_QUICK=1)",
    )
    parser.add_argument("--only", nargs="+", choices=SUITES, default=list(SUITES))
    parser.add_argument("--no-save", action="store_true", help="do not save this run")
    args = parser.parse_args(argv)
    if not wrk.available():
        raise SystemExit("wrk is missing: bash tools/apt_install.sh wrk wrk")

    mode = "quick" if args.quick else "full"
    run = new_run(mode)
    bench = Bench(run, quick=args.quick)
    began = time.monotonic()
    print(f"bench ({mode}) at {run.commit[:12]}{' (dirty)' if run.dirty else ''}")
    for name in args.only:
        suite = importlib.import_module(f"bench.{name}")
        print(f"\n== {name}", flush=True)
        suite.run(bench)
    run.settings["total_seconds"] = round(time.monotonic() - began, 1)

    print("\n== targets (benchmarks never fail the build)")
    print("\n".join(target_lines(run.targets, run.figures)) or "  (none)")
    previous = last_saved(mode, before=run.started_at)
    if not args.no_save:
        print(f"\nsaved {run.save()}")
    if previous is not None:
        print()
        print("\n".join(delta_lines(previous, run)))
    else:
        print(f"(no earlier {mode} run saved: no delta)")


if __name__ == "__main__":
    main()
