"""make calibrate: measure on a running pair, read-only and without a fault, what make rto assumes.

    python -m tools.calibrate --config-env <env> [--peer <env>] [--minutes 5] [--poll-seconds 5]
        [--history-days 14] [--report-dir DIR]

- **EMF delay** (each region): every probe writes one EMF log line stamped with its probe time; the
  line's ``ProbeLatency`` datapoint is counted by GetMetricData (SampleCount of its minute) some time
  later. Polled every ``--poll-seconds`` for ``--minutes``: delay = first poll that counts the line -
  the line's EMF timestamp (an upper bound, at most one poll interval high). Lines already counted at the
  first poll are left out (when they became visible is unknown).
- **Alarm evaluation lag** (standard-resolution alarms of both stacks, last ``--history-days``): each
  state change in the alarm history names the datapoints it evaluated; lag = the change's timestamp -
  the end of the newest evaluated datapoint's period. It holds the metric delay and CloudWatch's wait for
  its next evaluation, the quantity make rto composes from the two.
- **Route 53's reaction** (each region's health check): the age of each checker's last observation
  (``GetHealthCheckStatus`` CheckedTime vs now) at every poll. Route 53 cannot follow a change of the
  alarm's data before its checkers look again, so this is the lower bound of its reaction (a proxy; a
  game day measures the real reaction: tools.gameday).

The report's ``measured`` object is what ``make rto MEASURED=<report.json>`` reads. Exit codes: 0
something measured, 1 nothing could be measured, 2 usage or AWS error.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from gdfailover.signals import DEFAULT_NAMESPACE, DIM_REPLICATION_GROUP, DIM_SERVICE, PROBE_LATENCY
from tools.awsclients import ClientFactory, StackView, boto3_clients, describe_error, read_stack
from tools.cfn import SAMCONFIG
from tools.checks import CHECK_FAILED, OK, USAGE_OR_AWS_ERROR
from tools.samconfig import SamConfig, SamConfigError

SERVICE = "gds-failover"
#: Defaults of --minutes, --poll-seconds and --history-days (docs/gameday.md quotes them).
CALIBRATE_MINUTES = 5
CALIBRATE_POLL_S = 5.0
CALIBRATE_HISTORY_DAYS = 14


class UsageError(Exception):
    """One line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


@dataclass(frozen=True)
class Region:
    env_name: str
    region: str
    stack: StackView

    @property
    def group(self) -> str:
        return self.stack.parameters.get("ReplicationGroupId", "")


@dataclass
class Samples:
    how: str
    values: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any] | None:
        if not self.values:
            return None
        return {
            "typical": round(statistics.median(self.values), 1),
            "worst": round(max(self.values), 1),
            "samples": len(self.values),
            "how": self.how,
        }

    def line(self, name: str) -> str:
        found = self.summary()
        if found is None:
            why = "; ".join(self.notes) or "no sample in the window"
            return f"{name}: not measured ({why})"
        return (
            f"{name}: {found['samples']} samples, median {found['typical']:g} s, worst {found['worst']:g} s "
            f"({self.how})"
        )


@dataclass
class EmfTracker:
    """Probe EMF lines of one region and when GetMetricData first counted each of them."""

    pending: dict[tuple[str, int], datetime] = field(default_factory=dict)  # (log stream, ts ms) -> probe time
    known: set[tuple[str, int]] = field(default_factory=set)
    first_poll: bool = True


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _Parser(prog="make calibrate", description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--config-env", required=True)
    parser.add_argument("--peer")
    parser.add_argument("--minutes", type=int, default=CALIBRATE_MINUTES)
    parser.add_argument("--poll-seconds", type=float, default=CALIBRATE_POLL_S)
    parser.add_argument("--history-days", type=int, default=CALIBRATE_HISTORY_DAYS)
    parser.add_argument("--report-dir", type=Path, default=Path("gameday-reports"))
    args = parser.parse_args(argv)
    if not 1 <= args.minutes <= 60:
        raise UsageError("MINUTES must be between 1 and 60")
    if not 1 <= args.poll_seconds <= 30:
        raise UsageError("--poll-seconds must be between 1 and 30")
    if not 1 <= args.history_days <= 30:
        raise UsageError("--history-days must be between 1 and 30 (CloudWatch keeps alarm history 30 days)")
    return args


def regions(config: SamConfig, env_name: str, peer_name: str | None, clients: ClientFactory) -> list[Region]:
    env = config.env(env_name)
    peer = config.peer(env, peer_name)
    found = []
    for member in [env] + ([peer] if peer else []):
        try:
            stack = read_stack(clients, member.stack_name, member.region)
        except Exception as failure:
            raise UsageError(describe_error("DescribeStacks", failure)) from None
        if stack is None:
            raise UsageError(f"{member.stack_name} is not deployed in {member.region}")
        found.append(Region(member.name, member.region, stack))
    return found


def _emf_lines(clients: ClientFactory, region: Region, since: datetime) -> list[tuple[str, int, datetime]]:
    """(log stream, EMF timestamp ms, probe time) of each probe EMF line that carries ProbeLatency."""
    log_group = f"/aws/lambda/{region.stack.outputs.get('ProbeFunctionName', '')}"
    pages = (
        clients("logs", region.region)
        .get_paginator("filter_log_events")
        .paginate(logGroupName=log_group, startTime=int(since.timestamp() * 1000), filterPattern=f'"{PROBE_LATENCY}"')
    )
    lines = []
    for page in pages:
        for event in page.get("events") or []:
            try:
                document = json.loads(str(event.get("message", "")))
                stamp = int(document["_aws"]["Timestamp"])
            except (ValueError, KeyError, TypeError):
                continue  # not an EMF line (a log line that mentions the metric)
            if PROBE_LATENCY in document:
                lines.append((str(event.get("logStreamName", "")), stamp, datetime.fromtimestamp(stamp / 1000, UTC)))
    return lines


def _sample_counts(clients: ClientFactory, region: Region, since: datetime, now: datetime) -> dict[datetime, float]:
    dimensions = [{"Name": DIM_SERVICE, "Value": SERVICE}, {"Name": DIM_REPLICATION_GROUP, "Value": region.group}]
    response = clients("cloudwatch", region.region).get_metric_data(
        MetricDataQueries=[
            {
                "Id": "count",
                "MetricStat": {
                    "Metric": {"Namespace": DEFAULT_NAMESPACE, "MetricName": PROBE_LATENCY, "Dimensions": dimensions},
                    "Period": 60,
                    "Stat": "SampleCount",
                },
            }
        ],
        StartTime=since.replace(second=0, microsecond=0),
        EndTime=now + timedelta(minutes=1),
    )
    counts: dict[datetime, float] = {}
    for result in response.get("MetricDataResults") or []:
        for stamp, value in zip(result.get("Timestamps") or [], result.get("Values") or [], strict=False):
            counts[stamp.astimezone(UTC).replace(second=0, microsecond=0)] = float(value)
    return counts


def poll_emf(
    clients: ClientFactory, region: Region, tracker: EmfTracker, since: datetime, now: datetime
) -> list[float]:
    """Delays of the lines GetMetricData counts now for the first time."""
    lines = _emf_lines(clients, region, since - timedelta(minutes=2))
    counts = _sample_counts(clients, region, since - timedelta(minutes=2), now)
    by_minute: dict[datetime, list[tuple[str, int, datetime]]] = {}
    for line in sorted(lines, key=lambda item: item[1]):
        by_minute.setdefault(line[2].replace(second=0, microsecond=0), []).append(line)
    delays = []
    for minute, in_minute in by_minute.items():
        counted = int(counts.get(minute, 0))
        for rank, (stream, stamp, probe_time) in enumerate(in_minute, start=1):
            key = (stream, stamp)
            visible = rank <= counted
            if key not in tracker.known:
                tracker.known.add(key)
                if visible and tracker.first_poll:
                    continue  # counted before we looked: when is unknown
                if not visible:
                    tracker.pending[key] = probe_time
                    continue
                delays.append((now - probe_time).total_seconds())
            elif key in tracker.pending and visible:
                delays.append((now - tracker.pending.pop(key)).total_seconds())
    tracker.first_poll = False
    return delays


def alarm_lags(clients: ClientFactory, region: Region, since: datetime) -> tuple[list[float], int]:
    """(lags of standard-resolution alarms' state changes, how many changes had no evaluated datapoint)."""
    cloudwatch = clients("cloudwatch", region.region)
    names = [region.stack.outputs.get("WriterAlarmName", ""), region.stack.outputs.get("PromotionTriggerAlarmName", "")]
    lags, without = [], 0
    for name in filter(None, names):
        pages = cloudwatch.get_paginator("describe_alarm_history").paginate(
            AlarmName=name, HistoryItemType="StateUpdate", StartDate=since, ScanBy="TimestampAscending"
        )
        for page in pages:
            for item in page.get("AlarmHistoryItems") or []:
                lag = _lag(item)
                if lag is None:
                    without += 1
                else:
                    lags.append(lag)
    return lags, without


def _lag(item: dict[str, Any]) -> float | None:
    """Seconds from the newest evaluated datapoint's period end to the state change (period >= 60 only)."""
    try:
        reason = json.loads(str(item.get("HistoryData") or "{}"))["newState"]["stateReasonData"]
        period = float(reason["period"])
        points = reason.get("evaluatedDatapoints") or []
        newest = max(datetime.fromisoformat(str(point["timestamp"]).replace("Z", "+00:00")) for point in points)
    except (ValueError, KeyError, TypeError):
        return None
    if period < 60:
        return None  # a high-resolution alarm: make rto models its evaluation separately
    changed: datetime = item["Timestamp"]
    return float((changed - (newest + timedelta(seconds=period))).total_seconds())


def checker_ages(clients: ClientFactory, region: Region, now: datetime) -> list[float]:
    response = clients("route53", region.region).get_health_check_status(
        HealthCheckId=region.stack.outputs.get("HealthCheckId", "")
    )
    ages = []
    for observation in response.get("HealthCheckObservations") or []:
        checked = (observation.get("StatusReport") or {}).get("CheckedTime")
        if isinstance(checked, datetime):
            ages.append(max(0.0, (now - checked).total_seconds()))
    return ages


def main(
    argv: Sequence[str] | None = None,
    *,
    clients: ClientFactory | None = None,
    samconfig: Path = SAMCONFIG,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    out: Callable[[str], None] = print,
) -> int:
    try:
        args = parse_args(argv)
        config = SamConfig.load(samconfig)
        env = config.env(args.config_env)
        clients = clients or boto3_clients()
        try:
            account = str(clients("sts", env.region).get_caller_identity()["Account"])
        except Exception as failure:
            raise UsageError(f"no usable AWS credentials: {describe_error('GetCallerIdentity', failure)}") from None
        pair = regions(config, args.config_env, args.peer, clients)
    except (UsageError, SamConfigError) as problem:
        out(f"calibrate: {problem}")
        return USAGE_OR_AWS_ERROR
    started = now()
    emf = Samples("probe EMF line -> its ProbeLatency datapoint counted by GetMetricData, upper bound")
    alarm = Samples("alarm history: newest evaluated datapoint's period end -> state change")
    route53 = Samples("age of Route 53 checkers' last observation: lower bound of its reaction (proxy)")
    out(f"calibrate {args.config_env} (account {account}): read-only, {args.minutes} min, no fault injected")
    for region in pair:
        try:
            lags, without = alarm_lags(clients, region, started - timedelta(days=args.history_days))
            alarm.values += lags
            if without:
                alarm.notes.append(f"{region.env_name}: {without} state change(s) without evaluated datapoints")
        except Exception as failure:
            alarm.notes.append(f"{region.env_name}: {describe_error('DescribeAlarmHistory', failure)}")
    trackers = {region.env_name: EmfTracker() for region in pair}
    deadline = started + timedelta(minutes=args.minutes)
    failed: set[str] = set()
    try:
        while True:
            moment = now()
            for region in pair:
                reads: tuple[tuple[str, Samples, Callable[[], list[float]]], ...] = (
                    ("EMF", emf, partial(poll_emf, clients, region, trackers[region.env_name], started, moment)),
                    ("Route 53", route53, partial(checker_ages, clients, region, moment)),
                )
                for what, samples, read in reads:
                    try:
                        samples.values += read()
                    except Exception as failure:
                        line = f"{region.env_name}: {describe_error(what, failure)}"
                        if line not in failed:
                            failed.add(line)
                            samples.notes.append(line)
            if moment >= deadline:
                break
            sleep(args.poll_seconds)
    except KeyboardInterrupt:
        out("calibrate: interrupted; reporting what was measured so far")
    results = {"emf_delay_s": emf, "alarm_evaluation_lag_s": alarm, "route53_health_lag_s": route53}
    for key, samples in results.items():
        out(samples.line(key))
    measured = {key: found for key, samples in results.items() if (found := samples.summary()) is not None}
    path = args.report_dir / f"calibrate-{args.config_env}-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "kind": "gds-failover calibrate",
        "account": account,
        "config_env": args.config_env,
        "started_at": started.isoformat(),
        "minutes": args.minutes,
        "poll_seconds": args.poll_seconds,
        "measured": measured,
        "notes": {key: samples.notes for key, samples in results.items() if samples.notes},
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    out(f"report: {path}; make rto MEASURED={path} puts the measured values in the model")
    return OK if measured else CHECK_FAILED


if __name__ == "__main__":
    sys.exit(main())
