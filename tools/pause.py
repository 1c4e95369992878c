"""make pause / make resume: pause automatic promotion in one region at runtime, no redeploy.

    python -m tools.pause pause --config-env <env> --reason <text> [--minutes 60]   (make pause)
    python -m tools.pause resume --config-env <env>                                 (make resume)

The pause is an item in the environment's stack's ledger table (``pause#<Global Datastore id>``: reason,
who (the caller's ARN), until; the table's TTL attribute deletes it a day after it expired). That
region's promoter reads it with its latch and holds ``paused`` instead of promoting (docs/runbook.md);
it pages once per pause. A pause is per region: the promoter that acts is the one in the region that
would become the writer, so pause the secondary (or each secondary). A new pause replaces the old one.
Pause and resume are also written to the promote log group and sent to the operator topic (when the
stack has one), and a pause's expiry pages too: a one-time EventBridge Scheduler schedule
(``<stack>-pause-expiry``, deleted after it runs) publishes to the operator topic as the stack's
``PauseExpiryRoleArn`` when the pause ends; a resume or a new pause replaces it. Exit codes: 0 done, 2 bad
input, no credentials or an AWS error (nothing changed).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gdfailover.ledger import Pause, PromotionLedger
from gdfailover.notify import OperatorTopic
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
    resolve_target,
)

DEFAULT_MINUTES = 60
MAX_MINUTES = 7 * 24 * 60
#: EventBridge Scheduler's universal target for SNS Publish (the message gets a subject, unlike the templated one)
SNS_PUBLISH_TARGET = "arn:aws:scheduler:::aws-sdk:sns:publish"


def parse_minutes(text: str | None) -> int:
    raw = (text or "").strip() or str(DEFAULT_MINUTES)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_MINUTES:
        raise OperatorError(f"MINUTES={raw[:40]} must be a whole number of minutes from 1 to {MAX_MINUTES} (7 days)")
    return int(raw)


def main(
    argv: Sequence[str] | None = None,
    clients: ClientFactory | None = None,
    samconfig: Path = SAMCONFIG,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    parser = OneLineParser(prog="make pause/resume", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("pause", "resume"))
    parser.add_argument("--config-env", required=True)
    parser.add_argument("--reason")
    parser.add_argument("--minutes")
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0) or a usage error, already said in one line (2)
        return USAGE_ERROR if done.code else 0
    try:
        reason = check_reason(args.reason) if args.action == "pause" else ""
        minutes = parse_minutes(args.minutes) if args.action == "pause" else 0
        env = load_env(args.config_env, samconfig)
        factory = aws_clients(clients)
        target = resolve_target(env, factory)
        ledger = PromotionLedger(factory("dynamodb", target.region), target.ledger_table)
        if args.action == "pause":
            line, extra = _pause(target, ledger, reason, minutes, now())
        else:
            line, extra = _resume(target, ledger)
    except OperatorError as problem:
        print(f"make {args.action}: {problem}: no change made", file=sys.stderr)
        return USAGE_ERROR
    print(line)
    _tell(target, factory, args.action, line, extra, now=now)
    _schedule_expiry_page(target, factory, extra.get("pause") if args.action == "pause" else None)
    return 0


def expiry_schedule_name(target: Target) -> str:
    return f"{target.stack.name}-pause-expiry"[:64]


def _schedule_expiry_page(target: Target, clients: ClientFactory, pause: dict[str, Any] | None) -> None:
    """Replace the stack's expiry schedule: one for this pause (None: a resume, no schedule). A failure is
    a warning: the pause itself holds, only its expiry will not page."""
    role = target.stack.outputs.get("PauseExpiryRoleArn", "")
    if not target.operator_topic_arn or not role:
        return
    scheduler = clients("scheduler", target.region)
    name = expiry_schedule_name(target)
    try:
        with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
            scheduler.delete_schedule(Name=name)
        if pause is None:
            return
        until = datetime.fromisoformat(pause["until"]).astimezone(UTC)
        where = f"{target.replication_group_id} ({target.region})"
        message = {
            "operator_action": "pause-expired",
            "pause": pause,
            "text": f"the pause of automatic promotion by {where} expired: the promoter acts on its own again",
        }
        scheduler.create_schedule(
            Name=name,
            Description=f"make pause: page the operators when the pause of {where} expires",
            ScheduleExpression=f"at({until.strftime('%Y-%m-%dT%H:%M:%S')})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            ActionAfterCompletion="DELETE",
            Target={
                "Arn": SNS_PUBLISH_TARGET,
                "RoleArn": role,
                "Input": json.dumps(
                    {
                        "TopicArn": target.operator_topic_arn,
                        "Subject": f"gds-failover PAUSE EXPIRED for {where}"[:100],
                        "Message": json.dumps(message),
                    }
                ),
                "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10},
            },
        )
    except Exception as failure:
        what = "CreateSchedule" if pause is not None else "DeleteSchedule"
        print(f"warning: the pause's expiry will not page: {describe_error(what, failure)}", file=sys.stderr)


def _pause(
    target: Target, ledger: PromotionLedger, reason: str, minutes: int, now: datetime
) -> tuple[str, dict[str, Any]]:
    pause = Pause(reason, target.caller_arn, now, now + timedelta(minutes=minutes))
    try:
        replaced = ledger.pause(target.global_replication_group_id, pause)
    except Exception as failure:
        raise OperatorError(describe_error("PutItem", failure)) from None
    where = f"{target.replication_group_id} in {target.region}"
    line = (
        f"paused automatic promotion of {target.global_replication_group_id} by {where} until "
        f"{pause.until.isoformat()} ({minutes} min), by {pause.who}: {reason}"
    )
    if replaced is not None and replaced.active(now):
        line += f" (replaces the pause by {replaced.who} until {replaced.until.isoformat()})"
    return line, {"pause": pause.as_dict(), "replaced": replaced.as_dict() if replaced else None}


def _resume(target: Target, ledger: PromotionLedger) -> tuple[str, dict[str, Any]]:
    try:
        removed = ledger.resume(target.global_replication_group_id)
    except Exception as failure:
        raise OperatorError(describe_error("DeleteItem", failure)) from None
    where = f"{target.replication_group_id} in {target.region}"
    if removed is None:
        return f"automatic promotion by {where} was not paused: nothing to resume", {"removed": None}
    return (
        f"resumed automatic promotion by {where} (removed the pause by {removed.who} until "
        f"{removed.until.isoformat()}: {removed.reason}), by {target.caller_arn}",
        {"removed": removed.as_dict()},
    )


def _tell(
    target: Target,
    clients: ClientFactory,
    action: str,
    line: str,
    extra: dict[str, Any],
    *,
    now: Callable[[], datetime],
) -> None:
    """The promote log group and the operator topic hear of it; a failure there is a warning, not an error."""

    def warn(message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)

    record = {"operator_action": action, "who": target.caller_arn, "region": target.region, **extra}
    writer = LogGroupWriter(clients("logs", target.region), target.promote_log_group, "gds-failover", warn, now)
    writer.write(f"operator {action}: {line}", record)
    if target.operator_topic_arn:
        subject = (
            f"gds-failover {action.upper()}D automatic promotion by {target.replication_group_id} ({target.region})"
        )
        try:
            OperatorTopic(clients("sns", target.region), target.operator_topic_arn).publish(subject, record)
        except Exception as failure:
            warn(f"operator topic not told: {describe_error('Publish', failure)}")


if __name__ == "__main__":
    sys.exit(main())
