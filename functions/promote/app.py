"""Promote Lambda: should THIS region become the Global Datastore's writer now? Thin handler.

Subscribed to the stack's promotion-trigger SNS topic. Parses the SNS-wrapped CloudWatch alarm,
runs :class:`gdfailover.promoter.Promoter` once per notification (Powertools Idempotency on the SNS
MessageId makes redeliveries replay the recorded decision) and publishes the decision record.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
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
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from gdfailover.alarm import AlarmNotification, NotificationRejected, parse_sns_event
from gdfailover.awscall import BOUNDED_CONFIG
from gdfailover.clock import SystemClock
from gdfailover.cloudwatch import Alarms, ProbeMetrics, WriterHealth
from gdfailover.config import PromoteSettings
from gdfailover.decision import Policy
from gdfailover.elasticache import ElastiCacheGlobalDatastores, GlobalDatastoreMember
from gdfailover.evidence import AlarmReader, EvidenceSources
from gdfailover.ledger import PromotionLedger
from gdfailover.notify import OperatorTopic
from gdfailover.peers import RivalSources, boto3_rival_sources, observe_rival
from gdfailover.promoter import DecisionPublisher, Promoter
from gdfailover.route53 import Route53HealthChecks
from gdfailover.succession import RivalView, SuccessionSettings

#: Kept back from the Lambda timeout to write the decision record after the failover wait.
RECORD_RESERVE_SECONDS = 10.0
#: A redelivered notification older than this is stale for the decision anyway.
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600

SETTINGS = PromoteSettings.from_env(os.environ)  # invalid configuration fails the cold start, naming it
SUCCESSION = SuccessionSettings.from_env(os.environ)
logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=SETTINGS.metrics_namespace)
clock = SystemClock()

elasticache = boto3.client("elasticache", config=BOUNDED_CONFIG)
cloudwatch = boto3.client("cloudwatch", config=BOUNDED_CONFIG)
route53 = boto3.client("route53", config=BOUNDED_CONFIG)
dynamodb = boto3.client("dynamodb", config=BOUNDED_CONFIG)
sns = boto3.client("sns", config=BOUNDED_CONFIG) if SETTINGS.operator_topic_arn else None


@functools.cache
def peer_client(service: str, region: str) -> Any:
    """Clients for the writer's region, built once per region (it is only known from the datastore)."""
    return boto3.client(service, region_name=region, config=BOUNDED_CONFIG)  # type: ignore[call-overload]


def _peer_alarms(region: str) -> AlarmReader:
    return Alarms(peer_client("cloudwatch", region))


def _peer_probe_metrics(region: str) -> ProbeMetrics:
    return ProbeMetrics(peer_client("cloudwatch", region), SETTINGS.metrics_namespace, SETTINGS.service_name)


def _observe_rival(rivals: RivalSources, member: GlobalDatastoreMember, now: datetime) -> RivalView:
    peer = SUCCESSION.peer(member.replication_group_id)
    return observe_rival(member, peer, SETTINGS.global_replication_group_id, now, rivals)


def _peer_datastores(region: str) -> ElastiCacheGlobalDatastores:
    return ElastiCacheGlobalDatastores(peer_client("elasticache", region))


datastores = ElastiCacheGlobalDatastores(elasticache)
ledger = PromotionLedger(dynamodb, SETTINGS.ledger_table_name)
sources = EvidenceSources(
    datastores=datastores,
    peer_datastores=_peer_datastores,
    probe_metrics=ProbeMetrics(cloudwatch, SETTINGS.metrics_namespace, SETTINGS.service_name),
    peer_alarms=_peer_alarms,
    health_checks=Route53HealthChecks(route53),
    ledger=ledger,
    peer_probe_metrics=_peer_probe_metrics,
    rival=functools.partial(_observe_rival, boto3_rival_sources(SETTINGS.metrics_namespace, SETTINGS.service_name)),
)
publisher = DecisionPublisher(
    log=lambda message, record: logger.info(message, extra={"decision_record": record}),
    metrics=metrics,
    notifier=OperatorTopic(sns, SETTINGS.operator_topic_arn) if sns and SETTINGS.operator_topic_arn else None,
    warn=lambda message, extra: logger.warning(message, extra=extra),
)


def _mark_replayed(response: Any, data_record: DataRecord) -> Any:
    return {**response, "replayed": True} if isinstance(response, dict) else response


idempotency_config = IdempotencyConfig(
    event_key_jmespath="message_id",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
    response_hook=cast(IdempotentHookFunction, _mark_replayed),
)
persistence = DynamoDBPersistenceLayer(table_name=SETTINGS.ledger_table_name, boto3_client=dynamodb)


def _decide(notification: dict[str, Any], account_id: str, deadline: float) -> dict[str, Any]:
    promoter = Promoter(
        settings=SETTINGS,
        policy=Policy.from_settings(SETTINGS, account_id, SUCCESSION),
        sources=sources,
        datastores=datastores,
        ledger=ledger,
        clock=clock,
        writer_health=WriterHealth(cloudwatch, SETTINGS.metrics_namespace, SETTINGS.service_name),
    )
    record = promoter.run(AlarmNotification.from_dict(notification), deadline)
    return publisher.publish(record)


DecideFunction = Callable[..., dict[str, Any]]
decide_once = cast(
    DecideFunction,
    idempotent_function(data_keyword_argument="notification", persistence_store=persistence, config=idempotency_config)(
        _decide
    ),
)


# No @metrics.log_metrics: the publisher flushes one EMF blob per decision, each with its own Decision.
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency_config.register_lambda_context(context)
    account_id = SETTINGS.account_id or context.invoked_function_arn.split(":")[4]
    deadline = clock.monotonic() + context.get_remaining_time_in_millis() / 1000.0 - RECORD_RESERVE_SECONDS
    results = []
    for item in parse_sns_event(event):
        if isinstance(item, NotificationRejected):
            results.append(_reject(item))
        else:
            results.append(_handle(item, account_id, deadline))
    return {"results": results}


def _reject(rejected: NotificationRejected) -> dict[str, Any]:
    logger.warning(
        f"ignoring event, no action: {rejected.reason}",
        extra={"decision": "noop", "code": "rejected-input", "message_id": rejected.message_id},
    )
    publisher.count("noop")
    return {"decision": "noop", "code": "rejected-input", "reasons": [rejected.reason]}


def _handle(notification: AlarmNotification, account_id: str, deadline: float) -> dict[str, Any]:
    payload = notification.as_dict()
    try:
        record = decide_once(notification=payload, account_id=account_id, deadline=deadline)
    except IdempotencyAlreadyInProgressError:
        logger.warning(
            "duplicate delivery: another invocation is handling this notification, no action here",
            extra={
                "decision": "noop",
                "code": "duplicate-in-progress",
                "message_id": notification.message_id,
            },
        )
        return {"decision": "noop", "code": "duplicate-in-progress", "reasons": ["already in progress"]}
    except IdempotencyPersistenceLayerError:
        # The promotion latch (a separate conditional write) still guards the failover itself.
        logger.exception("idempotency store unavailable: deciding without it")
        record = _decide(notification=payload, account_id=account_id, deadline=deadline)
    if record.get("replayed"):
        logger.info(
            "duplicate delivery: this notification was already decided, no action",
            extra={
                "decision": record.get("decision"),
                "code": record.get("code"),
                "message_id": notification.message_id,
            },
        )
    return {key: record.get(key) for key in ("decision", "code", "reasons", "acted", "replayed") if key in record}
