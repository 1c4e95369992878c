"""The promotion ledger: a DynamoDB latch that makes automatic promotion happen once per cooldown.

One item per Global Datastore (``id = promotion-latch#<global id>``). Taking the latch is a
conditional write that succeeds only when no latch exists or the previous one has expired, so of
any number of concurrent or redelivered invocations exactly one may call
FailoverGlobalReplicationGroup. The table layout (partition key ``id``, TTL attribute
``expiration``) is the one Powertools Idempotency uses, so both share the table.

A second item, ``id = pause#<global id>``, pauses automatic promotion at runtime (``make pause`` /
``make resume``, tools/pause.py): who, why, until when. The promoter reads it with the latch and holds
``paused`` while it is active (gdfailover.decision); an expired pause is ignored, and TTL deletes it later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from gdfailover.awscall import AwsCallError, call

#: Keep an expired latch this long after its cooldown for post-incident inspection, then let TTL delete it.
RETENTION_AFTER_COOLDOWN = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Latch:
    holder: str  # the SNS MessageId of the invocation that took it
    taken_at: datetime
    latched_until: datetime
    outcome: str = ""

    def active(self, now: datetime) -> bool:
        return now < self.latched_until

    def as_dict(self) -> dict[str, Any]:
        return {
            "holder": self.holder,
            "taken_at": self.taken_at.isoformat(),
            "latched_until": self.latched_until.isoformat(),
            "outcome": self.outcome,
        }


@dataclass(frozen=True, slots=True)
class Pause:
    """An operator's runtime pause of automatic promotion (``make pause``)."""

    reason: str
    who: str  # the caller's ARN (STS GetCallerIdentity)
    paused_at: datetime
    until: datetime
    #: when the promoter paged the operator that it held for this pause (once per pause), if it did
    notified_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return now < self.until

    def as_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "who": self.who,
            "paused_at": self.paused_at.isoformat(),
            "until": self.until.isoformat(),
            "notified_at": self.notified_at.isoformat() if self.notified_at else None,
        }


@dataclass(frozen=True, slots=True)
class LatchAttempt:
    acquired: bool
    latch: Latch | None  # ours when acquired, else the one in the way


class LatchLedger(Protocol):
    """The promotion latch as the promoter and the switchover use it (PromotionLedger, or a test double)."""

    def read(self, global_replication_group_id: str) -> Latch | None: ...
    def acquire(
        self, global_replication_group_id: str, holder: str, now: datetime, cooldown: timedelta
    ) -> LatchAttempt: ...
    def release(self, global_replication_group_id: str, holder: str) -> None: ...
    def record_outcome(self, global_replication_group_id: str, holder: str, outcome: str) -> None: ...


class PromotionLedger:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @staticmethod
    def latch_key(global_replication_group_id: str) -> str:
        return f"promotion-latch#{global_replication_group_id}"

    def read(self, global_replication_group_id: str) -> Latch | None:
        response = call(
            "GetItem",
            self._client.get_item,
            TableName=self._table,
            Key={"id": {"S": self.latch_key(global_replication_group_id)}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _latch_from_item(item) if item else None

    def acquire(
        self, global_replication_group_id: str, holder: str, now: datetime, cooldown: timedelta
    ) -> LatchAttempt:
        until = now + cooldown
        try:
            call(
                "PutItem",
                self._client.put_item,
                TableName=self._table,
                Item={
                    "id": {"S": self.latch_key(global_replication_group_id)},
                    "holder": {"S": holder},
                    "taken_at": {"N": str(now.timestamp())},
                    "latched_until": {"N": str(until.timestamp())},
                    "outcome": {"S": "failover requested"},
                    "expiration": {"N": str(int((until + RETENTION_AFTER_COOLDOWN).timestamp()))},
                },
                ConditionExpression="attribute_not_exists(id) OR latched_until <= :now",
                ExpressionAttributeValues={":now": {"N": str(now.timestamp())}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except AwsCallError as error:
            if error.code != "ConditionalCheckFailedException":
                raise
            cause = error.__cause__
            old = getattr(cause, "response", {}).get("Item") if cause is not None else None
            return LatchAttempt(False, _latch_from_item(old) if old else self.read(global_replication_group_id))
        return LatchAttempt(True, Latch(holder, now, until))

    def release(self, global_replication_group_id: str, holder: str) -> None:
        """Give the latch back (only if still ours): the failover request never took effect."""
        try:
            call(
                "DeleteItem",
                self._client.delete_item,
                TableName=self._table,
                Key={"id": {"S": self.latch_key(global_replication_group_id)}},
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": {"S": holder}},
            )
        except AwsCallError as error:
            if error.code != "ConditionalCheckFailedException":
                raise

    def record_outcome(self, global_replication_group_id: str, holder: str, outcome: str) -> None:
        try:
            call(
                "UpdateItem",
                self._client.update_item,
                TableName=self._table,
                Key={"id": {"S": self.latch_key(global_replication_group_id)}},
                UpdateExpression="SET outcome = :outcome",
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":outcome": {"S": outcome[:500]}, ":holder": {"S": holder}},
            )
        except AwsCallError as error:
            if error.code != "ConditionalCheckFailedException":
                raise

    # --- the runtime pause (``pause#<global id>``) -------------------------------------------------------
    @staticmethod
    def pause_key(global_replication_group_id: str) -> str:
        return f"pause#{global_replication_group_id}"

    def read_pause(self, global_replication_group_id: str) -> Pause | None:
        """The pause item, active or expired (``Pause.active`` tells), or None."""
        response = call(
            "GetItem",
            self._client.get_item,
            TableName=self._table,
            Key={"id": {"S": self.pause_key(global_replication_group_id)}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _pause_from_item(item) if item else None

    def pause(self, global_replication_group_id: str, pause: Pause) -> Pause | None:
        """Pause automatic promotion (replacing any pause); returns the pause it replaced, if any."""
        response = call(
            "PutItem",
            self._client.put_item,
            TableName=self._table,
            Item={
                "id": {"S": self.pause_key(global_replication_group_id)},
                "reason": {"S": pause.reason},
                "who": {"S": pause.who},
                "paused_at": {"N": str(pause.paused_at.timestamp())},
                "until": {"N": str(pause.until.timestamp())},
                # TTL deletes it (within days of) a day after it expired; the promoter ignores it from `until`
                "expiration": {"N": str(int((pause.until + PAUSE_RETENTION).timestamp()))},
            },
            ReturnValues="ALL_OLD",
        )
        old = response.get("Attributes")
        return _pause_from_item(old) if old else None

    def resume(self, global_replication_group_id: str) -> Pause | None:
        """Remove the pause; returns the pause removed (active or expired), or None when there was none."""
        response = call(
            "DeleteItem",
            self._client.delete_item,
            TableName=self._table,
            Key={"id": {"S": self.pause_key(global_replication_group_id)}},
            ReturnValues="ALL_OLD",
        )
        old = response.get("Attributes")
        return _pause_from_item(old) if old else None

    def claim_pause_notice(self, global_replication_group_id: str, pause: Pause, now: datetime) -> bool:
        """True once per pause: the promoter pages about a pause the first time it holds for it."""
        try:
            call(
                "UpdateItem",
                self._client.update_item,
                TableName=self._table,
                Key={"id": {"S": self.pause_key(global_replication_group_id)}},
                UpdateExpression="SET notified_at = :now",
                ConditionExpression="paused_at = :paused_at AND attribute_not_exists(notified_at)",
                ExpressionAttributeValues={
                    ":now": {"N": str(now.timestamp())},
                    ":paused_at": {"N": str(pause.paused_at.timestamp())},
                },
            )
        except AwsCallError as error:
            if error.code != "ConditionalCheckFailedException":
                raise
            return False
        return True


#: An expired pause is kept this long for inspection, then TTL deletes it.
PAUSE_RETENTION = timedelta(days=1)


def _stamp(item: dict[str, Any], name: str) -> datetime | None:
    raw = item.get(name, {}).get("N")
    return datetime.fromtimestamp(float(raw), UTC) if raw is not None else None


def _pause_from_item(item: dict[str, Any]) -> Pause:
    return Pause(
        reason=item.get("reason", {}).get("S", ""),
        who=item.get("who", {}).get("S", "unknown"),
        paused_at=_stamp(item, "paused_at") or datetime.fromtimestamp(0, UTC),
        until=_stamp(item, "until") or datetime.fromtimestamp(0, UTC),
        notified_at=_stamp(item, "notified_at"),
    )


def _latch_from_item(item: dict[str, Any]) -> Latch:
    return Latch(
        holder=item.get("holder", {}).get("S", "unknown"),
        taken_at=datetime.fromtimestamp(float(item.get("taken_at", {}).get("N", "0")), UTC),
        latched_until=datetime.fromtimestamp(float(item.get("latched_until", {}).get("N", "0")), UTC),
        outcome=item.get("outcome", {}).get("S", ""),
    )
