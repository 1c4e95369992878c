"""Bounded AWS calls and one classification of their failures, shared by every adapter.

A dead region must not stall the promoter: every client gets short connect/read timeouts and few
attempts, and every failure becomes an :class:`AwsCallError` whose ``kind`` the decision can reason
about (throttled and unreachable are transient; access denied is not).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

#: connect 1 s, read 2 s, 2 attempts in total: worst case about 6 s per call, whatever the region does.
BOUNDED_CONFIG = Config(
    connect_timeout=1,
    read_timeout=2,
    retries={"mode": "standard", "total_max_attempts": 2},
)

#: The promoter's synchronous Invoke of this region's probe function for a witness reading: a VPC function's
#: cold start takes seconds (ASSUMPTION: within 8 s), one attempt (the next evidence round is the retry).
INVOKE_CONFIG = Config(connect_timeout=1, read_timeout=8, retries={"mode": "standard", "total_max_attempts": 1})

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "PriorRequestNotComplete",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException"}
)
NOT_FOUND_CODES = frozenset(
    {"GlobalReplicationGroupNotFoundFault", "NoSuchHealthCheck", "ResourceNotFoundException", "NotFound"}
)
INVALID_STATE_CODES = frozenset({"InvalidGlobalReplicationGroupState", "InvalidReplicationGroupState"})


class ErrorKind(StrEnum):
    THROTTLED = "throttled"
    UNREACHABLE = "unreachable"
    ACCESS_DENIED = "access_denied"
    NOT_FOUND = "not_found"
    INVALID_STATE = "invalid_state"
    OTHER = "error"

    @property
    def transient(self) -> bool:
        return self in (ErrorKind.THROTTLED, ErrorKind.UNREACHABLE, ErrorKind.INVALID_STATE)


class AwsCallError(Exception):
    """An AWS call failed; ``kind`` says how, ``code`` is the service's error code when there is one."""

    def __init__(self, operation: str, kind: ErrorKind, code: str, message: str) -> None:
        super().__init__(f"{operation} failed ({kind}: {code}): {message}")
        self.operation = operation
        self.kind = kind
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"operation": self.operation, "kind": self.kind.value, "code": self.code}


def classify(operation: str, error: Exception) -> AwsCallError:
    """Map a botocore exception (or anything else an adapter raised) to an :class:`AwsCallError`."""
    if isinstance(error, AwsCallError):
        return error
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", "Unknown"))
        message = str(error.response.get("Error", {}).get("Message", ""))[:300]
        return AwsCallError(operation, _kind_of_code(code), code, message)
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return AwsCallError(operation, ErrorKind.UNREACHABLE, type(error).__name__, str(error)[:300])
    if isinstance(error, BotoCoreError):
        return AwsCallError(operation, ErrorKind.OTHER, type(error).__name__, str(error)[:300])
    return AwsCallError(operation, ErrorKind.OTHER, type(error).__name__, str(error)[:300])


def _kind_of_code(code: str) -> ErrorKind:
    if code in THROTTLING_CODES:
        return ErrorKind.THROTTLED
    if code in ACCESS_DENIED_CODES:
        return ErrorKind.ACCESS_DENIED
    if code in NOT_FOUND_CODES:
        return ErrorKind.NOT_FOUND
    if code in INVALID_STATE_CODES:
        return ErrorKind.INVALID_STATE
    return ErrorKind.OTHER


def call(operation: str, method: Any, **kwargs: Any) -> Any:
    """Run ``method(**kwargs)`` and turn any failure into an :class:`AwsCallError`."""
    try:
        return method(**kwargs)
    except Exception as error:
        raise classify(operation, error) from error
