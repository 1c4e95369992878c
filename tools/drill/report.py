"""What a person reads: the timeline, the summary, the catalogue table, and the optional PNG."""

from __future__ import annotations

from pathlib import Path

from tools.drill.run import ScenarioResult

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


def timeline_text(result: ScenarioResult) -> str:
    lines = [f"Timeline (emulated time, T+0 = fault injected at {result.fault_at:.0f}s after start):"]
    noops: list[str] = []
    for index, event in enumerate(result.timeline):
        stamp = f"T{event.at - result.fault_at:+5.0f}s"
        if event.kind == "promoter" and event.text.startswith("noop"):
            noops.append(f"{event.where}:{event.text.split(' on ')[0].removeprefix('noop ')}")
            following = result.timeline[index + 1] if index + 1 < len(result.timeline) else None
            if following is not None and following.kind == "promoter" and following.text.startswith("noop"):
                continue
            lines.append(
                f"  {stamp}  {'PROMOTER':<8} {'A/B':<8} {len(noops)} notification(s) -> noop: {', '.join(noops)}"
            )
            noops = []
            continue
        lines.append(f"  {stamp}  {KIND_LABEL.get(event.kind, event.kind):<8} {event.where:<8} {event.text}")
        lines += [f"  {'':7}  {'':8} {'':8}   {detail}" for detail in event.details]
    return "\n".join(lines)


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
    lines.append(
        f"  {result.emulated_s / 60:.1f} emulated minutes in {result.wall_s:.1f}s wall; handler logs: {result.log_file}"
    )
    lines.append(f"  {'PASS' if result.passed else 'FAIL'}")
    return "\n".join(lines)


def table_text(results: list[ScenarioResult]) -> str:
    header = ("scenario", "expected", "observed", "RTO", "RPO", "pass")
    rows = [
        (
            r.scenario_name,
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


def _probe_color(verdict: str) -> str:
    """Healthy writer green, replica blue, anything else (refused, timeout, ...) red."""
    if verdict.startswith("healthy"):
        return "green"
    return "steelblue" if verdict.startswith("read_only") else "red"


def plot(result: ScenarioResult, path: Path) -> str:
    """A PNG of the timeline; returns a message for the person running the drill."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "--plot: matplotlib is not installed (make venv installs it from requirements-dev.txt)"
    probes = sorted({f"probe {e.where}" for e in result.timeline if e.kind == "probe"} | {"probe A", "probe B"})
    lanes = ["FAULT", *probes, "alarm", "dns", "PROMOTER", "gds", "client"]
    colors = {"FAULT": "red", "PROMOTER": "purple", "dns": "green", "gds": "orange", "client": "blue"}
    figure, axes = plt.subplots(figsize=(14, 5))
    labelled: set[tuple[float, int]] = set()
    for event in result.timeline:
        lane = KIND_LABEL.get(event.kind, event.kind)
        if lane == "probe":
            lane = f"probe {event.where}"
        if lane not in lanes:
            continue
        x = event.at - result.fault_at
        y = lanes.index(lane)
        axes.scatter(
            [x],
            [y],
            color=_probe_color(event.text) if lane.startswith("probe") else colors.get(lane, "gray"),
            s=18,
            zorder=3,
        )
        noop = event.kind == "promoter" and event.text.startswith("noop")
        if not lane.startswith("probe") and not noop and (x, y) not in labelled:
            labelled.add((x, y))
            axes.annotate(event.text[:48], (x, y), fontsize=6, rotation=20, xytext=(2, 4), textcoords="offset points")
    if result.outages and result.outages[0] is not None:
        first = result.outages[0]
        axes.axvspan(0, first, color="red", alpha=0.08, label=f"client write outage {first:.0f}s")
        axes.legend(loc="upper right", fontsize=8)
    axes.set_yticks(range(len(lanes)), lanes)
    axes.set_xlabel("emulated seconds since the fault (virtual clock)")
    axes.set_title(f"gds-failover drill (EMULATION): {result.scenario.name}")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return f"timeline plot written to {path}"
