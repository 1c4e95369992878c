"""Follow the real failover chain of a deployed pair: each poll reads every link once and records what
changed, with the time AWS gives for it (alarm history, log events, ElastiCache events) or, where AWS
gives none (metrics, Route 53, the datastore's status), the time this watcher first saw it.

Every read is bounded (tools.awsclients.TOOL_CONFIG) and a failed read is a note on the timeline, not
the end of the run: during a fault some reads are expected to fail.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from gdfailover.elasticache import IN_REGION_FAILOVER_EVENT, ElastiCacheGlobalDatastores
from gdfailover.route53 import Route53HealthChecks
from gdfailover.signals import (
    DEFAULT_NAMESPACE,
    DIM_REPLICATION_GROUP,
    DIM_SERVICE,
    HEALTH_CHECK_STATUS,
    HEARTBEAT_AGE,
    REACHABLE,
)
from gdfailover.witness import CHECK_SOURCE, UNHEALTHY, WitnessReading
from tools.awsclients import ClientFactory, StackView, describe_error

SERVICE = "gds-failover"
#: Metrics read per side: (query id, metric, statistic); the peer also reads HeartbeatAge.
PROBE_METRICS = (("health", HEALTH_CHECK_STATUS, "Minimum"), ("reachable", REACHABLE, "Minimum"))
DECISION_LOG_PATTERN = '"promotion decision"'


@dataclass(frozen=True)
class Side:
    """One regional stack of the pair, labelled as the drill labels regions (A = the writer at the start)."""

    label: str
    env_name: str
    region: str
    stack: StackView

    @property
    def group(self) -> str:
        return self.stack.parameters.get("ReplicationGroupId", "")

    @property
    def endpoint(self) -> str:
        return self.stack.parameters.get("RedisPrimaryEndpoint", "")

    def output(self, key: str) -> str:
        return self.stack.outputs.get(key, "")

    @property
    def promote_log_group(self) -> str:
        return f"/aws/lambda/{self.output('PromoteFunctionName')}"


@dataclass(frozen=True)
class ChainEvent:
    at: datetime
    kind: str  # fault | probe | alarm | dns | promoter | gds | note (the drill's kinds)
    where: str
    text: str
    details: tuple[str, ...] = ()
    #: "aws" when the time is AWS's own stamp, "seen" when it is this watcher's first sight
    clock: str = "seen"

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "kind": self.kind,
            "where": self.where,
            "text": self.text,
            "details": list(self.details),
            "clock": self.clock,
        }


@dataclass
class ChainState:
    """What the chain looks like now, for the experiment's end state and verdict."""

    writer: Side
    peer: Side
    now: datetime | None = None
    writer_group: str = ""
    dns_answer: str = ""
    peer_decisions: list[dict[str, Any]] = field(default_factory=list)
    in_region_failover_at: datetime | None = None
    experiment_status: str = ""
    fault_at: datetime | None = None
    #: first time each milestone was seen (tools.gameday.report names them)
    milestones: dict[str, datetime] = field(default_factory=dict)

    def mark(self, milestone: str, at: datetime) -> None:
        """The earliest sighting counts (an event stamped by AWS may arrive after a later poll saw it)."""
        if milestone not in self.milestones or at < self.milestones[milestone]:
            self.milestones[milestone] = at


class ChainWatcher:
    """Polls every link of the chain; :meth:`poll` returns the events new since the last poll."""

    def __init__(
        self,
        clients: ClientFactory,
        *,
        writer: Side,
        peer: Side,
        global_replication_group_id: str,
        experiment_id: str,
        since: datetime,
    ) -> None:
        self._clients = clients
        self.state = ChainState(writer=writer, peer=peer, writer_group=writer.group, dns_answer=writer.endpoint)
        self.global_replication_group_id = global_replication_group_id
        self._experiment_id = experiment_id
        self._since = since
        self._seen: set[tuple[Any, ...]] = set()
        self._last: dict[str, Any] = {}
        self._new: list[ChainEvent] = []
        self.events: list[ChainEvent] = []
        self.read_errors: list[str] = []

    # --- the poll ------------------------------------------------------------------------------------
    def poll(self, now: datetime) -> list[ChainEvent]:
        self.state.now = now
        sides = (self.state.writer, self.state.peer)
        reads: list[tuple[str, Callable[[], None]]] = [("FIS GetExperiment", partial(self._experiment, now))]
        for side in sides:
            reads += [
                (f"probe metrics {side.label}", partial(self._metrics, side, now)),
                (f"alarm history {side.label}", partial(self._alarm_history, side)),
                (f"decision records {side.label}", partial(self._decisions, side)),
                (f"ElastiCache events {side.label}", partial(self._elasticache_events, side)),
                (f"health check {side.label}", partial(self._health_check, side, now)),
            ]
        reads += [
            ("witness of A from B's VPC", partial(self._witness, now)),
            ("primary node A", partial(self._primary_node, now)),
            ("Global Datastore", partial(self._datastore, now)),
            ("record answer", partial(self._dns_answer, now)),
        ]
        for what, read in reads:
            try:
                read()
            except Exception as failure:  # one line on the timeline; the next poll tries again
                line = describe_error(what, failure)
                if self._once(("error", what, line.split(":")[0])):
                    self.read_errors.append(f"{what}: {line}")
                    self._emit(now, "note", "-", f"cannot read {what}: {line}")
        new, self._new = sorted(self._new, key=lambda event: event.at), []
        self.events = sorted([*self.events, *new], key=lambda event: event.at)
        return new

    # --- helpers --------------------------------------------------------------------------------------
    def _once(self, key: tuple[Any, ...]) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def _emit(
        self, at: datetime, kind: str, where: str, text: str, details: tuple[str, ...] = (), *, clock: str = "seen"
    ) -> None:
        self._new.append(ChainEvent(at, kind, where, text, details, clock))

    def _changed(self, key: str, value: Any) -> tuple[bool, Any]:
        previous = self._last.get(key, _UNSET)
        self._last[key] = value
        return previous is not _UNSET and previous != value, previous

    def _first(self, key: str, value: Any) -> tuple[bool, Any]:
        """(changed or first sight, previous value)."""
        previous = self._last.get(key, _UNSET)
        self._last[key] = value
        return previous != value, None if previous is _UNSET else previous

    # --- the links ------------------------------------------------------------------------------------
    def _experiment(self, now: datetime) -> None:
        writer = self.state.writer
        experiment = self._clients("fis", writer.region).get_experiment(id=self._experiment_id)["experiment"]
        state = experiment.get("state") or {}
        status = str(state.get("status", ""))
        self.state.experiment_status = status
        changed, _ = self._first("experiment", status)
        if changed:
            self._emit(now, "fault", writer.label, f"FIS experiment {status}: {state.get('reason', '')}".rstrip(": "))
        for name, action in (experiment.get("actions") or {}).items():
            started = action.get("startTime")
            if isinstance(started, datetime) and self._once(("action-start", name)):
                self.state.fault_at = self.state.fault_at or started
                self._emit(started, "fault", writer.label, f"FIS action {name} started", clock="aws")
            action_status = str((action.get("state") or {}).get("status", ""))
            changed, _ = self._first(f"action:{name}", action_status)
            if changed and action_status not in ("pending", "initiating", "running"):
                ended = action.get("endTime")
                at = ended if isinstance(ended, datetime) else now
                self._emit(at, "fault", writer.label, f"FIS action {name} {action_status}", clock="aws")
        if self.state.fault_at is None and status == "running":
            self.state.fault_at = now

    def _metrics(self, side: Side, now: datetime) -> None:
        dimensions = [{"Name": DIM_SERVICE, "Value": SERVICE}, {"Name": DIM_REPLICATION_GROUP, "Value": side.group}]
        wanted = list(PROBE_METRICS)
        if side is self.state.peer:
            wanted.append(("age", HEARTBEAT_AGE, "Maximum"))
        response = self._clients("cloudwatch", side.region).get_metric_data(
            MetricDataQueries=[
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {"Namespace": DEFAULT_NAMESPACE, "MetricName": name, "Dimensions": dimensions},
                        "Period": 60,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
                for query_id, name, stat in wanted
            ],
            StartTime=self._since - timedelta(minutes=3),
            EndTime=now,
            ScanBy="TimestampDescending",
        )
        names = {query_id: name for query_id, name, _ in wanted}
        for result in response.get("MetricDataResults") or []:
            values, stamps = result.get("Values") or [], result.get("Timestamps") or []
            if not values:
                continue
            name = names.get(str(result["Id"]), str(result["Id"]))
            value, stamp = float(values[0]), stamps[0]
            shown = round(value) if name == HEARTBEAT_AGE else value
            changed, previous = self._first(f"metric:{side.label}:{name}", shown)
            if changed:
                was = "" if previous is None else f"{previous:g} -> "
                minute = stamp.strftime("%H:%M") if isinstance(stamp, datetime) else "?"
                self._emit(now, "probe", side.label, f"{name} {was}{shown:g} (datapoint of {minute} UTC)")
            if name == HEALTH_CHECK_STATUS and value < 1 and side is self.state.writer:
                self.state.mark("writer_probe_fails", now)
            recovered = "writer_probe_fails" in self.state.milestones and side is self.state.writer
            if name == HEALTH_CHECK_STATUS and value >= 1 and recovered:
                self.state.mark("writer_probe_healthy_again", now)

    def _alarm_history(self, side: Side) -> None:
        cloudwatch = self._clients("cloudwatch", side.region)
        trigger = side.output("PromotionTriggerAlarmName")
        for alarm in (side.output("WriterAlarmName"), trigger):
            pages = cloudwatch.get_paginator("describe_alarm_history").paginate(
                AlarmName=alarm,
                HistoryItemType="StateUpdate",
                StartDate=self._since,
                ScanBy="TimestampAscending",
            )
            for page in pages:
                for item in page.get("AlarmHistoryItems") or []:
                    at = item["Timestamp"]
                    if not self._once(("alarm", alarm, at)):
                        continue
                    old, new = _states(item)
                    self._emit(at, "alarm", side.label, f"{alarm} {old} -> {new}", clock="aws")
                    if alarm == trigger and new == "ALARM" and side is self.state.peer:
                        self.state.mark("trigger_alarm", at)
                    if alarm != trigger and new == "ALARM" and side is self.state.writer:
                        self.state.mark("writer_alarm", at)

    def _decisions(self, side: Side) -> None:
        pages = (
            self._clients("logs", side.region)
            .get_paginator("filter_log_events")
            .paginate(
                logGroupName=side.promote_log_group,
                startTime=int(self._since.timestamp() * 1000),
                filterPattern=DECISION_LOG_PATTERN,
            )
        )
        for page in pages:
            for event in page.get("events") or []:
                if not self._once(("log", side.label, event.get("eventId"), event.get("timestamp"))):
                    continue
                record = _decision_record(str(event.get("message", "")))
                if record is None:
                    continue
                at = datetime.fromtimestamp(int(event["timestamp"]) / 1000, UTC)
                decision = str(record.get("decision"))
                acted = " acted" if record.get("acted") else ""
                text = f"{decision} ({record.get('code')}) mode={record.get('mode')}{acted}"
                reasons = tuple(str(reason) for reason in (record.get("reasons") or [])[:2])
                self._emit(at, "promoter", side.label, text, reasons, clock="aws")
                if side is self.state.peer:
                    self.state.peer_decisions.append({**record, "at": at.isoformat()})
                    if decision == "promote":
                        self.state.mark("decision", at)

    def _elasticache_events(self, side: Side) -> None:
        response = self._clients("elasticache", side.region).describe_events(
            SourceType="replication-group", SourceIdentifier=side.group, StartTime=self._since, MaxRecords=100
        )
        for event in sorted(response.get("Events") or [], key=lambda item: item["Date"]):
            message, at = str(event.get("Message", "")), event["Date"]
            if not self._once(("ec-event", side.label, at, message)):
                continue
            self._emit(at, "gds", side.label, f"ElastiCache event: {message}", clock="aws")
            if side is self.state.writer and IN_REGION_FAILOVER_EVENT.search(message):
                self._in_region_failover(at)

    def _in_region_failover(self, at: datetime) -> None:
        if self.state.in_region_failover_at is None or at < self.state.in_region_failover_at:
            self.state.in_region_failover_at = at
        self.state.mark("in_region_failover", at)

    def _primary_node(self, now: datetime) -> None:
        writer = self.state.writer
        group = self._clients("elasticache", writer.region).describe_replication_groups(
            ReplicationGroupId=writer.group
        )["ReplicationGroups"][0]
        primaries = sorted(
            f"{member.get('CacheClusterId')} ({member.get('PreferredAvailabilityZone', '?')})"
            for node_group in group.get("NodeGroups") or []
            for member in node_group.get("NodeGroupMembers") or []
            if member.get("CurrentRole") == "primary"
        )
        shown = ", ".join(primaries) or "none"
        changed, previous = self._changed("primary-node", shown)
        if changed:
            self._emit(now, "gds", writer.label, f"primary node {previous} -> {shown}")
            self._in_region_failover(now)

    def _datastore(self, now: datetime) -> None:
        # asked in the peer's region first: the writer's region is the one being broken
        failure: Exception | None = None
        for side in (self.state.peer, self.state.writer):
            try:
                datastore = ElastiCacheGlobalDatastores(self._clients("elasticache", side.region)).describe(
                    self.global_replication_group_id
                )
            except Exception as error:  # the other region may answer
                failure = error
                continue
            primary = datastore.primary
            group = primary.replication_group_id if primary else ""
            changed, _ = self._first("datastore", (datastore.status, group))
            if changed:
                self._emit(now, "gds", side.label, f"Global Datastore {datastore.status}, writer {group or 'none'}")
            if group:
                self.state.writer_group = group
                if group == self.state.peer.group:
                    self.state.mark("peer_is_writer", now)
            return
        if failure is not None:
            raise failure

    def _health_check(self, side: Side, now: datetime) -> None:
        view = Route53HealthChecks(self._clients("route53", side.region)).status(side.output("HealthCheckId"))
        verdict = {True: "healthy", False: "unhealthy", None: "no checker reported"}[view.healthy]
        changed, _ = self._first(f"health:{side.label}", view.healthy)
        if changed:
            self._emit(
                now, "dns", side.label, f"health check {verdict} ({view.healthy_checkers}/{view.checkers} checkers)"
            )
        if view.healthy is True and side is self.state.peer:
            self.state.mark("peer_healthy", now)
        if view.healthy is False and side is self.state.writer:
            self.state.mark("writer_unhealthy", now)

    def _witness(self, now: datetime) -> None:
        """A's witness record as B's promoter reads it: B's probe function resolves it in B's VPC."""
        writer, peer = self.state.writer, self.state.peer
        response = self._clients("lambda", peer.region).invoke(
            FunctionName=peer.output("ProbeFunctionName"),
            InvocationType="RequestResponse",
            Payload=json.dumps({"source": CHECK_SOURCE, "region": writer.region}).encode(),
        )
        reading = WitnessReading.from_dict(json.loads(response["Payload"].read() or b"null"))
        if reading is None:
            raise ValueError(f"{peer.output('ProbeFunctionName')} answered no witness reading (an older stack?)")
        changed, _ = self._first("witness", reading.answer)
        if changed:
            self._emit(now, "dns", "A", f"A's witness in B's VPC: {reading.answer or 'no answer'} ({reading.detail})")
        if reading.answer == UNHEALTHY:
            self.state.mark("witness_unhealthy", now)

    def _dns_answer(self, now: datetime) -> None:
        from tools.verify import _failover_answer  # the one place Route 53's failover rule is derived

        writer = self.state.writer
        route53 = self._clients("route53", writer.region)
        zone_id, record = writer.output("HostedZoneId"), writer.output("RecordName")
        zone = route53.get_hosted_zone(Id=zone_id)
        if (zone["HostedZone"].get("Config") or {}).get("PrivateZone"):
            answer, _ = _failover_answer(route53, zone_id, record)
        else:
            response = route53.test_dns_answer(HostedZoneId=zone_id, RecordName=record, RecordType="CNAME")
            answer = (response.get("RecordData") or [""])[0]
        answer = answer.rstrip(".")
        self.state.dns_answer = answer
        changed, _ = self._first("dns", answer)
        if changed:
            label = {writer.endpoint: "A", self.state.peer.endpoint: "B"}.get(answer, "?")
            self._emit(now, "dns", label, f"{record} answers {answer or 'nothing'}")
        if answer and answer == self.state.peer.endpoint:
            self.state.mark("dns_on_peer", now)


_UNSET = object()


def _states(item: dict[str, Any]) -> tuple[str, str]:
    """(old, new) state of an alarm history StateUpdate item (HistoryData is a JSON document)."""
    try:
        data = json.loads(str(item.get("HistoryData") or "{}"))
        return str(data["oldState"]["stateValue"]), str(data["newState"]["stateValue"])
    except (ValueError, KeyError, TypeError):
        summary = str(item.get("HistorySummary", ""))  # "Alarm updated from OK to ALARM"
        words = summary.split()
        return (words[-3], words[-1]) if len(words) >= 3 and words[-2] == "to" else ("?", "?")


def _decision_record(message: str) -> dict[str, Any] | None:
    """The decision record of a promoter log line (Powertools JSON: ``decision_record`` key)."""
    try:
        document = json.loads(message)
    except ValueError:
        return None
    record = document.get("decision_record") if isinstance(document, dict) else None
    return record if isinstance(record, dict) else None
