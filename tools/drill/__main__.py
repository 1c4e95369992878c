"""make drill: watch both regions' probes, then lose region A's Redis.

EMULATION: AWS services are moto, in-process; Redis is real (redis-server on loopback, TLS + AUTH).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from moto import mock_aws

from tools.drill.regions import LocalRegion, two_regions

ROUNDS_BEFORE = 2
ROUNDS_AFTER = 4
ROUND_SECONDS = 1.0


def _row(round_label: str, result: dict[str, Any]) -> str:
    age = result.get("heartbeat_age_s")
    age_text = "-" if age is None else f"{age:.1f}s"
    return (
        f"{round_label:<8} {result['region']:<10} {result['status']:<11} {result['healthy']:<7} "
        f"{result['role']:<8} {age_text:<10} {result['latency_ms']:>7.1f} ms"
    )


def _probe_round(label: str, regions: tuple[LocalRegion, ...], iteration: int) -> list[dict[str, Any]]:
    results = [region.probe(iteration) for region in regions]
    for result in results:
        print(_row(label, result), flush=True)
    return results


def primary_redis_dies() -> bool:
    """Region A's redis-server is killed; region B keeps answering as a replica with a growing heartbeat age."""
    with mock_aws(), two_regions() as (region_a, region_b):
        print(f"region A {region_a.name}: writer   redis-server 127.0.0.1:{region_a.server.port} (TLS, AUTH)")
        print(f"region B {region_b.name}: replica of A 127.0.0.1:{region_b.server.port} (TLS, AUTH)\n")
        print(f"{'round':<8} {'region':<10} {'status':<11} {'healthy':<7} {'role':<8} {'hb age':<10} {'latency':>10}")
        before: list[dict[str, Any]] = []
        for iteration in range(1, ROUNDS_BEFORE + 1):
            before = _probe_round(f"T-{ROUNDS_BEFORE - iteration + 1}", (region_a, region_b), iteration)
            time.sleep(ROUND_SECONDS)
        region_a.server.kill()
        print(f"--- T+0: region A's redis-server killed (pid gone) ---")
        after: list[dict[str, Any]] = []
        for iteration in range(1, ROUNDS_AFTER + 1):
            after.append(_probe_round(f"T+{iteration}", (region_a, region_b), ROUNDS_BEFORE + iteration))
            time.sleep(ROUND_SECONDS)
    ages = [round_[1]["heartbeat_age_s"] for round_ in after]
    checks = {
        "A was a healthy writer before": before[0]["status"] == "healthy",
        "B was a replica before": before[1]["status"] == "read_only",
        "A unhealthy after the kill": all(r[0]["healthy"] == 0 and r[0]["status"] == "refused" for r in after),
        "B still answers as a replica": all(r[1]["status"] == "read_only" for r in after),
        "B's heartbeat age grows": all(b > a for a, b in zip(ages, ages[1:], strict=False)),
    }
    print("\nRegion B sees the writer's heartbeat age grow: " + ", ".join(f"{a:.1f}s" for a in ages))
    print("Next step (promotion of B) is the promoter's job; see `make drill-all` once it is wired in.\n")
    for name, ok in checks.items():
        print(f"  [{'ok' if ok else 'FAIL'}] {name}")
    return all(checks.values())


SCENARIOS = {"primary-redis-dies": primary_redis_dies}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make drill", description=__doc__)
    parser.add_argument("--scenario", default="primary-redis-dies", choices=sorted(SCENARIOS))
    parser.add_argument("--all", action="store_true", help="run every scenario and print a table")
    args = parser.parse_args(argv)
    print("gds-failover local drill - EMULATION: AWS is moto in-process; Redis is real redis-server.\n")
    names = sorted(SCENARIOS) if args.all else [args.scenario]
    try:
        results = {name: SCENARIOS[name]() for name in names}
    except KeyboardInterrupt:
        print("\ninterrupted: every redis-server the drill started has been stopped", file=sys.stderr)
        return 130
    if args.all:
        print("\nscenario | pass")
        for name, ok in results.items():
            print(f"{name} | {'pass' if ok else 'FAIL'}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
