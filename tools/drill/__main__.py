"""make drill: the whole failover loop on one machine (see docs/drill.md).

    python -m tools.drill [--scenario NAME] [--plot [PNG]]
    python -m tools.drill --all            # the catalogue as a table; exit 1 if any scenario fails
    python -m tools.drill --list
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.drill.report import EMULATION_NOTE, plot, summary_text, table_text, timeline_text
from tools.drill.run import ScenarioResult, run_scenario
from tools.drill.scenarios import CATALOGUE, DEFAULT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drill", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default=DEFAULT, choices=sorted(CATALOGUE))
    parser.add_argument("--all", action="store_true", help="run every scenario and print a table")
    parser.add_argument("--list", action="store_true", help="list the scenarios")
    parser.add_argument(
        "--plot", nargs="?", const="drill-timeline.png", metavar="PNG", help="write a PNG of the timeline"
    )
    args = parser.parse_args(argv)
    if args.list:
        for scenario in CATALOGUE.values():
            print(f"{scenario.name:<32} expect {', '.join(scenario.expected) or 'none':<28} {scenario.summary}")
        return 0
    print(f"gds-failover local drill\n{EMULATION_NOTE}\n", flush=True)
    names = list(CATALOGUE) if args.all else [args.scenario]
    results: list[ScenarioResult] = []
    try:
        for index, name in enumerate(names, 1):
            if args.all:
                print(f"[{index}/{len(names)}] {name} ...", file=sys.stderr, flush=True)
            result = run_scenario(CATALOGUE[name])
            results.append(result)
            if not args.all:
                print(result.parameters + "\n")
                print(timeline_text(result) + "\n")
                print(summary_text(result))
                if args.plot:
                    print(plot(result, Path(args.plot)))
            elif not result.passed:
                print(summary_text(result) + "\n")
    except KeyboardInterrupt:
        print("\ninterrupted: every redis-server the drill started has been stopped", file=sys.stderr)
        return 130
    if args.all:
        print(results[0].parameters if results else "")
        print(table_text(results))
        wall = sum(r.wall_s for r in results)
        print(f"\n{sum(r.passed for r in results)}/{len(results)} scenarios pass ({wall:.0f}s wall)")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
