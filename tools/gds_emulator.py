"""A Global Datastore emulator behind a *real* boto3 ElastiCache client (moto has no such APIs).

It hooks botocore's ``before-call`` event, as ``botocore.stub.Stubber`` does: every request is first
validated against the real API model (wrong parameter names or types raise ParamValidationError),
every response is validated against the output shape, and no HTTP request is made. Unlike Stubber
it is stateful and thread-safe, so concurrent invocations see one consistent datastore.

Used by the tests and by ``make invoke`` (tools/localaws.py).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from botocore.validate import ParamValidator

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
            aws_secret_access_key="testing",  # noqa: S106 - a placeholder: no request leaves the process
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
