"""Probe Lambda: is this region's Redis a healthy writer? Thin handler over gdfailover.probe."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from gdfailover.awscall import BOUNDED_CONFIG
from gdfailover.config import ProbeSettings
from gdfailover.credentials import powertools_secret_fetcher, secrets_manager_credentials
from gdfailover.logs import json_log_line
from gdfailover.probe import ProbeResult, run_probe, with_writer_witness
from gdfailover.redis_client import connect
from gdfailover.signals import DEFAULT_NAMESPACE, put_health_metric, record_probe
from gdfailover.witness import CHECK_SOURCE, WitnessResolver, valid_region

SETTINGS = ProbeSettings.from_env(os.environ)  # invalid configuration fails the cold start, naming the variable
logger = Logger(json_serializer=json_log_line)
tracer = Tracer()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE))
credentials = secrets_manager_credentials(SETTINGS.auth_secret_arn, powertools_secret_fetcher())
cloudwatch = boto3.client("cloudwatch", config=BOUNDED_CONFIG) if SETTINGS.metric_publisher == "api" else None
probe: Callable[..., ProbeResult] = run_probe  # the one primary endpoint ...
if SETTINGS.cluster_mode:  # ... or every shard (imported only then: the single-group cold start stays as it was)
    from gdfailover.cluster_probe import run_cluster_probe as probe
witness = (
    WitnessResolver(SETTINGS.witness_record_name, SETTINGS.witness_resolver) if SETTINGS.witness_record_name else None
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event, dict) and event.get("source") == CHECK_SOURCE:
        return _witness_check(event.get("region"))
    result = with_writer_witness(probe(SETTINGS, credentials, connect), witness)
    published = cloudwatch is not None and _put_health_metric(result)
    record_probe(metrics, result, include_health=not published)
    logger.info("probe result", extra={"probe": result.as_dict(), "trigger": _describe(event)})
    return result.as_dict()


def _witness_check(region: Any) -> dict[str, Any]:
    """The promoter's request (it is not in the VPC): resolve a region's witness record now."""
    if witness is None or not valid_region(region):
        why = "WITNESS_RECORD_NAME is not set" if witness is None else f"not a region: {str(region)[:40]!r}"
        logger.warning(f"witness check refused: {why}")
        return {"error": why}
    reading = witness.read(region).as_dict()
    logger.info("witness reading", extra={"witness": reading})
    return reading


def _put_health_metric(result: ProbeResult) -> bool:
    """PutMetricData path; on failure the EMF copy is used (a duplicate datapoint cannot change Minimum)."""
    try:
        put_health_metric(cloudwatch, metrics.namespace or DEFAULT_NAMESPACE, metrics.service or "", result)
    except Exception:
        logger.exception("PutMetricData failed; publishing HealthCheckStatus through EMF instead")
        return False
    return True


def _describe(event: Any) -> dict[str, Any]:
    """The state machine passes its execution name and iteration; anything else is just logged."""
    if not isinstance(event, dict):
        return {"unexpected_event_type": type(event).__name__}
    return {key: event[key] for key in ("execution", "iteration", "source") if key in event}
