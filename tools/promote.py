"""make promote: a human promotes this region's replica when the promoter would not, with guards.

    python -m tools.promote --config-env <env> --confirm <account>:<datastore> --reason <text> [--dry-run]

For when the promoter refused (docs/runbook.md) and a human knows better, e.g. us-east-1 is gone and two
regions have no vantage outside both. It:

1. resolves the environment's stack, reads the promoter's own settings (its function's environment,
   GetFunctionConfiguration) and the caller (STS GetCallerIdentity); CONFIRM must name exactly this
   account and the stack's Global Datastore (else exit 2, nothing called that changes anything);
2. gathers the evidence exactly as the promoter does and prints it with the decision the promoter
   would take now on a fresh trigger (gdfailover.evidence / gdfailover.decision: current, not the last
   decision record, which may be minutes old or missing when the trigger path itself is broken);
3. refuses (exit 1, one line) unless this region's replica is healthy (a recent Reachable 1) and the
   datastore is promotable (available, this member a SECONDARY), and while a promotion latch is active;
4. otherwise does what an automatic promotion does (gdfailover.promoter.Promoter.act): takes the
   promotion latch, calls FailoverGlobalReplicationGroup in this region, announces the new writer
   (HealthCheckStatus 1), waits (bounded) until PRIMARY; then writes the same decision record, code
   ``manual-promote`` with who (the caller's ARN) and why (the reason), to the promote log group, the
   PromotionDecision metric and the operator topic.

Exit codes: 0 promoted (dry run: it would), 1 refused by a guard (nothing changed), 2 bad input, no
credentials, an AWS error, or a failover that was rejected or not confirmed within the wait.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from gdfailover.alarm import AlarmNotification
from gdfailover.awscall import BOUNDED_CONFIG, AwsCallError
from gdfailover.clock import Clock, SystemClock
from gdfailover.cloudwatch import Alarms, ProbeMetrics, WriterHealth
from gdfailover.config import ConfigError, PromoteSettings
from gdfailover.decision import (
    Decision,
    Outcome,
    Policy,
    _check_cooldown,  # the promoter's own checks, reused as the guards (same codes as the runbook)
    _check_datastore,
    _check_local_replica,
    decide,
)
from gdfailover.elasticache import ElastiCacheGlobalDatastores
from gdfailover.evidence import Evidence, EvidenceSources, gather_evidence
from gdfailover.ledger import PromotionLedger
from gdfailover.notify import OperatorTopic
from gdfailover.peers import RivalSources
from gdfailover.promote_service import observe_configured_rival
from gdfailover.promoter import DecisionPublisher, DecisionRecord, Promoter
from gdfailover.route53 import Route53HealthChecks
from gdfailover.signals import DIM_SERVICE
from gdfailover.succession import SuccessionSettings
from gdfailover.witness import LambdaWitness
from tools.awsclients import ClientFactory, describe_error
from tools.cfn import SAMCONFIG
from tools.operate import (
    USAGE_ERROR,
    LogGroupWriter,
    OneLineParser,
    OperatorError,
    Target,
    aws_clients,
    check_reason,
    load_env,
    parse_confirm,
    resolve_target,
)

REFUSED = 1
MANUAL_PROMOTE = "manual-promote"
#: the promoter's own bounded clients (connect 1 s, read 2 s) for everything the promotion touches
_BOUNDED_SERVICES = frozenset({"elasticache", "cloudwatch", "route53", "dynamodb", "sns", "logs"})


def main(
    argv: Sequence[str] | None = None,
    clients: ClientFactory | None = None,
    samconfig: Path = SAMCONFIG,
    clock: Clock | None = None,
) -> int:
    parser = OneLineParser(prog="make promote", description=__doc__.splitlines()[0])
    parser.add_argument("--config-env", required=True)
    parser.add_argument("--confirm", required=True, help="<account id>:<Global Datastore id>")
    parser.add_argument("--reason", required=True)
    parser.add_argument("--dry-run", action="store_true")
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:
        return USAGE_ERROR if done.code else 0
    clock = clock or SystemClock()
    try:
        reason = check_reason(args.reason)
        confirm = parse_confirm(args.confirm)
        env = load_env(args.config_env, samconfig)
        factory = clients or _bounded(aws_clients(None))
        target = resolve_target(env, factory)
        if confirm != (target.account_id, target.global_replication_group_id):
            raise OperatorError(
                f"CONFIRM={args.confirm} does not name this account and datastore: it is "
                f"{target.account_id}:{target.global_replication_group_id}"
            )
        settings, succession = promoter_settings(target, factory)
    except OperatorError as problem:
        print(f"make promote: {problem}: no change made", file=sys.stderr)
        return USAGE_ERROR
    return ManualPromotion(target, settings, succession, factory, clock=clock, reason=reason).run(dry_run=args.dry_run)


def _bounded(tool: ClientFactory) -> ClientFactory:
    import boto3

    @functools.cache
    def client(service: str, region: str) -> Any:
        if service not in _BOUNDED_SERVICES:
            return tool(service, region)
        return boto3.session.Session(region_name=region).client(service, config=BOUNDED_CONFIG)  # type: ignore[call-overload]

    return client


def promoter_settings(target: Target, clients: ClientFactory) -> tuple[PromoteSettings, SuccessionSettings]:
    """The promoter's own settings: its function's environment, as its cold start reads it."""
    name = target.stack.outputs.get("PromoteFunctionName") or f"{target.stack.name}-promote"
    try:
        config = clients("lambda", target.region).get_function_configuration(FunctionName=name)
    except Exception as failure:
        why = describe_error("GetFunctionConfiguration", failure)
        raise OperatorError(f"cannot read the promoter's settings: {why}") from None
    variables = {**(config.get("Environment") or {}).get("Variables", {}), "AWS_REGION": target.region}
    try:
        settings = PromoteSettings.from_env(variables)
        succession = SuccessionSettings.from_env(variables)
    except ConfigError as problem:
        raise OperatorError(f"the promoter {name} is misconfigured: {problem}") from None
    if settings.global_replication_group_id != target.global_replication_group_id:
        raise OperatorError(
            f"the promoter {name} protects {settings.global_replication_group_id}, "
            f"not {target.global_replication_group_id}"
        )
    return settings, succession


class ManualPromotion:
    def __init__(
        self,
        target: Target,
        settings: PromoteSettings,
        succession: SuccessionSettings,
        clients: ClientFactory,
        *,
        clock: Clock,
        reason: str,
    ) -> None:
        self.target, self.settings, self.clients, self.clock, self.reason = target, settings, clients, clock, reason
        self.policy = Policy.from_settings(settings, target.account_id, succession)
        region = settings.region
        self.datastores = ElastiCacheGlobalDatastores(clients("elasticache", region))
        self.ledger = PromotionLedger(clients("dynamodb", region), settings.ledger_table_name)
        namespace, service = settings.metrics_namespace, settings.service_name
        self.sources = EvidenceSources(
            datastores=self.datastores,
            peer_datastores=lambda peer: ElastiCacheGlobalDatastores(clients("elasticache", peer)),
            probe_metrics=ProbeMetrics(clients("cloudwatch", region), namespace, service),
            peer_alarms=lambda peer: Alarms(clients("cloudwatch", peer)),
            health_checks=Route53HealthChecks(clients("route53", region)),
            ledger=self.ledger,
            peer_probe_metrics=lambda peer: ProbeMetrics(clients("cloudwatch", peer), namespace, service),
            rival=functools.partial(
                observe_configured_rival,
                succession,
                RivalSources(
                    metrics=lambda peer: ProbeMetrics(clients("cloudwatch", peer), namespace, service),
                    ledger=lambda peer, table: PromotionLedger(clients("dynamodb", peer), table),
                ),
                settings.global_replication_group_id,
            ),
            pauses=self.ledger,
            # Route 53's witness, read now by this region's probe function in the VPC, as the promoter reads it
            witness=LambdaWitness(clients("lambda", region), name)
            if (name := settings.witness_function_name)
            else None,
        )

    def run(self, *, dry_run: bool) -> int:
        now = self.clock.now()
        notification = self.notification(now)
        evidence = gather_evidence(notification, self.settings, self.sources, self.clock)
        automatic = decide(evidence, self.policy)
        self.show(evidence, automatic)
        problem = self.guard(evidence)
        if problem is not None:
            code, why, exit_code = problem
            print(f"refused ({code}): {why}; no change made")
            return exit_code
        group, region = self.settings.replication_group_id, self.settings.region
        plan = (
            f"take the promotion latch (cooldown {self.settings.cooldown_minutes} min), "
            f"FailoverGlobalReplicationGroup(PrimaryRegion={region}, PrimaryReplicationGroupId={group}), "
            f"wait up to {self.settings.failover_wait_seconds} s for PRIMARY, write the decision record to "
            f"{self.target.promote_log_group} and notify {self.topic or 'nobody (no operator topic)'}"
        )
        if dry_run:
            print(f"dry run, would: {plan}; no change made")
            return 0
        print(f"promoting: {plan}")
        return self.promote(notification, evidence, automatic, now)

    @property
    def topic(self) -> str:
        """The operator topic: the promoter's OPERATOR_TOPIC_ARN, else the stack's OperatorTopicArn output."""
        return self.settings.operator_topic_arn or self.target.operator_topic_arn

    def notification(self, now: datetime) -> AlarmNotification:
        """What the promoter gets from its trigger, stamped now and signed by the caller."""
        settings, target = self.settings, self.target
        trigger = settings.trigger_alarm_names[0]
        return AlarmNotification(
            message_id=f"make promote by {target.caller_arn} at {now.isoformat()}",
            topic_arn="",
            alarm_name=trigger,
            account_id=target.account_id,
            new_state="ALARM",
            old_state="OK",
            state_change_time=now,
            reason=f"make promote by {target.caller_arn}: {self.reason}",
            alarm_arn=f"arn:aws:cloudwatch:{settings.region}:{target.account_id}:alarm:{trigger}",
            trigger={"manual": {"who": target.caller_arn, "why": self.reason}},
        )

    def show(self, evidence: Evidence, automatic: Decision) -> None:
        settings = self.settings
        print(
            f"make promote {settings.replication_group_id} in {settings.region} "
            f"({settings.global_replication_group_id}), by {self.target.caller_arn}: {self.reason}"
        )
        datastore = evidence.datastore
        if datastore is not None:
            members = ", ".join(f"{m.replication_group_id} ({m.region}) {m.role}" for m in datastore.members)
            print(f"  datastore: {datastore.status}; {members}")
        else:
            print(f"  datastore: not described ({evidence.datastore_failure})")
        local = evidence.local
        seen = f"at {local.observed_at.isoformat()}" if local.observed_at else f"no datapoint ({local.failure})"
        print(f"  this region's replica: Reachable {local.reachable} {seen}")
        for signal in evidence.writer_signals:
            print(f"  {signal.source}: {signal.vote.value}: {signal.detail}")
        print(f"  data-loss estimate: {evidence.lag.seconds} s ({evidence.lag.basis})")
        if evidence.latch is not None:
            print(f"  promotion latch: {evidence.latch.as_dict()}")
        if evidence.pause is not None and evidence.pause.active(evidence.gathered_at):
            pause = evidence.pause
            print(f"  automatic promotion paused until {pause.until.isoformat()} by {pause.who}: {pause.reason}")
        print(
            f"  the promoter would now: {automatic.outcome.value} ({automatic.code}): " + "; ".join(automatic.reasons)
        )

    def guard(self, evidence: Evidence) -> tuple[str, str, int] | None:
        """(code, why, exit code) when a human must not promote now either, else None."""
        if evidence.datastore is None:
            return "datastore-unavailable", f"cannot describe the Global Datastore: {evidence.datastore_failure}", 2
        if evidence.latch_failure is not None:
            return "ledger-unavailable", f"cannot read the promotion ledger: {evidence.latch_failure}", 2
        if evidence.local.failure is not None and evidence.local.reachable is None:
            return "local-health-unknown", f"cannot read this region's probe metrics: {evidence.local.failure}", 2
        for check in (_check_datastore, _check_cooldown, _check_local_replica):
            verdict = check(evidence, self.policy)
            if verdict is not None:
                return verdict.code, verdict.reasons[0], REFUSED
        return None

    def promote(self, notification: AlarmNotification, evidence: Evidence, automatic: Decision, now: datetime) -> int:
        settings, target = self.settings, self.target
        local = evidence.local
        decision = Decision(
            Outcome.PROMOTE,
            MANUAL_PROMOTE,
            (
                f"manual promotion by {target.caller_arn}: {self.reason}",
                f"this region's replica answers (Reachable {local.reachable:g} at "
                f"{local.observed_at.isoformat() if local.observed_at else '?'})",
                f"the promoter would have decided: {automatic.outcome.value} ({automatic.code})",
            ),
            act=True,
            rpo_seconds=evidence.lag.seconds,
        )
        namespace, service = settings.metrics_namespace, settings.service_name
        promoter = Promoter(
            # a human's promotion: the stack's mode (notify, dry-run) does not apply; break-glass never does
            settings=replace(settings, break_glass_disassociate=False),
            policy=replace(self.policy, mode="auto", break_glass_disassociate=False),
            sources=self.sources,
            datastores=self.datastores,
            ledger=self.ledger,
            clock=self.clock,
            writer_health=WriterHealth(self.clients("cloudwatch", settings.region), namespace, service),
        )
        started = self.clock.monotonic()
        deadline = started + settings.failover_wait_seconds + 30
        try:
            decision, action = promoter.act(notification, evidence, decision, deadline)
        except AwsCallError as error:  # Promoter.act records AWS failures; anything else is a bug, not hidden
            print(f"promotion failed: {error}")
            return USAGE_ERROR
        action |= {"by": target.caller_arn, "why": self.reason, "manual": True}
        record = DecisionRecord(
            settings=settings,
            decision=decision,
            evidence=evidence,
            attempts=1,
            hold_history=(),
            action=action,
            started_at=now,
            duration_ms=(self.clock.monotonic() - started) * 1000.0,
        )
        self.publish(record)
        print(f"result: {decision.outcome.value} ({decision.code}): {decision.reasons[-1]}")
        if decision.outcome == Outcome.PROMOTE and action.get("result") == "primary":
            return 0
        return REFUSED if decision.code == "cooldown" else USAGE_ERROR

    def publish(self, record: DecisionRecord) -> None:
        """The same record as an automatic promotion: a log line in the promote log group, PromotionDecision,
        the operator topic. A failure of any is a warning: the failover already happened."""
        settings, region = self.settings, self.settings.region

        def warn(message: str) -> None:
            print(f"warning: {message}", file=sys.stderr)

        writer = LogGroupWriter(
            self.clients("logs", region), self.target.promote_log_group, settings.service_name, warn, self.clock.now
        )

        def log(message: str, document: dict[str, Any]) -> None:
            writer.write(message, {"decision_record": document})

        topic = self.topic
        publisher = DecisionPublisher(
            log=log,
            metrics=DecisionMetric(
                self.clients("cloudwatch", region), settings.metrics_namespace, settings.service_name
            ),
            notifier=OperatorTopic(self.clients("sns", region), topic) if topic else None,
            warn=lambda message, extra: warn(f"{message}: {extra}"),
        )
        publisher.publish(record)


class DecisionMetric:
    """PromotionDecision with PutMetricData (the promoter writes it as EMF): Powertools' Metrics interface."""

    def __init__(self, client: Any, namespace: str, service: str) -> None:
        self._client, self._namespace = client, namespace
        self._dimensions = {DIM_SERVICE: service}
        self._pending: list[tuple[str, float]] = []

    def add_dimension(self, name: str, value: str) -> None:
        self._dimensions[name] = value

    def add_metric(self, name: str, unit: Any, value: float, resolution: Any = None) -> None:
        self._pending.append((name, value))

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        dimensions = [{"Name": name, "Value": value} for name, value in self._dimensions.items()]
        data = [{"MetricName": n, "Dimensions": dimensions, "Value": v, "Unit": "Count"} for n, v in self._pending]
        self._pending = []
        try:
            self._client.put_metric_data(Namespace=self._namespace, MetricData=data)
        except Exception as failure:
            print(
                f"warning: PromotionDecision not published: {describe_error('PutMetricData', failure)}", file=sys.stderr
            )


if __name__ == "__main__":
    sys.exit(main())
