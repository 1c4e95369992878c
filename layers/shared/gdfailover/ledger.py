"""The promotion ledger: a DynamoDB latch that makes automatic promotion happen once per cooldown.

One item per Global Datastore (``id = promotion-latch#<global id>``). Taking the latch is a
conditional write that succeeds only when no latch exists or the previous one has expired, so of
any number of concurrent or redelivered invocations exactly one may call
FailoverGlobalReplicationGroup. The table layout (partition key ``id``, TTL attribute
``expiration``) is the one Powertools Idempotency uses, so both share the table.
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


def _latch_from_item(item: dict[str, Any]) -> Latch:
    return Latch(
        holder=item.get("holder", {}).get("S", "unknown"),
        taken_at=datetime.fromtimestamp(float(item.get("taken_at", {}).get("N", "0")), UTC),
        latched_until=datetime.fromtimestamp(float(item.get("latched_until", {}).get("N", "0")), UTC),
        outcome=item.get("outcome", {}).get("S", ""),
    )
