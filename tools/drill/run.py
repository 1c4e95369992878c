"""Run one scenario and measure what happened: decisions, client outage (RTO), lost writes (RPO)."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import redis

from tools.drill.lambdas import CapturingStdout
from tools.drill.scenarios import FAULT_AT_S, Scenario
from tools.drill.world import PromoterRun, TimelineEvent, World, world_parameters_summary

PROGRESS_EVERY_WALL_S = 0.5


@dataclass
class ScenarioResult:
    scenario: Scenario
    observed: tuple[str, ...]
    decisions_ok: bool
    rto_s: float | None  # client-observed write outage after the fault; None = never recovered
    had_outage: bool
    lost_writes: int | None  # acknowledged by a writer, absent from the final writer; None = no writer
    acknowledged_writes: int
    checks: list[tuple[str, bool]]
    timeline: list[TimelineEvent]
    promoter_runs: list[PromoterRun]
    fault_at: float
    emulated_s: float
    wall_s: float
    parameters: str
    log_file: Path
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.decisions_ok and all(ok for _, ok in self.checks) and not self.errors


def observed_decisions(runs: list[PromoterRun]) -> tuple[str, ...]:
    """Decisions that carry meaning (noops on foreign or non-ALARM notifications are left out)."""
    return tuple(
        f"{run.result.get('decision')}:{run.result.get('code')}"
        for run in runs
        if run.result.get("decision") != "noop"
    )


def matches(expected: tuple[str, ...], observed: tuple[str, ...]) -> bool:
    if len(expected) != len(observed):
        return False
    return all(obs == exp or obs.split(":")[0] == exp for exp, obs in zip(expected, observed, strict=True))


def run_scenario(scenario: Scenario, progress: TextIO | None = sys.stderr) -> ScenarioResult:
    wall_started = time.monotonic()
    log_path = Path(f"/tmp/gds-drill-{scenario.name}.log")
    errors: list[str] = []
    with log_path.open("w", encoding="utf-8") as log:
        stdout = CapturingStdout(log)
        saved_stdout = sys.stdout
        sys.stdout = stdout
        try:
            world = World(scenario.name, scenario.overrides, stdout)
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
                    progress.write(
                        f"\r  {scenario.name}: emulated {world.t(now)} ({now / end:4.0%}), "
                        f"wall {time.monotonic() - wall_started:4.1f}s "
                    )
                    progress.flush()

                world.simulation.run_until(end, tick)
                assert world.client is not None
                world.client.finish()
                errors += [f"{type(e).__name__}: {e}" for e in world.simulation.actor_errors]
                lost, acked = _lost_writes(world)
                checks = [check(world) for check in scenario.checks]
        finally:
            sys.stdout = saved_stdout
    if progress is not None:
        progress.write("\r" + " " * 78 + "\r")
        progress.flush()
    assert world.client is not None and world.fault_at is not None
    rto_s, had_outage = _rto(world)
    if scenario.expect_recovery:
        checks.append(("client writes succeed at the end", had_outage is False or rto_s is not None))
    observed = observed_decisions(world.promoter_runs)
    return ScenarioResult(
        scenario=scenario,
        observed=observed,
        decisions_ok=matches(scenario.expected, observed),
        rto_s=rto_s,
        had_outage=had_outage,
        lost_writes=lost,
        acknowledged_writes=acked,
        checks=checks,
        timeline=world.timeline,
        promoter_runs=world.promoter_runs,
        fault_at=world.fault_at,
        emulated_s=world.simulation.now,
        wall_s=time.monotonic() - wall_started,
        parameters=world_parameters_summary(world),
        log_file=log_path,
        errors=errors,
    )


def _rto(world: World) -> tuple[float | None, bool]:
    """Client-observed write outage that began at or after the fault: (seconds, there was one)."""
    assert world.client is not None and world.fault_at is not None
    outages = [(start, end) for start, end in world.client.stats.outages if (end or 1e18) >= world.fault_at]
    if not outages:
        return 0.0, False
    last_end = outages[-1][1]
    if last_end is None:
        return None, True
    return last_end - outages[0][0], True


def _lost_writes(world: World) -> tuple[int | None, int]:
    """Writes the client saw acknowledged that the final writer does not hold."""
    assert world.client is not None and world.datastore is not None
    acks = world.client.stats.acks
    primary = world.datastore.primary
    if not primary.server.running:
        return None, len(acks)
    with primary.server.client(timeout=5.0) as client:
        pipeline = client.pipeline(transaction=False)
        for ack in acks:
            pipeline.exists(f"drill:write:{ack.seq:06d}")
        try:
            present = pipeline.execute()
        except redis.RedisError:
            return None, len(acks)
    return sum(1 for found in present if not found), len(acks)
