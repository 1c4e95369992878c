"""make docs: the numbers the docs quote from template.yaml and `make rto`, regenerated from them.

    python -m tools.docsync [--check]

Each :class:`Quote` names a file, a pattern whose one group is the quoted value, and how to compute
that value from the template's defaults (and the timing and cost model of tools/rto.py). Without
``--check`` stale values are rewritten in place; with it, they are listed and the exit code is 1.
``tests/unit/test_docs.py`` fails while any quote is stale, so a changed default or price shows up as
a test failure that ``make docs`` fixes, instead of a doc that quietly disagrees with the code.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tools.cfn import ROOT, load_template, parameter_defaults
from tools.rto import TimingModel, monthly_cost


@dataclass(frozen=True)
class Quote:
    path: str
    #: a regular expression with exactly one group: the quoted value
    pattern: str
    compute: Callable[[], str]
    #: how many times the pattern must match (a reworded doc must not silently drop a quote)
    count: int = 1


@dataclass(frozen=True)
class Stale:
    path: str
    pattern: str
    found: list[str]
    expected: str

    def line(self) -> str:
        if len(self.found) == 0:
            return f"{self.path}: the quoted text /{self.pattern}/ is gone (reworded? update tools/docsync.py)"
        return f"{self.path}: quotes {', '.join(self.found)} where the code gives {self.expected} (/{self.pattern}/)"


@cache
def _template() -> dict[str, Any]:
    return load_template()


def default(name: str) -> str:
    return parameter_defaults(_template())[name]


def _model() -> TimingModel:
    return TimingModel.from_parameters(parameter_defaults(_template()))


def _total(which: int, case: str = "region-lost") -> str:
    return f"{_model().total(case)[which]:.0f}"


def state_machine_month(kind: str) -> str:
    """The Step Functions line of `make rto` for EXPRESS or STANDARD at the template defaults."""
    model = TimingModel.from_parameters({**parameter_defaults(_template()), "StateMachineType": kind})
    (line,) = [line for line in monthly_cost(model, _template()) if line.item == f"Step Functions {kind}"]
    return f"{line.usd_month:.1f}"


def _monthly(*, role: str = "PRIMARY") -> str:
    """`make rto`'s monthly total at the template defaults for a stack of the PRIMARY or SECONDARY record."""
    model = TimingModel.from_parameters({**parameter_defaults(_template()), "FailoverRole": role})
    return f"{sum(line.usd_month for line in monthly_cost(model, _template())):.2f}"


def _three_region_fallback(which: int) -> str:
    """`make rto`'s three-region line: the other secondary after the grace (typical = 0, worst = 1)."""
    from tools.rto import DECISION_TYPICAL_S, DECISION_WORST_S

    grace = float(default("SuccessionGraceSeconds"))
    total = _model().total()[which]
    return f"{total + grace + (DECISION_WORST_S if which else DECISION_TYPICAL_S):.0f}"


def _grace_skew(which: str) -> str:
    """docs/three-regions.md's worst case for the grace: C woken at its earliest (the stale-heartbeat step,
    typical), B deciding from the alarm backstop at its latest plus two confirmation re-checks (the template's
    HOLD_RETRY_DELAY_SECONDS) and a worst-case decision; and how far apart the two are."""
    from tools.rto import DECISION_WORST_S

    model = _model()
    earliest = model.steps()[0].typical_s
    recheck = float(
        _template()["Resources"]["PromoteFunction"]["Properties"]["Environment"]["Variables"][
            "HOLD_RETRY_DELAY_SECONDS"
        ]
    )
    latest = model.alarm_backstop()[1] + 2 * recheck + DECISION_WORST_S
    return f"{dict(earliest=earliest, latest=latest, skew=latest - earliest)[which]:.0f}"


def promoter_timeout_needed() -> int:
    """docs/promotion.md's Lambda timeout sizing at the template's hold settings and largest failover wait."""
    from gdfailover.promote_service import RECORD_RESERVE_SECONDS
    from gdfailover.promoter import EVIDENCE_ROUND_SECONDS

    props = _template()["Resources"]["PromoteFunction"]["Properties"]
    variables = props["Environment"]["Variables"]
    attempts = int(variables["HOLD_RETRY_ATTEMPTS"])
    delay = int(variables["HOLD_RETRY_DELAY_SECONDS"])
    wait = int(_template()["Parameters"]["FailoverWaitSeconds"]["MaxValue"])
    return int(attempts * EVIDENCE_ROUND_SECONDS + (attempts - 1) * delay + wait + RECORD_RESERVE_SECONDS)


def promoter_timeout() -> int:
    return int(_template()["Resources"]["PromoteFunction"]["Properties"]["Timeout"])


def version() -> str:
    """The one place the version lives: pyproject.toml's [project] version."""
    import tomllib

    return str(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"])


def _in_region_total(which: int) -> str:
    """`make rto`: a writer that dies while its region's APIs answer (the in-region ceiling first)."""
    return f"{_model().total('in-region')[which]:.0f}"


def scenario_count() -> str:
    """The drill's catalogue, as `make help` lists it."""
    from tools.drill.scenarios import CATALOGUE

    return str(len(CATALOGUE))


#: The gameday excerpt's scripted sightings: T+ seconds after the FIS action started (None: not seen).
GAMEDAY_EXCERPT_SEEN: dict[str, float | None] = {
    "writer_probe_fails": 39.0,
    "trigger_alarm": 94.0,
    "decision": 99.0,
    "peer_is_writer": None,
}


def gameday_excerpt() -> str:
    """docs/gameday.md's excerpt: `make gameday`'s step table for scripted sightings, beside today's model."""
    from datetime import UTC, datetime, timedelta
    from types import SimpleNamespace
    from typing import cast

    from tools.gameday.chain import ChainState
    from tools.gameday.report import step_rows, steps_text

    fault = datetime(2026, 1, 1, tzinfo=UTC)
    seen = {key: fault + timedelta(seconds=t) for key, t in GAMEDAY_EXCERPT_SEEN.items() if t is not None}
    state = cast(ChainState, SimpleNamespace(fault_at=fault, milestones=seen))
    rows = [row for row in step_rows("writer-unreachable", _model(), state)][: len(GAMEDAY_EXCERPT_SEEN)]
    return "\n".join(steps_text(rows).splitlines()[: len(rows) + 1])


QUOTES: tuple[Quote, ...] = (
    Quote("template.yaml", r'  Version:\n    Description: [^\n]*\n    Value: "([^"]+)"', version),
    Quote("examples/client-python/pyproject.toml", r'(?m)^version = "([^"]+)"', version),
    Quote(
        "docs/promotion.md",
        r"between rounds; 10 s are kept for the decision record, `RECORD_RESERVE_SECONDS`\): (\d+) s",
        lambda: str(promoter_timeout_needed()),
    ),
    Quote("docs/promotion.md", r"`FailoverWaitSeconds`, inside its (\d+) s", lambda: str(promoter_timeout())),
    Quote("README.md", r"probes\*\* its own replication group every (\d+) s", lambda: default("ProbeCadenceSeconds")),
    Quote("README.md", r"Probe → Wait (\d+) s → Probe", lambda: default("ProbeCadenceSeconds")),
    Quote("README.md", r"`make rto`: (\d+) s\s+typical", lambda: _total(0)),
    Quote("README.md", r"typical, (\d+) s worst", lambda: _total(1)),
    Quote(
        "README.md", r"writer outside us-east-1 \(two or three regions\) \| promotes: (\d+) / \d+ s", lambda: _total(0)
    ),
    Quote(
        "README.md", r"writer outside us-east-1 \(two or three regions\) \| promotes: \d+ / (\d+) s", lambda: _total(1)
    ),
    Quote("README.md", r"read in the survivor's VPC: (\d+) / \d+ s", lambda: _total(0, "us-east-1")),
    Quote("README.md", r"read in the survivor's VPC: \d+ / (\d+) s", lambda: _total(1, "us-east-1")),
    Quote("README.md", r"after the in-region ceiling: (\d+) / \d+ s", lambda: _total(0, "in-region")),
    Quote("README.md", r"after the in-region ceiling: \d+ / (\d+) s", lambda: _total(1, "in-region")),
    Quote(
        "docs/parameters.md",
        r"EXPRESS bills duration \(about \$([\d.]+)/month at the default cadence",
        lambda: state_machine_month("EXPRESS"),
    ),
    Quote(
        "docs/parameters.md",
        r"STANDARD bills transitions \(about \$([\d.]+)/month at the default cadence",
        lambda: state_machine_month("STANDARD"),
    ),
    Quote(
        "docs/switchover.md",
        r"probe\s+cadence \(`ProbeCadenceSeconds`, (\d+) s by default\)",
        lambda: default("ProbeCadenceSeconds"),
    ),
    Quote("docs/three-regions.md", r"template defaults: cadence (\d+) s", lambda: default("ProbeCadenceSeconds")),
    Quote("docs/three-regions.md", r"today's model \((\d+) s / \d+ s\)", lambda: _total(0)),
    Quote("docs/three-regions.md", r"today's model \(\d+ s / (\d+) s\)", lambda: _total(1)),
    Quote(
        "docs/three-regions.md",
        r"one extra bounded read in B's region, in parallel with the other evidence \| (\d+) s",
        lambda: _total(0),
    ),
    Quote("docs/three-regions.md", r"in parallel with the other evidence \| \d+ s / (\d+) s", lambda: _total(1)),
    Quote("docs/three-regions.md", r"plus one evidence round \| about (\d+) s", lambda: _three_region_fallback(0)),
    Quote(
        "docs/three-regions.md", r"plus one evidence round \| about \d+ s / (\d+) s", lambda: _three_region_fallback(1)
    ),
    Quote(
        "docs/three-regions.md",
        r"a SECONDARY stack like B's: \$([\d.]+) a month",
        lambda: _monthly(role="SECONDARY"),
    ),
    Quote("docs/three-regions.md", r"`make rto`: \$([\d.]+)\s+for the PRIMARY-record stack", _monthly),
    Quote("docs/three-regions.md", r"C woken at\s+its earliest \(about T\+(\d+) s\)", lambda: _grace_skew("earliest")),
    Quote(
        "docs/three-regions.md",
        r"confirmation re-checks[^(]*\([^)]*\)[^(]*\(about T\+(\d+) s\)",
        lambda: _grace_skew("latest"),
    ),
    Quote("docs/three-regions.md", r"B latches up to about\s+(\d+) s after C's wake-up", lambda: _grace_skew("skew")),
    Quote("docs/probe.md", r"`ProbeCadenceSeconds` \((\d+) s by default\)", lambda: default("ProbeCadenceSeconds")),
    Quote("docs/drill.md", r"the catalogue \((\d+) scenarios\)", scenario_count),
    Quote("docs/gameday.md", r"(?s)```\n(step \(T\+0 = FIS action started\).*?)\n```", gameday_excerpt),
    Quote("docs/design.md", r"at the defaults it is (\d+) s typical", lambda: _total(0)),
    Quote("docs/design.md", r"at the defaults it is \d+ s typical, (\d+) s worst", lambda: _total(1)),
    Quote("docs/design.md", r"its region answers, (\d+) s typical", lambda: _in_region_total(0)),
    Quote("docs/design.md", r"its region answers, \d+ s typical, (\d+) s worst", lambda: _in_region_total(1)),
    Quote("docs/design.md", r"\$([\d.]+) a month for the PRIMARY-record stack", _monthly),
    Quote("docs/clients.md", r"a lost region (\d+) s typical", lambda: _total(0)),
    Quote("docs/clients.md", r"a lost region \d+ s typical, (\d+) s worst", lambda: _total(1)),
    Quote("docs/clients.md", r"its region answering (\d+) s typical", lambda: _in_region_total(0)),
    Quote("docs/clients.md", r"its region answering \d+ s typical, (\d+) s worst", lambda: _in_region_total(1)),
)


def stale_quotes(root: Path = ROOT, quotes: tuple[Quote, ...] = QUOTES) -> list[Stale]:
    stale = []
    for quote in quotes:
        text = (root / quote.path).read_text(encoding="utf-8")
        found = [match.group(1) for match in re.finditer(quote.pattern, text)]
        expected = quote.compute()
        if len(found) != quote.count or any(value != expected for value in found):
            stale.append(Stale(quote.path, quote.pattern, found, expected))
    return stale


def rewrite(root: Path = ROOT, quotes: tuple[Quote, ...] = QUOTES) -> list[str]:
    """Rewrite every stale quote in place; returns the files changed."""
    changed: set[str] = set()
    for quote in quotes:
        path = root / quote.path
        text = path.read_text(encoding="utf-8")
        expected = quote.compute()

        def replace(match: re.Match[str], expected: str = expected) -> str:
            start, end = match.span(1)
            whole = match.group(0)
            offset = match.start(0)
            return whole[: start - offset] + expected + whole[end - offset :]

        new = re.sub(quote.pattern, replace, text)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.add(quote.path)
    for event in _trigger_events(root):
        if _sync_trigger_event(event, write=True):
            changed.add(str(event.relative_to(root)))
    if root == ROOT:
        from tools import deploy_policy

        changed |= set(deploy_policy.write())
    return sorted(changed)


# --- events/*.json: the trigger alarm a notification describes ------------------------------------


def trigger_alarm_settings(template: dict[str, Any] | None = None) -> dict[str, Any]:
    """The promotion trigger alarm at the template defaults, in the fields of an alarm notification's Trigger."""
    template = template or _template()
    defaults = parameter_defaults(template)
    props = template["Resources"]["PromotionTriggerAlarm"]["Properties"]

    def value(raw: Any) -> Any:
        return defaults[raw["Ref"]] if isinstance(raw, dict) and "Ref" in raw else raw

    periods = int(value(props["EvaluationPeriods"]))
    return {
        "MetricName": props["MetricName"],
        "Namespace": props["Namespace"],
        "Statistic": str(props["Statistic"]).upper(),
        "Period": int(value(props["Period"])),
        "EvaluationPeriods": periods,
        "DatapointsToAlarm": periods,
        "ComparisonOperator": props["ComparisonOperator"],
        "Threshold": float(value(props["Threshold"])),
        "TreatMissingData": props["TreatMissingData"],
    }


def _trigger_events(root: Path) -> list[Path]:
    """Event files whose notification is about this stack's promotion trigger alarm."""
    events = []
    for path in sorted((root / "events").glob("promote-*.json")):
        message = _message(json.loads(path.read_text(encoding="utf-8")))
        if message is not None and "-promotion-trigger-" in str(message.get("AlarmName", "")):
            events.append(path)
    return events


def _message(event: dict[str, Any]) -> dict[str, Any] | None:
    try:
        message = json.loads(event["Records"][0]["Sns"]["Message"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    return message if isinstance(message, dict) else None


def _state_reason(message: dict[str, Any], trigger: dict[str, Any]) -> str:
    """NewStateReason as CloudWatch words it, with example datapoints on the right side of the threshold."""
    periods = trigger["EvaluationPeriods"]
    threshold = trigger["Threshold"]
    if message.get("NewStateValue") == "ALARM":
        values, verdict, transition = [threshold + 60 + 15 * n for n in range(periods)], "were", "OK -> ALARM"
    elif message.get("NewStateValue") == "OK":
        values, verdict, transition = [threshold / 2 for _ in range(periods)], "were not", "ALARM -> OK"
    else:
        return str(message.get("NewStateReason", ""))
    shown = ", ".join(f"{value:.1f}" for value in values)
    return (
        f"Threshold Crossed: {periods} out of the last {periods} datapoints [{shown}] {verdict} greater than the "
        f"threshold ({threshold}) (minimum {periods} datapoint(s) for {transition} transition)."
    )


def _sync_trigger_event(path: Path, *, write: bool) -> bool:
    """True when the event's Trigger (and reason) do not describe the template's trigger alarm."""
    event = json.loads(path.read_text(encoding="utf-8"))
    message = _message(event)
    assert message is not None
    trigger = trigger_alarm_settings()
    wanted = {**message["Trigger"], **trigger}
    reason = _state_reason(message, trigger)
    if wanted == message["Trigger"] and reason == message.get("NewStateReason"):
        return False
    if write:
        message["Trigger"] = wanted
        message["NewStateReason"] = reason
        event["Records"][0]["Sns"]["Message"] = json.dumps(message)
        path.write_text(json.dumps(event, indent=2) + "\n", encoding="utf-8")
    return True


def stale_events(root: Path = ROOT) -> list[str]:
    return [
        f"{path.relative_to(root)}: its Trigger does not describe template.yaml's PromotionTriggerAlarm"
        for path in _trigger_events(root)
        if _sync_trigger_event(path, write=False)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="list stale quotes, change nothing (exit 1 if any)")
    args = parser.parse_args(argv)
    if args.check:
        from tools import deploy_policy

        problems = [s.line() for s in stale_quotes()] + stale_events()
        problems += [f"docs/deploy-policy/{name} is stale" for name in deploy_policy.stale()]
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    gone = [s for s in stale_quotes() if len(s.found) == 0]
    for changed in rewrite():
        print(f"docs: updated {changed}")
    for stale in gone:
        print(stale.line())
    return 1 if gone else 0


if __name__ == "__main__":
    sys.exit(main())
