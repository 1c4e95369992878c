"""What a game day prints and writes: the drill's timeline format, each step measured beside make rto's
typical and worst, the verdict, the JSON report and how to go back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from tools.drill.report import STEADY_STATE_LEGEND, timeline_text
from tools.drill.run import ScenarioResult
from tools.drill.world import TimelineEvent
from tools.gameday.chain import ChainEvent, ChainState, Side
from tools.rto import PROMOTION_TYPICAL_S, Step, TimingModel


@dataclass(frozen=True)
class Milestone:
    key: str  # ChainState.milestones key
    name: str
    after: str | None  # the milestone this step starts from; None: the fault (T+0)
    model: tuple[float, float] | None  # make rto's T+ (typical, worst); None: make rto does not model it


def milestones(experiment: str, model: TimingModel) -> list[Milestone]:
    if experiment == "in-region-failover":
        return [
            Milestone("writer_probe_fails", "writer's probe reports not a healthy writer (A)", None, None),
            Milestone("in_region_failover", "in-region failover seen (node role or event)", None, None),
            Milestone("writer_probe_healthy_again", "writer's probe healthy again (A)", "in_region_failover", None),
        ]
    decided = model.decided_after()
    promoted = (decided[0] + model.promotion_s[0], decided[1] + model.promotion_s[1])
    new_healthy, old_unhealthy = model.dns_waits()
    total = model.total()
    writable = (total[0] - model.record_ttl_s / 2, total[1] - model.record_ttl_s)
    return [
        Milestone("writer_probe_fails", "writer's probe reports not a healthy writer (A)", None, None),
        # the state machine's wake-up usually reaches the promoter first; the alarm is its backstop
        Milestone("trigger_alarm", "promotion trigger -> ALARM (B)", None, model.alarm_backstop()),
        Milestone("decision", "promoter's promote decision record (B)", None, decided),
        Milestone("peer_is_writer", "Global Datastore writer is B", "decision", promoted),
        Milestone("peer_healthy", "B's health check healthy", None, (new_healthy.typical_s, new_healthy.worst_s)),
        Milestone(
            "writer_unhealthy", "A's health check unhealthy", None, (old_unhealthy.typical_s, old_unhealthy.worst_s)
        ),
        Milestone("writer_alarm", "A's writer alarm -> ALARM", None, None),
        Milestone("witness_unhealthy", "A's witness unhealthy in B's VPC", "writer_alarm", None),
        Milestone("dns_on_peer", "redis.internal answers B (before client TTL)", None, writable),
    ]


def _span(step: Step) -> tuple[float, float]:
    return step.typical_s, step.worst_s


def _pair(values: tuple[float, float] | None) -> dict[str, float] | None:
    return None if values is None else {"typical": values[0], "worst": values[1]}


@dataclass(frozen=True)
class StepRow:
    name: str
    measured_at_s: float | None  # T+ seconds
    measured_step_s: float | None
    model_at: tuple[float, float] | None
    model_step: tuple[float, float] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.name,
            "measured_t_plus_s": self.measured_at_s,
            "measured_step_s": self.measured_step_s,
            "model_t_plus_s": None
            if self.model_at is None
            else {"typical": self.model_at[0], "worst": self.model_at[1]},
            "model_step_s": None
            if self.model_step is None
            else {"typical": self.model_step[0], "worst": self.model_step[1]},
        }


def step_rows(experiment: str, model: TimingModel, state: ChainState) -> list[StepRow]:
    fault = state.fault_at
    chain = milestones(experiment, model)
    by_key = {milestone.key: milestone for milestone in chain}
    rows = []
    for milestone in chain:
        seen = state.milestones.get(milestone.key)
        at = None if seen is None or fault is None else (seen - fault).total_seconds()
        start = state.milestones.get(milestone.after) if milestone.after else fault
        step = None if seen is None or start is None else (seen - start).total_seconds()
        model_step = milestone.model
        before = by_key.get(milestone.after) if milestone.after else None
        if milestone.model is not None and before is not None and before.model is not None:
            model_step = (milestone.model[0] - before.model[0], milestone.model[1] - before.model[1])
        rows.append(StepRow(milestone.name, at, step, milestone.model, model_step))
    return rows


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def steps_text(rows: list[StepRow]) -> str:
    lines = [
        f"{'step (T+0 = FIS action started)':<50} {'measured':>9} {'typical':>9} {'worst':>9}   "
        f"{'T+ measured':>11} {'T+ model':>13}"
    ]
    for row in rows:
        model_step = row.model_step or (None, None)
        model_at = "-" if row.model_at is None else f"{row.model_at[0]:.0f}/{row.model_at[1]:.0f} s"
        lines.append(
            f"{row.name:<50} {_cell(row.measured_step_s):>9} {_cell(model_step[0]):>9} {_cell(model_step[1]):>9}   "
            f"{_cell(row.measured_at_s):>11} {model_at:>13}"
        )
        if row.model_at is not None and row.measured_at_s is not None and row.measured_at_s > row.model_at[1]:
            lines.append(f"    SLOWER than make rto's worst case ({row.model_at[1]:.0f} s): look at this step first")
    lines.append("  '-' in the model columns: make rto does not model this step; '-' measured: not seen")
    return "\n".join(lines)


@dataclass(frozen=True)
class _TimelineView:
    """The two fields the drill's timeline formatter reads (fault_at and timeline, in seconds)."""

    fault_at: float
    timeline: list[TimelineEvent]


def timeline(events: list[ChainEvent], fault_at: datetime | None, started_at: datetime) -> str:
    """The drill's timeline format, on wall-clock seconds (T+0 = the FIS action's start)."""
    origin = started_at.timestamp()
    zero = (fault_at or started_at).timestamp() - origin
    drill_events = [
        TimelineEvent(event.at.timestamp() - origin, event.kind, event.where, event.text, list(event.details))
        for event in events
    ]
    text = timeline_text(cast(ScenarioResult, _TimelineView(zero, drill_events)))
    header = f"Timeline (wall clock, T+0 = fault injected at {(fault_at or started_at).isoformat()}):"
    legend = set(STEADY_STATE_LEGEND.splitlines())  # the drill's legend is about its own start-up
    return "\n".join([header, *(line for line in text.splitlines()[1:] if line not in legend)])


def back_out(state: ChainState, promoted: bool) -> str:
    writer = state.writer
    if not promoted:
        return (
            f"Going back: nothing to undo; the Global Datastore's writer is still {writer.group} ({writer.region}). "
            "FIS restored the network/power when the experiment stopped; run make verify CONFIG_ENV="
            f"{writer.env_name} before the next experiment."
        )
    ledger = writer.output("LedgerTableName") or "<LedgerTableName output of " + writer.env_name + ">"
    gds = writer.stack.parameters.get("GlobalReplicationGroupId", "")
    return (
        "Going back (failback is never automatic): the planned switchover, with its pre-checks, once the peer\n"
        f"  replicates again: .venv/bin/python -m tools.switchover --global-replication-group-id {gds} \\\n"
        f"      --target-region {writer.region} --target-replication-group-id {writer.group} \\\n"
        f"      --ledger-table {ledger} --dry-run   # then again without --dry-run (docs/switchover.md;\n"
        "  make switchover ... where the Makefile has that target)"
    )


def measured_section(rows: list[StepRow], experiment: str, promoted: bool) -> dict[str, Any]:
    """What make rto MEASURED=<report> can take from this run: the promotion's duration when one ran."""
    if experiment != "writer-unreachable" or not promoted:
        return {}
    promotion = next((row for row in rows if row.name.startswith("Global Datastore writer")), None)
    if promotion is None or promotion.measured_step_s is None:
        return {}
    seconds = promotion.measured_step_s
    witness = next((row for row in rows if row.name.startswith("A's witness")), None)
    flipped = {}
    if witness is not None and witness.measured_step_s is not None:
        flipped["witness_lag_s"] = {
            "typical": witness.measured_step_s,
            "worst": witness.measured_step_s,
            "samples": 1,
            "how": "A's writer alarm -> ALARM (alarm history) -> B's probe function reads A's witness unhealthy "
            "(poll resolution); a lost region has no alarm to wait for, so this is an upper bound there",
        }
    return flipped | {
        "promotion_s": {
            "typical": seconds,
            "worst": seconds,
            "samples": 1,
            "how": "decision record -> DescribeGlobalReplicationGroups shows the peer PRIMARY (poll resolution)",
            "model_typical_was": PROMOTION_TYPICAL_S,
        }
    }


def write_report(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")


def side_dict(side: Side) -> dict[str, str]:
    return {"label": side.label, "env": side.env_name, "region": side.region, "replication_group": side.group}
