"""What a person reads: the timeline, the summary, the catalogue table, and the optional PNG."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

from tools.drill.run import ScenarioResult
from tools.drill.world import TimelineEvent

EMULATION_NOTE = (
    "EMULATION: Redis is real (redis-servers on loopback, TLS + AUTH, real REPLICAOF); the probe and\n"
    "promote handlers are the real code loaded from template.yaml; the probe state machine is the real\n"
    "ASL run by moto. CloudWatch, SNS, Route 53, DynamoDB, Secrets Manager and Step Functions are moto;\n"
    "alarm evaluation, Route 53 health/failover answers and the Global Datastore control plane are\n"
    "emulated after their documented semantics with delays from tools/rto.py. Time is VIRTUAL: it jumps\n"
    "from event to event, so emulated minutes take seconds of wall time."
)

KIND_LABEL = {
    "fault": "FAULT",
    "probe": "probe",
    "alarm": "alarm",
    "dns": "dns",
    "promoter": "PROMOTER",
    "gds": "gds",
    "client": "client",
    "note": "note",
}


def format_rto(result: ScenarioResult) -> str:
    if not result.outages:
        return "no outage"
    return " + ".join("no recovery" if outage is None else f"{outage:.0f}s" for outage in result.outages)


def format_rpo(result: ScenarioResult) -> str:
    if result.lost_writes is None:
        return "n/a (no writer)"
    return f"{result.lost_writes} writes"


def format_decisions(decisions: tuple[str, ...]) -> str:
    # "promote:promote" reads "promote"; three regions' "B:promote:promote" reads "B:promote"
    shown = [
        d.rsplit(":", 1)[0] if d.count(":") >= 1 and d.split(":")[-2] == d.split(":")[-1] else d for d in decisions
    ]
    return ", ".join(shown) if shown else "none"


#: Printed under the timeline's heading: the steady-state lines that look alarming and are not.
STEADY_STATE_LEGEND = (
    "Legend: a replica is never a healthy writer, so the SECONDARY's writer alarm in ALARM and its record\n"
    "unhealthy are the normal state, and right after the start Route 53 has no alarm data yet\n"
    '("PRIMARY unhealthy, SECONDARY unhealthy": it answers PRIMARY). Repeated identical probes are folded.'
)


def fold_repeated_probes(timeline: list[TimelineEvent]) -> list[TimelineEvent]:
    """The timeline with each run of identical probe lines of a region (same text, nothing but other
    regions' probes in between) shown once, with how often and until when it repeated."""
    folded: list[TimelineEvent] = []
    run_head: dict[str, int] = {}  # region -> index in folded of the probe its repeats fold into
    repeats: dict[int, tuple[int, float]] = {}
    for event in timeline:
        if event.kind != "probe":
            if event.kind != "note":
                run_head.clear()  # anything else happening ends every run: repeats resume visibly
            folded.append(event)
            continue
        head = run_head.get(event.where)
        if head is not None and folded[head].text == event.text and not event.details:
            count, _ = repeats.get(head, (0, event.at))
            repeats[head] = (count + 1, event.at)
            continue
        run_head[event.where] = len(folded)
        folded.append(event)
    for index, (count, last_at) in repeats.items():
        head_event = folded[index]
        folded[index] = TimelineEvent(
            head_event.at,
            head_event.kind,
            head_event.where,
            head_event.text,
            [*head_event.details, f"(the same {count} more time(s), the last at {{T{last_at}}})"],
        )
    return folded


def timeline_text(result: ScenarioResult) -> str:
    lines = [
        f"Timeline (emulated time, T+0 = fault injected at {result.fault_at:.0f}s after start):",
        STEADY_STATE_LEGEND,
    ]
    noops: list[str] = []
    timeline = fold_repeated_probes(result.timeline)
    for index, event in enumerate(timeline):
        stamp = f"T{event.at - result.fault_at:+5.0f}s"
        if event.kind == "promoter" and event.text.startswith("noop"):
            noops.append(f"{event.where}:{event.text.split(' on ')[0].removeprefix('noop ')}")
            following = timeline[index + 1] if index + 1 < len(timeline) else None
            if following is not None and following.kind == "promoter" and following.text.startswith("noop"):
                continue
            lines.append(
                f"  {stamp}  {'PROMOTER':<8} {'A/B':<8} {len(noops)} notification(s) -> noop: {', '.join(noops)}"
            )
            noops = []
            continue
        lines.append(f"  {stamp}  {KIND_LABEL.get(event.kind, event.kind):<8} {event.where:<8} {event.text}")
        lines += [f"  {'':7}  {'':8} {'':8}   {_relative(detail, result.fault_at)}" for detail in event.details]
    return "\n".join(lines)


def _relative(detail: str, fault_at: float) -> str:
    """Fill the ``{T<seconds>}`` placeholders fold_repeated_probes leaves as T+/-seconds since the fault."""
    return re.sub(r"\{T([0-9.]+)\}", lambda m: f"T{float(m.group(1)) - fault_at:+.0f}s", detail)


def summary_text(result: ScenarioResult) -> str:
    scenario = result.scenario
    lines = [
        f"Summary: {scenario.name} - {scenario.summary}",
        f"  decision     expected {format_decisions(scenario.expected)}; observed {format_decisions(result.observed)}",
        f"  RTO          client-observed write outage: {format_rto(result)}",
        f"  RPO          acknowledged writes lost: {format_rpo(result)} (of {result.acknowledged_writes} acknowledged)",
    ]
    estimates = [
        run.record.get("rpo_estimate_seconds")
        for run in result.promoter_runs
        if run.record is not None and run.result.get("decision") == "promote"
    ]
    if estimates:
        lines.append(f"  promoter's data-loss estimate: {estimates[0]}s (upper bound, includes the probe cadence)")
    for name, ok in result.checks:
        lines.append(f"  [{'ok' if ok else 'FAIL'}] {name}")
    for error in result.errors:
        lines.append(f"  [ERROR] {error}")
    lines.append(f"  {result.emulated_s / 60:.1f} emulated minutes in {result.wall_s:.1f}s wall")
    lines.append(f"  handler logs (Powertools JSON, EMF): {display_path(result.log_file)}")
    lines.append(f"  {'PASS' if result.passed else 'FAIL'}")
    return "\n".join(lines)


def table_text(results: list[ScenarioResult]) -> str:
    header = ("scenario", "expected", "observed", "RTO", "RPO", "pass")
    rows = [
        (
            r.scenario_name if r.engine == "redis" else f"{r.scenario_name} [{r.engine}]",
            format_decisions(r.scenario.expected),
            format_decisions(r.observed),
            format_rto(r),
            format_rpo(r),
            "pass" if r.passed else "FAIL",
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), separator, *(line(row) for row in rows)])


def display_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it (what a person types next)."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def plot_path_problem(path: Path) -> str | None:
    """Why the PNG cannot be written there, checked before the drill runs; None when it can."""
    if path.suffix.lower() != ".png":
        return "the plot is a PNG: give a file name ending in .png"
    if path.is_dir():
        return "is a directory: give a file name ending in .png"
    folder = path.parent
    if not folder.is_dir():
        return f"directory {folder} does not exist"
    if not os.access(folder, os.W_OK):
        return f"directory {folder} is not writable"
    return None


def _probe_color(verdict: str) -> str:
    """Healthy writer green, replica blue, anything else (refused, timeout, lost, ...) red."""
    if verdict.startswith("healthy"):
        return "green"
    return "steelblue" if verdict.startswith("read_only") else "red"


def _event_color(event: TimelineEvent) -> str:
    lane = _lane(event)
    if lane == "alarm":
        return "red" if event.text.endswith("-> ALARM") else "green" if event.text.endswith("-> OK") else "gray"
    return LANE_COLORS.get(lane, "gray")


PLOT_LANES = ("FAULT", "probe A", "probe B", "alarm", "dns", "PROMOTER", "gds", "client")


def _lanes(result: ScenarioResult) -> tuple[str, ...]:
    """PLOT_LANES with a probe lane per region of the run (three regions add C)."""
    regions = sorted({e.where for e in result.probe_samples} | {"A", "B"})
    return ("FAULT", *(f"probe {label}" for label in regions), *PLOT_LANES[3:])


LANE_COLORS = {"FAULT": "red", "PROMOTER": "purple", "dns": "green", "gds": "orange", "client": "blue"}
#: Characters of an event's text in the numbered key below the chart (wrapped, never cut mid-word).
KEY_WIDTH = 150


#: The first line of the PNG's key: what the probe dots' colours mean.
PROBE_COLOURS = (
    "probe dots: green = healthy writer, blue = read-only replica (the normal state of a secondary), "
    "red = failed (refused, timeout, lost invocation, ...)"
)


def key_label(event: TimelineEvent) -> str:
    """The lane of a key entry, with its region where the lane holds several regions' events."""
    lane = _lane(event)
    if lane in ("alarm", "PROMOTER") and event.where:
        return f"{lane} {event.where}"
    return lane


def _lane(event: TimelineEvent) -> str:
    lane = KIND_LABEL.get(event.kind, event.kind)
    return f"probe {event.where}" if lane == "probe" else lane


def _plotted_events(result: ScenarioResult) -> tuple[list[TimelineEvent], list[TimelineEvent]]:
    """(every probe, the other events worth a label): the text timeline shows a healthy writer's probes
    only when they change, the plot shows each one; promoter noops are not labelled."""
    lost = [e for e in result.timeline if e.kind == "probe" and e.text.startswith("probe invocation lost")]
    probes = sorted([*result.probe_samples, *lost], key=lambda event: event.at)
    labelled = [
        e
        for e in result.timeline
        if e.kind != "probe" and _lane(e) in _lanes(result) and not (e.kind == "promoter" and e.text.startswith("noop"))
    ]
    return probes, labelled


def plot(result: ScenarioResult, path: Path) -> str:
    """A PNG of the timeline; returns a message for the person running the drill.

    Probes are dots per lane; every other event is a numbered marker whose full text is in a key below
    the chart, so labels neither overlap nor get cut.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "--plot: matplotlib is not installed (make venv installs it from requirements-dev.txt)"
    probes, labelled = _plotted_events(result)
    lanes = _lanes(result)
    key_lines: list[str] = [PROBE_COLOURS, ""]
    for number, event in enumerate(labelled, 1):
        stamp = f"{number:>2}  T{event.at - result.fault_at:+5.0f}s  {key_label(event):<13} "
        wrapped = textwrap.wrap(event.text, KEY_WIDTH - len(stamp)) or [""]
        key_lines += [stamp + wrapped[0], *(" " * len(stamp) + more for more in wrapped[1:])]
    chart_height, line_height = 4.2, 0.13
    figure, (axes, key) = plt.subplots(
        2,
        1,
        figsize=(15, chart_height + 0.6 + line_height * len(key_lines)),
        gridspec_kw={"height_ratios": [chart_height, 0.3 + line_height * len(key_lines)]},
    )
    for event in probes:
        x, y = event.at - result.fault_at, lanes.index(_lane(event))
        axes.scatter([x], [y], color=_probe_color(event.text), s=14, zorder=3)
    x_span = max((e.at for e in result.timeline), default=1.0) - min((e.at for e in result.timeline), default=0.0)
    groups: list[tuple[int, float, list[int]]] = []  # (lane, x, numbers): nearby markers share one label
    for number, event in enumerate(labelled, 1):
        x, y = event.at - result.fault_at, lanes.index(_lane(event))
        axes.scatter([x], [y], color=_event_color(event), s=22, zorder=3)
        near = next((g for g in reversed(groups) if g[0] == y and x - g[1] < 0.02 * max(x_span, 1.0)), None)
        if near is None:
            groups.append((y, x, [number]))
        else:
            near[2].append(number)
    for y, x, numbers in groups:
        text = str(numbers[0]) if len(numbers) == 1 else f"{numbers[0]}-{numbers[-1]}"
        if numbers != list(range(numbers[0], numbers[-1] + 1)):
            text = ",".join(map(str, numbers))
        axes.annotate(text, (x, y), xytext=(3, 5), textcoords="offset points", fontsize=7)
    if result.outages and result.outages[0] is not None:
        first = result.outages[0]
        axes.axvspan(0, first, color="red", alpha=0.08, label=f"client write outage {first:.0f}s")
        axes.legend(loc="lower right", fontsize=8)
    axes.set_yticks(range(len(lanes)), lanes)
    axes.set_ylim(-0.6, len(lanes) - 0.2)
    axes.set_xlabel("emulated seconds since the fault (virtual clock)")
    axes.set_title(f"gds-failover drill (EMULATION): {result.scenario.name}")
    axes.grid(axis="x", alpha=0.3)
    key.axis("off")
    key.text(0, 1, "\n".join(key_lines), family="monospace", fontsize=7, va="top", ha="left", transform=key.transAxes)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return f"timeline plot written to {display_path(path)}"
