"""ElastiCache Global Datastore adapter: describe (with members), failover, disassociate, poll.

:class:`GlobalDatastoreApi` is the interface the promoter depends on. :class:`ElastiCacheGlobalDatastores`
implements it on a boto3 ``elasticache`` client; the local drill implements the same three methods
on an emulator. :func:`wait_until_primary` works with either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from gdfailover.awscall import AwsCallError, ErrorKind, call
from gdfailover.clock import Clock

STATUS_AVAILABLE = "available"
STATUS_MODIFYING = "modifying"


class MemberRole(StrEnum):
    PRIMARY = "PRIMARY"
    SECONDARY = "SECONDARY"


@dataclass(frozen=True, slots=True)
class GlobalDatastoreMember:
    replication_group_id: str
    region: str
    role: str  # MemberRole value, kept as str so an unexpected role is reported rather than rejected
    status: str


@dataclass(frozen=True, slots=True)
class GlobalDatastore:
    global_replication_group_id: str
    status: str
    members: tuple[GlobalDatastoreMember, ...]

    def member(self, replication_group_id: str) -> GlobalDatastoreMember | None:
        return next((m for m in self.members if m.replication_group_id == replication_group_id), None)

    @property
    def primary(self) -> GlobalDatastoreMember | None:
        return next((m for m in self.members if m.role == MemberRole.PRIMARY), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.global_replication_group_id,
            "status": self.status,
            "members": [
                {"replication_group_id": m.replication_group_id, "region": m.region, "role": m.role}
                | {"status": m.status}
                for m in self.members
            ],
        }

    @classmethod
    def from_api(cls, document: Mapping[str, Any]) -> GlobalDatastore:
        return cls(
            global_replication_group_id=str(document.get("GlobalReplicationGroupId", "")),
            status=str(document.get("Status", "unknown")),
            members=tuple(
                GlobalDatastoreMember(
                    replication_group_id=str(member.get("ReplicationGroupId", "")),
                    region=str(member.get("ReplicationGroupRegion", "")),
                    role=str(member.get("Role", "unknown")).upper(),
                    status=str(member.get("Status", "unknown")),
                )
                for member in document.get("Members") or ()
            ),
        )


#: Event messages of an in-region (Multi-AZ) failover or node recovery, as ElastiCache words them
#: (TestFailover API reference: "Failover from primary node <id> to replica node <id> completed",
#: "Recovering cache nodes <id>", "Finished recovery for cache nodes <id>").
IN_REGION_FAILOVER_EVENT = re.compile(
    r"test failover api called|failover from (primary|master) node|failover to replica node|recovering cache nodes",
    re.I,
)
IN_REGION_RECOVERED_EVENT = re.compile(r"finished recovery for cache nodes", re.I)


@dataclass(frozen=True, slots=True)
class ReplicationGroupActivity:
    """What a replication group's own region says about it: status and recent failover events."""

    replication_group_id: str
    status: str
    failover_events: tuple[tuple[datetime, str], ...]  # oldest first

    @property
    def failover_started(self) -> datetime | None:
        """When the in-region failover that is still unresolved began (None: nothing in progress)."""
        started: datetime | None = None
        for when, message in self.failover_events:
            if IN_REGION_RECOVERED_EVENT.search(message):
                started = None
            elif IN_REGION_FAILOVER_EVENT.search(message) and started is None:
                started = when
        return started

    @property
    def in_progress(self) -> bool:
        return self.status == STATUS_MODIFYING or self.failover_started is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "replication_group_id": self.replication_group_id,
            "status": self.status,
            "failover_events": [f"{when.isoformat()} {message}" for when, message in self.failover_events],
        }


class GlobalDatastoreApi(Protocol):
    """What the promoter needs from ElastiCache (or from the drill's emulator).

    Every method raises :class:`gdfailover.awscall.AwsCallError` on failure.
    """

    def describe(self, global_replication_group_id: str) -> GlobalDatastore: ...

    def failover(
        self, global_replication_group_id: str, primary_region: str, primary_replication_group_id: str
    ) -> None: ...

    def disassociate(
        self, global_replication_group_id: str, replication_group_id: str, replication_group_region: str
    ) -> None: ...

    def replication_group_activity(self, replication_group_id: str, since: datetime) -> ReplicationGroupActivity: ...


class ElastiCacheGlobalDatastores:
    """:class:`GlobalDatastoreApi` on a boto3 ``elasticache`` client (build it with BOUNDED_CONFIG)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def describe(self, global_replication_group_id: str) -> GlobalDatastore:
        response = call(
            "DescribeGlobalReplicationGroups",
            self._client.describe_global_replication_groups,
            GlobalReplicationGroupId=global_replication_group_id,
            ShowMemberInfo=True,
        )
        groups = response.get("GlobalReplicationGroups") or []
        if not groups:
            raise AwsCallError(
                "DescribeGlobalReplicationGroups",
                ErrorKind.NOT_FOUND,
                "GlobalReplicationGroupNotFoundFault",
                f"{global_replication_group_id} not in the response",
            )
        return GlobalDatastore.from_api(groups[0])

    def failover(
        self, global_replication_group_id: str, primary_region: str, primary_replication_group_id: str
    ) -> None:
        call(
            "FailoverGlobalReplicationGroup",
            self._client.failover_global_replication_group,
            GlobalReplicationGroupId=global_replication_group_id,
            PrimaryRegion=primary_region,
            PrimaryReplicationGroupId=primary_replication_group_id,
        )

    def disassociate(
        self, global_replication_group_id: str, replication_group_id: str, replication_group_region: str
    ) -> None:
        call(
            "DisassociateGlobalReplicationGroup",
            self._client.disassociate_global_replication_group,
            GlobalReplicationGroupId=global_replication_group_id,
            ReplicationGroupId=replication_group_id,
            ReplicationGroupRegion=replication_group_region,
        )

    def replication_group_activity(self, replication_group_id: str, since: datetime) -> ReplicationGroupActivity:
        """DescribeReplicationGroups + DescribeEvents (this client's region): is a Multi-AZ failover running?"""
        groups = call(
            "DescribeReplicationGroups",
            self._client.describe_replication_groups,
            ReplicationGroupId=replication_group_id,
        ).get("ReplicationGroups") or [{}]
        events: list[tuple[datetime, str]] = []
        for source_type, source_id in (("replication-group", replication_group_id), ("cache-cluster", None)):
            kwargs: dict[str, Any] = {"SourceType": source_type, "StartTime": since, "MaxRecords": 100}
            if source_id is not None:
                kwargs["SourceIdentifier"] = source_id
            for event in call("DescribeEvents", self._client.describe_events, **kwargs).get("Events") or []:
                source = str(event.get("SourceIdentifier", ""))
                message = str(event.get("Message", ""))
                ours = source == replication_group_id or source.startswith(f"{replication_group_id}-")
                if ours and (IN_REGION_FAILOVER_EVENT.search(message) or IN_REGION_RECOVERED_EVENT.search(message)):
                    events.append((event["Date"], message))
        return ReplicationGroupActivity(
            replication_group_id, str(groups[0].get("Status", "unknown")), tuple(sorted(events))
        )


class WaitStatus(StrEnum):
    PRIMARY = "primary"  # this member is PRIMARY and the datastore is available again
    DETACHED = "detached"  # this group is no longer a member (after a break-glass disassociate)
    TIMED_OUT = "timed_out"


@dataclass(frozen=True, slots=True)
class WaitResult:
    status: WaitStatus
    waited_seconds: float
    polls: int
    last_seen: GlobalDatastore | None
    last_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "waited_seconds": round(self.waited_seconds, 1),
            "polls": self.polls,
            "last_seen": self.last_seen.as_dict() if self.last_seen else None,
            "last_error": self.last_error,
        }


def wait_until_primary(
    api: GlobalDatastoreApi,
    global_replication_group_id: str,
    replication_group_id: str,
    *,
    clock: Clock,
    timeout_seconds: float,
    interval_seconds: float = 5.0,
) -> WaitResult:
    """Poll until ``replication_group_id`` is the PRIMARY member (the datastore may still be modifying).

    No boto3 waiter exists for global datastores, hence this loop. It never waits past
    ``timeout_seconds``; describe errors during the failover are expected and only remembered.
    """
    return _poll(
        api,
        global_replication_group_id,
        replication_group_id,
        clock=clock,
        timeout_seconds=timeout_seconds,
        interval_seconds=interval_seconds,
    )


def wait_until_detached(
    api: GlobalDatastoreApi,
    global_replication_group_id: str,
    replication_group_id: str,
    *,
    clock: Clock,
    timeout_seconds: float,
    interval_seconds: float = 5.0,
) -> WaitResult:
    """Poll until ``replication_group_id`` has left the datastore (it is then a standalone writer)."""
    return _poll(
        api,
        global_replication_group_id,
        replication_group_id,
        clock=clock,
        timeout_seconds=timeout_seconds,
        interval_seconds=interval_seconds,
        want_detached=True,
    )


def _poll(
    api: GlobalDatastoreApi,
    global_replication_group_id: str,
    replication_group_id: str,
    *,
    clock: Clock,
    timeout_seconds: float,
    interval_seconds: float,
    want_detached: bool = False,
) -> WaitResult:
    started = clock.monotonic()
    polls = 0
    last_seen: GlobalDatastore | None = None
    last_error: str | None = None
    while True:
        polls += 1
        try:
            last_seen = api.describe(global_replication_group_id)
        except AwsCallError as error:
            if want_detached and error.kind == ErrorKind.NOT_FOUND:
                return WaitResult(WaitStatus.DETACHED, clock.monotonic() - started, polls, None)
            last_error = str(error)
        else:
            member = last_seen.member(replication_group_id)
            if want_detached and member is None:
                return WaitResult(WaitStatus.DETACHED, clock.monotonic() - started, polls, last_seen)
            if not want_detached and member is not None and member.role == MemberRole.PRIMARY:
                return WaitResult(WaitStatus.PRIMARY, clock.monotonic() - started, polls, last_seen)
        elapsed = clock.monotonic() - started
        if elapsed + interval_seconds > timeout_seconds:
            return WaitResult(WaitStatus.TIMED_OUT, elapsed, polls, last_seen, last_error)
        clock.sleep(interval_seconds)
