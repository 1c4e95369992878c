"""make calibrate on a pair in moto, its observations played back: probe EMF log lines whose datapoints
GetMetricData counts a known delay later, alarm history with evaluated datapoints, Route 53 checkers
with known observation ages; then make rto MEASURED=<its report> with the measured values in the model.
Answers moto cannot give come through botocore's before-call hook, validated against the real output
shapes (as in test_gameday)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.validate import ParamValidator

from tests.integration.test_gameday import _remember, deployed_pair
from tools import calibrate, rto

PROBE_EVERY_S = 15.0


@dataclass
class Observed:
    """A running pair as calibrate sees it: probes every 15 s, each counted ``emf_delay_s`` later."""

    start: datetime
    emf_delay_s: float = 12.0
    checker_age_s: float = 25.0
    alarm_lag_s: float = 70.0
    at: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.at = self.start

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)

    def probes(self) -> list[datetime]:
        first = self.start - timedelta(minutes=2)
        count = int((self.at - first).total_seconds() // PROBE_EVERY_S) + 1
        return [first + timedelta(seconds=PROBE_EVERY_S * index) for index in range(count)]

    def FilterLogEvents(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        events = [
            {
                "logStreamName": "2026/12/01/[$LATEST]probe",
                "timestamp": int(probe.timestamp() * 1000),
                "message": json.dumps(
                    {
                        "_aws": {"Timestamp": int(probe.timestamp() * 1000), "CloudWatchMetrics": []},
                        "ProbeLatency": 4.2,
                        "HealthCheckStatus": 1,
                    }
                ),
                "eventId": str(index),
            }
            for index, probe in enumerate(self.probes())
        ]
        events.append({"logStreamName": "x", "timestamp": 1, "message": "ProbeLatency is a word here", "eventId": "t"})
        return {"events": events}

    def GetMetricData(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        counted: dict[datetime, int] = {}
        for probe in self.probes():
            if (self.at - probe).total_seconds() >= self.emf_delay_s:
                minute = probe.replace(second=0, microsecond=0)
                counted[minute] = counted.get(minute, 0) + 1
        minutes = sorted(counted)
        return {
            "MetricDataResults": [
                {
                    "Id": params["MetricDataQueries"][0]["Id"],
                    "Timestamps": minutes,
                    "Values": [float(counted[m]) for m in minutes],
                    "StatusCode": "Complete",
                }
            ]
        }

    def DescribeAlarmHistory(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        evaluated = self.start - timedelta(hours=3)
        reason = {
            "version": "1.0",
            "queryDate": (evaluated + timedelta(seconds=65)).isoformat(),
            "startDate": evaluated.isoformat(),
            "period": 60,
            "recentDatapoints": [0.0],
            "threshold": 1.0,
            "evaluatedDatapoints": [{"timestamp": evaluated.isoformat(), "sampleCount": 4.0, "value": 0.0}],
        }
        history = {"oldState": {"stateValue": "OK"}, "newState": {"stateValue": "ALARM", "stateReasonData": reason}}
        high_res = json.loads(json.dumps(history))
        high_res["newState"]["stateReasonData"]["period"] = 30
        items = [
            {
                "AlarmName": params["AlarmName"],
                "Timestamp": evaluated + timedelta(seconds=60 + self.alarm_lag_s),
                "HistoryItemType": "StateUpdate",
                "HistorySummary": "Alarm updated from OK to ALARM",
                "HistoryData": json.dumps(history if "writer" in params["AlarmName"] else high_res),
            }
        ]
        return {"AlarmHistoryItems": items}

    def GetHealthCheckStatus(self, region: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "HealthCheckObservations": [
                {
                    "Region": "us-east-1",
                    "IPAddress": "15.177.0.1",
                    "StatusReport": {"Status": "Success", "CheckedTime": self.at - timedelta(seconds=age)},
                }
                for age in (5.0, self.checker_age_s)
            ]
        }

    def clients(self) -> Callable[[str, str], Any]:
        made: dict[tuple[str, str], Any] = {}
        scripted = {
            "logs": ["FilterLogEvents"],
            "cloudwatch": ["GetMetricData", "DescribeAlarmHistory"],
            "route53": ["GetHealthCheckStatus"],
        }

        def factory(service: str, region: str) -> Any:
            if (service, region) not in made:
                client = boto3.client(service, region_name=region)  # type: ignore[call-overload]
                client.meta.events.register(f"before-parameter-build.{service}", _remember)
                for operation in scripted.get(service, []):
                    client.meta.events.register(f"before-call.{service}.{operation}", self._handler(operation, region))
                made[service, region] = client
            return made[service, region]

        return factory

    def _handler(self, operation: str, region: str) -> Callable[..., Any]:
        def handle(model: Any, context: dict[str, Any], **_: Any) -> Any:
            response = getattr(self, operation)(region, context["test_params"])
            report = ParamValidator().validate(response, model.output_shape)
            assert not report.has_errors(), report.generate_report()
            return AWSResponse("", 200, HTTPHeaders(), None), response

        return handle


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Path]:
    with deployed_pair(tmp_path) as samconfig:
        yield samconfig


def run(samconfig: Path, observed: Observed, *argv: str) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = calibrate.main(
        ["--config-env", "primary", "--report-dir", str(samconfig.parent / "reports"), *argv],
        clients=observed.clients(),
        samconfig=samconfig,
        now=observed.now,
        sleep=observed.sleep,
        out=lines.append,
    )
    return code, lines


def test_calibrate_measures_the_emf_delay_the_alarm_lag_and_route53_and_rto_takes_them(pair: Path) -> None:
    observed = Observed(start=datetime.now(UTC).replace(microsecond=0))
    code, lines = run(pair, observed, "--minutes", "3", "--poll-seconds", "5")
    assert code == 0, lines
    (path,) = (pair.parent / "reports").glob("calibrate-primary-*.json")
    measured = json.loads(path.read_text(encoding="utf-8"))["measured"]
    # each probe is counted 12 s after it ran; polled every 5 s, the measurement is 12..17 s
    assert 12 <= measured["emf_delay_s"]["typical"] <= 17
    assert measured["emf_delay_s"]["worst"] <= 17
    assert measured["emf_delay_s"]["samples"] >= 2 * 10  # two regions, 3 minutes of probes every 15 s
    # the writer alarms' changes came 70 s after their datapoint's period; the 30 s trigger is left out
    assert measured["alarm_evaluation_lag_s"] == {
        "typical": 70.0,
        "worst": 70.0,
        "samples": 2,
        "how": "alarm history: newest evaluated datapoint's period end -> state change",
    }
    assert measured["route53_health_lag_s"]["worst"] == 25.0
    assert any(line.startswith("emf_delay_s: ") and "samples, median" in line for line in lines)

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert rto.main(["--measured", str(path)]) == 0
    text = out.getvalue()
    emf = measured["emf_delay_s"]
    assert f"  emf_delay_s: {emf['typical']:g} s typical, {emf['worst']:g} s worst  (was: EMF extraction" in text
    assert "  alarm_evaluation_lag_s: 70 s typical, 70 s worst" in text
    assert "still assumed: FailoverGlobalReplicationGroup until PRIMARY" in text
    model = rto.TimingModel.from_template(measured=rto.load_measured(path))
    assert model.emf_delay_s == (emf["typical"], emf["worst"])
    # the EMF delay moves the trigger alarm (the wake-up's backstop), not the wake-up itself
    assumed = rto.TimingModel.from_template()
    assert model.alarm_backstop()[0] - assumed.alarm_backstop()[0] == pytest.approx(emf["typical"] - 5.0)
    assert model.route53_lag_s == (measured["route53_health_lag_s"]["typical"], 25.0)


def test_datapoints_never_counted_leave_the_emf_delay_unmeasured(pair: Path) -> None:
    observed = Observed(start=datetime.now(UTC).replace(microsecond=0), emf_delay_s=10_000)
    code, lines = run(pair, observed, "--minutes", "1")
    assert code == 0, lines
    assert "emf_delay_s: not measured (no sample in the window)" in lines
    # two regions x 13 polls (every 5 s for a minute, both ends) x two checkers
    assert any(line.startswith("route53_health_lag_s: 52 samples, median") for line in lines), lines
    (path,) = (pair.parent / "reports").glob("calibrate-primary-*.json")
    assert "emf_delay_s" not in json.loads(path.read_text(encoding="utf-8"))["measured"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--minutes", "0"], "calibrate: MINUTES must be between 1 and 60"),
        (["--minutes", "five"], "calibrate: argument --minutes: invalid int value: 'five'"),
        (["--config-env", "nope"], "calibrate: samconfig.toml has no environment 'nope'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(pair: Path, argv: list[str], message: str) -> None:
    code, lines = run(pair, Observed(start=datetime.now(UTC)), *argv)
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith(message)
