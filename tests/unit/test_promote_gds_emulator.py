"""A Global Datastore emulator behind a *real* boto3 ElastiCache client (moto has no such APIs).

It hooks botocore's ``before-call`` event, as ``botocore.stub.Stubber`` does: every request is first
validated against the real API model (wrong parameter names or types raise ParamValidationError),
every response is validated against the output shape, and no HTTP request is made. Unlike Stubber
it is stateful and thread-safe, so concurrent invocations see one consistent datastore.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError, ParamValidationError
from botocore.validate import ParamValidator

from gdfailover.awscall import AwsCallError, ErrorKind
from gdfailover.clock import FakeClock
from gdfailover.elasticache import (
    ElastiCacheGlobalDatastores,
    ReplicationGroupActivity,
    WaitStatus,
    wait_until_primary,
)

GDS_ID = "ldgnf-my-gds"
PRIMARY_REGION, SECONDARY_REGION = "us-east-1", "us-west-2"
PRIMARY_RG, SECONDARY_RG = "my-gds-use1", "my-gds-usw2"


def _remember_api_params(params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
    context["emulator_api_params"] = dict(params)


@dataclass
class Call:
    region: str
    operation: str
    params: dict[str, Any]


@dataclass
class GdsEmulator:
    """One Global Datastore. ``roles`` maps replication group id -> (region, role)."""

    gds_id: str = GDS_ID
    status: str = "available"
    roles: dict[str, tuple[str, str]] = field(
        default_factory=lambda: {
            PRIMARY_RG: (PRIMARY_REGION, "PRIMARY"),
            SECONDARY_RG: (SECONDARY_REGION, "SECONDARY"),
        }
    )
    #: describes seen after a failover before the roles switch (status is "modifying" meanwhile)
    polls_until_switch: int = 1
    failover_never_completes: bool = False
    unreachable_regions: set[str] = field(default_factory=set)
    #: replication group id -> member status other than "associated" (e.g. "associating")
    member_statuses: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    #: replication group id -> status, and (date, source id, source type, message) events
    group_status: dict[str, str] = field(default_factory=dict)
    events: list[tuple[datetime, str, str, str]] = field(default_factory=list)
    _errors: dict[str, deque[tuple[str, str]]] = field(default_factory=dict)
    _pending: tuple[str, str] | None = None  # (new primary region, replication group) of a failover
    _polls_left: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, region: str) -> Any:
        client = boto3.client(
            "elasticache",
            region_name=region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}),  # no real-time backoff on emulated errors
        )
        self.attach(client)
        return client

    def attach(self, client: Any, only: str | None = None) -> None:
        """Answer every ElastiCache call of ``client``, or only operation ``only`` (the rest goes to moto)."""
        region = client.meta.region_name
        suffix = f".{only}" if only else ""
        # API parameters are only visible before serialization; the response is given after validation.
        client.meta.events.register(f"before-parameter-build.elasticache{suffix}", _remember_api_params)
        client.meta.events.register(
            f"before-call.elasticache{suffix}",
            lambda model, context, **kwargs: self._handle(region, model, context["emulator_api_params"]),
        )

    def fail_next(self, operation: str, code: str, message: str = "emulated", times: int = 1) -> None:
        with self._lock:
            self._errors.setdefault(operation, deque()).extend([(code, message)] * times)

    def operations(self, operation: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.operation == operation]

    @property
    def failover_calls(self) -> list[Call]:
        return self.operations("FailoverGlobalReplicationGroup")

    def _handle(self, region: str, model: Any, params: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
        with self._lock:
            self.calls.append(Call(region, model.name, dict(params)))
            if region in self.unreachable_regions:
                raise EndpointConnectionError(endpoint_url=f"https://elasticache.{region}.amazonaws.com/")
            queued = self._errors.get(model.name)
            if queued:
                code, message = queued.popleft()
                status = 403 if code.startswith("AccessDenied") else 400
                return AWSResponse("", status, HTTPHeaders(), None), {
                    "Error": {"Code": code, "Message": message},
                    "ResponseMetadata": {"HTTPStatusCode": status},
                }
            response = getattr(self, f"_op_{model.name}")(params)
        report = ParamValidator().validate(response, model.output_shape)
        assert not report.has_errors(), report.generate_report()
        return AWSResponse("", 200, HTTPHeaders(), None), response

    def _document(self) -> dict[str, Any]:
        return {
            "GlobalReplicationGroupId": self.gds_id,
            "Status": self.status,
            "Members": [
                {
                    "ReplicationGroupId": rg,
                    "ReplicationGroupRegion": region,
                    "Role": role,
                    "Status": self.member_statuses.get(rg, "associated"),
                }
                for rg, (region, role) in self.roles.items()
            ],
        }

    def _op_DescribeGlobalReplicationGroups(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("GlobalReplicationGroupId") not in (None, self.gds_id):
            return {"GlobalReplicationGroups": []}
        if self._pending is not None and not self.failover_never_completes:
            self._polls_left -= 1
            if self._polls_left < 0:
                _, new_rg = self._pending
                self.roles = {
                    rg: (region, "PRIMARY" if rg == new_rg else "SECONDARY") for rg, (region, _) in self.roles.items()
                }
                self.status, self._pending = "available", None
        return {"GlobalReplicationGroups": [self._document()]}

    def _op_FailoverGlobalReplicationGroup(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.status != "available":
            raise AssertionError("queue an InvalidGlobalReplicationGroupState error to test this")
        self._pending = (params["PrimaryRegion"], params["PrimaryReplicationGroupId"])
        self._polls_left = self.polls_until_switch
        self.status = "modifying"
        return {"GlobalReplicationGroup": self._document()}

    def _op_DescribeReplicationGroups(self, params: dict[str, Any]) -> dict[str, Any]:
        group = params["ReplicationGroupId"]
        return {
            "ReplicationGroups": [{"ReplicationGroupId": group, "Status": self.group_status.get(group, "available")}]
        }

    def _op_DescribeEvents(self, params: dict[str, Any]) -> dict[str, Any]:
        matching = [
            {"SourceIdentifier": source, "SourceType": kind, "Message": message, "Date": date}
            for date, source, kind, message in self.events
            if kind == params.get("SourceType")
            and params.get("SourceIdentifier") in (None, source)
            and date >= params.get("StartTime", date)
        ]
        return {"Events": matching}

    def _op_DisassociateGlobalReplicationGroup(self, params: dict[str, Any]) -> dict[str, Any]:
        self.roles.pop(params["ReplicationGroupId"], None)
        return {"GlobalReplicationGroup": self._document()}


def test_requests_are_validated_against_the_elasticache_model() -> None:
    client = GdsEmulator().client(SECONDARY_REGION)
    with pytest.raises(ParamValidationError):
        client.failover_global_replication_group(GlobalReplicationGroupId=GDS_ID, PrimaryRegion="us-west-2")


def test_failover_switches_roles_after_the_configured_number_of_polls() -> None:
    emulator = GdsEmulator(polls_until_switch=2)
    api = ElastiCacheGlobalDatastores(emulator.client(SECONDARY_REGION))
    api.failover(GDS_ID, SECONDARY_REGION, SECONDARY_RG)
    clock = FakeClock(start=datetime(2025, 5, 1, tzinfo=UTC))
    result = wait_until_primary(api, GDS_ID, SECONDARY_RG, clock=clock, timeout_seconds=60, interval_seconds=5)
    assert (result.status, result.polls, clock.slept) == (WaitStatus.PRIMARY, 3, [5, 5])
    assert emulator.failover_calls[0].params == {
        "GlobalReplicationGroupId": GDS_ID,
        "PrimaryRegion": SECONDARY_REGION,
        "PrimaryReplicationGroupId": SECONDARY_RG,
    }


def test_an_unreachable_region_surfaces_as_an_unreachable_call_error() -> None:
    emulator = GdsEmulator(unreachable_regions={PRIMARY_REGION})
    api = ElastiCacheGlobalDatastores(emulator.client(PRIMARY_REGION))
    with pytest.raises(AwsCallError) as raised:
        api.describe(GDS_ID)
    assert raised.value.kind == ErrorKind.UNREACHABLE


def test_in_region_failover_is_read_from_the_writer_regions_api() -> None:
    started = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    emulator = GdsEmulator(
        group_status={PRIMARY_RG: "modifying"},
        events=[
            (started, f"{PRIMARY_RG}-001", "cache-cluster", "Recovering cache nodes 0001"),
            (started, "some-other-group-001", "cache-cluster", "Failover from primary node x to replica node y"),
            (started, PRIMARY_RG, "replication-group", "Snapshot succeeded"),
        ],
    )
    api = ElastiCacheGlobalDatastores(emulator.client(PRIMARY_REGION))
    activity = api.replication_group_activity(PRIMARY_RG, since=started.replace(minute=0) - timedelta(minutes=5))
    assert activity.status == "modifying"
    assert activity.failover_events == ((started, "Recovering cache nodes 0001"),)
    assert (activity.in_progress, activity.failover_started) == (True, started)


def test_finished_recovery_ends_the_in_region_failover() -> None:
    started = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    activity = ReplicationGroupActivity(
        PRIMARY_RG,
        "available",
        (
            (started, "Recovering cache nodes 0001"),
            (started + timedelta(seconds=30), "Failover from primary node a-001 to replica node a-002 completed"),
            (started + timedelta(seconds=90), "Finished recovery for cache nodes 0001"),
        ),
    )
    assert (activity.in_progress, activity.failover_started) == (False, None)
