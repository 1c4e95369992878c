"""The drill's printout: repeats folded for every region, the region on each alarm and promoter key entry,
and each handler logging as itself."""

from __future__ import annotations

import io
import json

from tools.drill.report import PROBE_COLOURS, _relative, fold_repeated_probes, key_label
from tools.drill.world import TimelineEvent


def probe(at: float, where: str, text: str) -> TimelineEvent:
    return TimelineEvent(at, "probe", where, text)


def test_identical_probes_fold_in_every_region_until_something_else_happens() -> None:
    timeline = [
        probe(1, "A", "healthy"),
        probe(2, "B", "read_only, age 8s"),
        probe(3, "A", "healthy"),
        probe(4, "B", "read_only, age 8s"),
        probe(5, "B", "read_only, age 8s"),
        TimelineEvent(6, "alarm", "B", "writer alarm OK -> ALARM"),
        probe(7, "B", "read_only, age 8s"),
        probe(8, "B", "read_only, age 23s"),
        probe(9, "B", "healthy"),
        probe(10, "B", "healthy"),
    ]
    folded = fold_repeated_probes(timeline)
    assert [(e.at, e.where, e.text) for e in folded] == [
        (1, "A", "healthy"),
        (2, "B", "read_only, age 8s"),
        (6, "B", "writer alarm OK -> ALARM"),
        (7, "B", "read_only, age 8s"),  # after the alarm: shown again
        (8, "B", "read_only, age 23s"),
        (9, "B", "healthy"),
    ]
    assert folded[0].details == ["(the same 1 more time(s), the last at {T3})"]
    assert folded[1].details == ["(the same 2 more time(s), the last at {T5})"]
    assert folded[5].details == ["(the same 1 more time(s), the last at {T10})"]
    assert _relative(folded[5].details[0], fault_at=4) == "(the same 1 more time(s), the last at T+6s)"
    assert timeline[0].details == []  # the result's own timeline is not changed


def test_the_key_names_the_region_of_alarms_and_promoter_entries() -> None:
    assert key_label(TimelineEvent(0, "alarm", "B", "writer alarm OK -> ALARM")) == "alarm B"
    assert key_label(TimelineEvent(0, "promoter", "C", "promote")) == "PROMOTER C"
    assert key_label(TimelineEvent(0, "client", "client", "write failed")) == "client"
    assert "green = healthy writer" in PROBE_COLOURS
    assert "blue = read-only replica" in PROBE_COLOURS


def test_two_handlers_of_one_service_log_as_themselves() -> None:
    """Powertools shares one logging.Logger per service in a process; the drill gives each its own."""
    from aws_lambda_powertools import Logger

    from tools.drill.lambdas import _own_logging_logger

    class Context:
        def __init__(self, name: str) -> None:
            self.function_name = name
            self.memory_limit_in_mb = 128
            self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
            self.aws_request_id = name

    streams = {name: io.StringIO() for name in ("probe", "promote")}
    loggers = {}
    for name, stream in streams.items():
        _own_logging_logger("drill-report-test")
        loggers[name] = Logger(service="drill-report-test", stream=stream)

    loggers["promote"].inject_lambda_context(lambda event, context: None)({}, Context("x-promote"))
    loggers["probe"].inject_lambda_context(lambda event, context: None)({}, Context("x-probe"))
    loggers["promote"].info("promotion decision")  # resumes after the probe ran, as an actor does
    (line,) = streams["promote"].getvalue().splitlines()
    assert json.loads(line)["function_name"] == "x-promote"
