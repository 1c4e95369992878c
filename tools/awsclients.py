"""AWS clients for the operator tools (deploy, preflight, verify): bounded, per region, injectable.

The tools run from a laptop or CI, not inside a failing region, so the bounds are looser than the
promoter's (``gdfailover.awscall.BOUNDED_CONFIG``) but still finite: no call waits for ever.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.config import Config

from gdfailover.awscall import AwsCallError, classify

#: connect 3 s, read 10 s, 3 attempts: worst case about 40 s for one call.
TOOL_CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 3})
#: Invoking the promoter waits for its decision: evidence calls plus, on a transient hold, its re-checks.
INVOKE_CONFIG = Config(connect_timeout=3, read_timeout=120, retries={"mode": "standard", "total_max_attempts": 1})

#: (service, region) -> a boto3 client. Tests pass moto or Stubber-backed clients.
ClientFactory = Callable[[str, str], Any]


def boto3_clients() -> ClientFactory:
    import boto3

    @functools.cache
    def session(region: str) -> Any:
        return boto3.session.Session(region_name=region)

    @functools.cache
    def client(service: str, region: str) -> Any:
        config = INVOKE_CONFIG if service == "lambda" else TOOL_CONFIG
        return session(region).client(service, config=config)

    return client


def describe_error(operation: str, error: Exception) -> str:
    """One line for any AWS failure: ``DescribeStacks failed (access_denied: AccessDenied): ...``."""
    operation = str(getattr(error, "operation_name", "") or operation)  # botocore's ClientError names it
    classified = error if isinstance(error, AwsCallError) else classify(operation, error)
    return " ".join(str(classified).split())


def is_missing_stack(error: Exception) -> bool:
    """CloudFormation answers a missing stack with ValidationError '... does not exist'."""
    classified = classify("DescribeStacks", error)
    return classified.code == "ValidationError" and "does not exist" in classified.message


@dataclass(frozen=True)
class StackView:
    """What DescribeStacks says about one regional stack."""

    name: str
    region: str
    status: str
    stack_id: str
    outputs: dict[str, str]
    parameters: dict[str, str]

    @property
    def account_id(self) -> str:
        return self.stack_id.split(":")[4] if self.stack_id.count(":") >= 5 else ""

    @property
    def usable(self) -> bool:
        """Created and not mid-change: its Outputs are what the resources are."""
        return self.status in USABLE_STACK_STATUSES


#: Stable states of a stack whose resources exist (a failed update rolls back to the previous ones).
USABLE_STACK_STATUSES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"})


def read_stack(clients: ClientFactory, stack_name: str, region: str) -> StackView | None:
    """The stack, or None when it does not exist. Other failures raise :class:`AwsCallError`."""
    try:
        response = clients("cloudformation", region).describe_stacks(StackName=stack_name)
    except Exception as error:
        if is_missing_stack(error):
            return None
        raise classify("DescribeStacks", error) from error
    stack = response["Stacks"][0]
    return StackView(
        name=stack_name,
        region=region,
        status=str(stack.get("StackStatus", "")),
        stack_id=str(stack.get("StackId", "")),
        outputs={str(o["OutputKey"]): str(o.get("OutputValue", "")) for o in stack.get("Outputs") or []},
        parameters={str(p["ParameterKey"]): str(p.get("ParameterValue", "")) for p in stack.get("Parameters") or []},
    )
