"""Promote Lambda: should THIS region become the Global Datastore's writer now? Thin handler.

Subscribed to the stack's promotion-trigger SNS topic, and woken directly by the probe state machine when
this region's replica reads a stale heartbeat. Parses the SNS-wrapped CloudWatch alarms (or the wake-up)
and decides once per notification (:class:`gdfailover.promote_service.PromoteService` holds the wiring:
clients, adapters, Idempotency on the SNS MessageId, the decision record).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from gdfailover.alarm import NotificationRejected, is_probe_wakeup, parse_sns_event
from gdfailover.config import PromoteSettings
from gdfailover.logs import json_log_line
from gdfailover.promote_service import PromoteService
from gdfailover.succession import SuccessionSettings

SETTINGS = PromoteSettings.from_env(os.environ)  # invalid configuration fails the cold start, naming it
SUCCESSION = SuccessionSettings.from_env(os.environ)
logger = Logger(json_serializer=json_log_line)
tracer = Tracer()
service = PromoteService.from_settings(SETTINGS, logger, Metrics(namespace=SETTINGS.metrics_namespace), SUCCESSION)


# No @metrics.log_metrics: the publisher flushes one EMF blob per decision, each with its own Decision.
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    invocation = service.begin(context)
    items = [service.wakeup(event, invocation)] if is_probe_wakeup(event) else parse_sns_event(event)
    results = [
        service.reject(item) if isinstance(item, NotificationRejected) else service.decide_once(item, invocation)
        for item in items
    ]
    return {"results": results}
