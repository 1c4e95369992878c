"""PromoteFunction's composition: AWS clients, adapters, Idempotency and the decision publisher.

Built once per cold start by :meth:`PromoteService.from_settings`; the handler (functions/promote/app.py)
only parses the event, calls :meth:`PromoteService.decide_once` per notification and returns. Tests
and the drill replace ``clock``, ``datastores`` and ``sources`` on the instance: every run reads them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    IdempotentHookFunction,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from gdfailover.alarm import AlarmNotification, NotificationRejected, parse_probe_wakeup
from gdfailover.awscall import BOUNDED_CONFIG, INVOKE_CONFIG
from gdfailover.clock import Clock, SystemClock
from gdfailover.cloudwatch import Alarms, ProbeMetrics, WriterHealth, WriterHealthPublisher
from gdfailover.config import PromoteSettings
from gdfailover.decision import Policy
from gdfailover.elasticache import ElastiCacheGlobalDatastores, GlobalDatastoreApi, GlobalDatastoreMember
from gdfailover.evidence import EvidenceSources
from gdfailover.ledger import LatchLedger, PromotionLedger
from gdfailover.notify import OperatorTopic
from gdfailover.peers import RivalSources, boto3_rival_sources, observe_rival
from gdfailover.promoter import DecisionPublisher, DecisionRecord, Promoter
from gdfailover.route53 import Route53HealthChecks
from gdfailover.succession import RivalView, SuccessionSettings
from gdfailover.witness import LambdaWitness

#: Kept back from the Lambda timeout to write the decision record after the failover wait.
RECORD_RESERVE_SECONDS = 10.0
#: A redelivered notification older than this is stale for the decision anyway.
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
#: Idempotency records are ``promotion-decision#<hash of the SNS MessageId>`` in the ledger table.
IDEMPOTENCY_KEY_PREFIX = "promotion-decision"
#: The fields of a decision record the handler returns.
RESULT_KEYS = ("decision", "code", "reasons", "acted", "replayed")


@dataclass(frozen=True, slots=True)
class Invocation:
    """What one Lambda invocation contributes: whose alarms count and when the record must be written."""

    account_id: str
    deadline: float  # monotonic


@dataclass
class PromoteService:
    settings: PromoteSettings
    logger: Logger
    clock: Clock
    datastores: GlobalDatastoreApi
    sources: EvidenceSources
    ledger: LatchLedger
    publisher: DecisionPublisher
    persistence: BasePersistenceLayer
    writer_health: WriterHealthPublisher | None = None
    succession: SuccessionSettings = field(default_factory=SuccessionSettings)
    idempotency: IdempotencyConfig = field(init=False)
    _decide_once: Callable[..., dict[str, Any]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.idempotency = IdempotencyConfig(
            event_key_jmespath="message_id",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
            response_hook=cast(IdempotentHookFunction, _mark_replayed),
        )
        # Powertools hashes the dataclass (dataclasses.asdict) and hands the function the object itself.
        self._decide_once = idempotent_function(
            data_keyword_argument="notification",
            persistence_store=self.persistence,
            config=self.idempotency,
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        )(self._decide)

    @classmethod
    def from_settings(
        cls,
        settings: PromoteSettings,
        logger: Logger,
        metrics: Metrics,
        succession: SuccessionSettings | None = None,
    ) -> PromoteService:
        """Real AWS clients with bounded timeouts; peer-region clients are built on first use."""
        succession = succession or SuccessionSettings()
        dynamodb = boto3.client("dynamodb", config=BOUNDED_CONFIG)
        cloudwatch = boto3.client("cloudwatch", config=BOUNDED_CONFIG)
        namespace, service = settings.metrics_namespace, settings.service_name
        rivals = boto3_rival_sources(namespace, service)
        datastores = ElastiCacheGlobalDatastores(boto3.client("elasticache", config=BOUNDED_CONFIG))
        ledger = PromotionLedger(dynamodb, settings.ledger_table_name)
        notifier = None
        if settings.operator_topic_arn:
            notifier = OperatorTopic(boto3.client("sns", config=BOUNDED_CONFIG), settings.operator_topic_arn)
        return cls(
            settings=settings,
            logger=logger,
            clock=SystemClock(),
            datastores=datastores,
            sources=EvidenceSources(
                datastores=datastores,
                peer_datastores=lambda region: ElastiCacheGlobalDatastores(_peer_client("elasticache", region)),
                probe_metrics=ProbeMetrics(cloudwatch, namespace, service),
                peer_alarms=lambda region: Alarms(_peer_client("cloudwatch", region)),
                health_checks=Route53HealthChecks(boto3.client("route53", config=BOUNDED_CONFIG)),
                ledger=ledger,
                peer_probe_metrics=lambda region: ProbeMetrics(_peer_client("cloudwatch", region), namespace, service),
                rival=functools.partial(
                    observe_configured_rival, succession, rivals, settings.global_replication_group_id
                ),
                witness=(
                    LambdaWitness(boto3.client("lambda", config=INVOKE_CONFIG), name)
                    if (name := settings.witness_function_name)
                    else None
                ),
                pauses=ledger,
            ),
            ledger=ledger,
            publisher=DecisionPublisher(
                log=lambda message, record: logger.info(message, extra={"decision_record": record}),
                metrics=metrics,
                notifier=notifier,
                warn=lambda message, extra: logger.warning(message, extra=extra),
                pause_notice=functools.partial(first_pause_notice, ledger),
            ),
            persistence=DynamoDBPersistenceLayer(table_name=settings.ledger_table_name, boto3_client=dynamodb),
            writer_health=WriterHealth(cloudwatch, namespace, service),
            succession=succession,
        )

    def begin(self, context: LambdaContext) -> Invocation:
        self.idempotency.register_lambda_context(context)
        remaining = context.get_remaining_time_in_millis() / 1000.0
        return Invocation(
            account_id=self.settings.account_id or context.invoked_function_arn.split(":")[4],
            deadline=self.clock.monotonic() + remaining - RECORD_RESERVE_SECONDS,
        )

    def wakeup(self, event: Mapping[str, Any], invocation: Invocation) -> AlarmNotification | NotificationRejected:
        """The probe state machine's wake-up, as this region's own trigger alarm (the first name)."""
        return parse_probe_wakeup(
            event,
            trigger_alarm_name=self.settings.trigger_alarm_names[0],
            region=self.settings.region,
            account_id=invocation.account_id,
        )

    def reject(self, rejected: NotificationRejected) -> dict[str, Any]:
        self.logger.warning(
            f"ignoring event, no action: {rejected.reason}",
            extra={"decision": "noop", "code": "rejected-input", "message_id": rejected.message_id},
        )
        self.publisher.count("noop")
        return {"decision": "noop", "code": "rejected-input", "reasons": [rejected.reason]}

    def decide_once(self, notification: AlarmNotification, invocation: Invocation) -> dict[str, Any]:
        """One decision per SNS MessageId: a redelivery replays it, a concurrent duplicate does nothing."""
        try:
            record = self._decide_once(notification=notification, invocation=invocation)
        except IdempotencyAlreadyInProgressError:
            self.logger.warning(
                "duplicate delivery: another invocation is handling this notification, no action here",
                extra={"decision": "noop", "code": "duplicate-in-progress", "message_id": notification.message_id},
            )
            return {"decision": "noop", "code": "duplicate-in-progress", "reasons": ["already in progress"]}
        except IdempotencyPersistenceLayerError:
            # The promotion latch (a separate conditional write) still guards the failover itself.
            self.logger.exception("idempotency store unavailable: deciding without it")
            record = self._decide(notification=notification, invocation=invocation)
        if record.get("replayed"):
            self.logger.info(
                "duplicate delivery: this notification was already decided, no action",
                extra={
                    "decision": record.get("decision"),
                    "code": record.get("code"),
                    "message_id": notification.message_id,
                },
            )
        return {key: record[key] for key in RESULT_KEYS if key in record}

    def _decide(self, notification: AlarmNotification, invocation: Invocation) -> dict[str, Any]:
        promoter = Promoter(
            settings=self.settings,
            policy=Policy.from_settings(self.settings, invocation.account_id, self.succession),
            sources=self.sources,
            datastores=self.datastores,
            ledger=self.ledger,
            clock=self.clock,
            writer_health=self.writer_health,
        )
        return self.publisher.publish(promoter.run(notification, invocation.deadline))


def first_pause_notice(ledger: PromotionLedger, record: DecisionRecord) -> bool:
    """True the first time a decision holds for this pause (one page per pause)."""
    pause = record.evidence.pause
    if pause is None:
        return True
    return ledger.claim_pause_notice(record.settings.global_replication_group_id, pause, record.started_at)


def observe_configured_rival(
    succession: SuccessionSettings,
    rivals: RivalSources,
    global_replication_group_id: str,
    member: GlobalDatastoreMember,
    now: datetime,
) -> RivalView:
    """Three regions: the other secondary, read in its region (its SUCCESSION_PEERS entry names its ledger)."""
    peer = succession.peer(member.replication_group_id)
    return observe_rival(member, peer, global_replication_group_id, now, rivals)


@functools.cache
def _peer_client(service: str, region: str) -> Any:
    """Clients for the writer's region, built once per region (it is only known from the datastore)."""
    return boto3.client(service, region_name=region, config=BOUNDED_CONFIG)  # type: ignore[call-overload]


def _mark_replayed(response: Any, data_record: DataRecord) -> Any:
    return {**response, "replayed": True} if isinstance(response, dict) else response
