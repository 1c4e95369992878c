"""What the operator commands (make promote, make pause, make resume) share: the regional stack of a
samconfig environment, who is calling (STS GetCallerIdentity), input checked before any AWS call, the
decision record written where the promoter writes it, and one-line errors (exit 2) for bad input, no
credentials or an AWS failure, never a traceback and never a change in AWS.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from gdfailover.awscall import call
from tools.awsclients import ClientFactory, StackView, boto3_clients, describe_error, read_stack
from tools.samconfig import DeployEnv, SamConfig, SamConfigError

USAGE_ERROR = 2
#: A reason is a sentence for the decision record and the page: printable, one line, this long at most.
MAX_REASON = 200
#: CONFIRM=<12-digit account>:<Global Datastore id> (``/`` accepted too, as make gameday writes it).
_CONFIRM = re.compile(r"^(?P<account>[0-9]{12})[:/](?P<datastore>[A-Za-z0-9][A-Za-z0-9-]{0,254})$")


class OperatorError(Exception):
    """Bad input, no credentials or an AWS failure before anything changed: one line, exit 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit 2 (no usage block)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)


def check_reason(text: str | None) -> str:
    reason = (text or "").strip()
    if not reason:
        raise OperatorError("REASON is required: say why, in a few words (it goes into the record and the page)")
    if len(reason) > MAX_REASON:
        raise OperatorError(f"REASON is {len(reason)} characters: keep it to {MAX_REASON}")
    if not reason.isprintable():
        raise OperatorError("REASON must be one line of printable text (no control characters)")
    return reason


def parse_confirm(text: str | None) -> tuple[str, str]:
    """(account, Global Datastore id) from CONFIRM=<account>:<datastore>."""
    match = _CONFIRM.match(text or "")
    if match is None:
        shown = (text or "")[:80]
        raise OperatorError(f"CONFIRM={shown} is not <12-digit account id>:<Global Datastore id>")
    return match["account"], match["datastore"]


def no_credentials() -> bool:
    import boto3

    return boto3.session.Session().get_credentials() is None


NO_CREDENTIALS = "no AWS credentials found (environment, ~/.aws, SSO, instance role)"


@dataclass(frozen=True)
class Target:
    """One regional stack, as deployed, and who is asking."""

    env: DeployEnv
    stack: StackView
    account_id: str
    caller_arn: str

    @property
    def region(self) -> str:
        return self.env.region

    @property
    def global_replication_group_id(self) -> str:
        return self.stack.parameters.get("GlobalReplicationGroupId") or self.env.global_replication_group_id

    @property
    def replication_group_id(self) -> str:
        return self.stack.parameters.get("ReplicationGroupId") or self.env.overrides.get("ReplicationGroupId", "")

    @property
    def ledger_table(self) -> str:
        return self.stack.outputs.get("LedgerTableName", "")

    @property
    def operator_topic_arn(self) -> str:
        return self.stack.outputs.get("OperatorTopicArn", "")

    @property
    def promote_log_group(self) -> str:
        """template.yaml's PromoteLogGroup: /aws/lambda/<stack>-promote, where the promoter's records go."""
        return f"/aws/lambda/{self.stack.outputs.get('PromoteFunctionName') or self.stack.name + '-promote'}"


def load_env(config_env: str, samconfig: Path) -> DeployEnv:
    """The samconfig environment (no AWS call): checked before credentials and anything else."""
    try:
        return SamConfig.load(samconfig).env(config_env)
    except SamConfigError as problem:
        raise OperatorError(str(problem)) from None


def aws_clients(clients: ClientFactory | None) -> ClientFactory:
    """The injected clients, or boto3's when there are credentials (else OperatorError, nothing called)."""
    if clients is not None:
        return clients
    if no_credentials():
        raise OperatorError(NO_CREDENTIALS)
    return boto3_clients()


def resolve_target(env: DeployEnv, clients: ClientFactory) -> Target:
    """The environment's stack (DescribeStacks) and the caller (GetCallerIdentity); OperatorError when unusable."""
    try:
        identity = clients("sts", env.region).get_caller_identity()
    except Exception as failure:
        raise OperatorError(describe_error("GetCallerIdentity", failure)) from None
    try:
        stack = read_stack(clients, env.stack_name, env.region)
    except Exception as failure:
        raise OperatorError(f"cannot read {env.name}'s stack: {describe_error('DescribeStacks', failure)}") from None
    if stack is None:
        raise OperatorError(f"{env.stack_name} is not deployed in {env.region} (make deploy CONFIG_ENV={env.name})")
    target = Target(env, stack, str(identity["Account"]), str(identity["Arn"]))
    if not target.ledger_table or not target.global_replication_group_id:
        raise OperatorError(f"{env.name}'s stack {env.stack_name} in {env.region} has no LedgerTableName output")
    return target


@dataclass
class LogGroupWriter:
    """Writes JSON lines, shaped like the promoter's Powertools log lines, into the promote log group (a
    stream of its own per command), so the decision records of make promote and the pause and resume lines
    sit beside the automatic ones (Logs Insights, the dashboard's log widget). Failures are reported, not
    raised: the operator topic is the page."""

    client: Any
    log_group: str
    service: str
    warn: Callable[[str], None]
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _stream: str | None = None

    def write(self, message: str, extra: dict[str, Any]) -> bool:
        stamp = self.now()
        line = {"level": "INFO", "message": message, "service": self.service, "timestamp": stamp.isoformat()}
        try:
            if self._stream is None:
                stream = f"operator/{stamp:%Y/%m/%d}/{uuid.uuid4().hex}"
                call(
                    "CreateLogStream", self.client.create_log_stream, logGroupName=self.log_group, logStreamName=stream
                )
                self._stream = stream
            call(
                "PutLogEvents",
                self.client.put_log_events,
                logGroupName=self.log_group,
                logStreamName=self._stream,
                logEvents=[
                    {"timestamp": int(stamp.timestamp() * 1000), "message": json.dumps({**line, **extra}, default=str)}
                ],
            )
        except Exception as failure:
            self.warn(f"could not write to {self.log_group}: {describe_error('PutLogEvents', failure)}")
            return False
        return True
