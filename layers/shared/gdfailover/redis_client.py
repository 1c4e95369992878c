"""The Redis edge: build a bounded client and name what went wrong.

Each probe opens one fresh connection: it exercises DNS, TCP, TLS and AUTH every time (a cached
connection would keep reporting "healthy" through a rotated password or an expired certificate),
and it costs nothing at two probes a minute.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gdfailover.config import ProbeSettings
from gdfailover.credentials import Credentials, SecretFormatError


class RedisLike(Protocol):
    """The four commands the probe uses (redis.Redis satisfies it; tests may pass a fake)."""

    def ping(self) -> Any: ...
    def set(self, name: str, value: str, ex: int | None = None) -> Any: ...
    def get(self, name: str) -> Any: ...
    def close(self) -> None: ...


def connect(settings: ProbeSettings, credentials: Credentials, timeout: float) -> redis.Redis:
    """A single-connection client whose connect and socket timeouts never exceed ``timeout``.

    ``Retry(NoBackoff(), 0)``: redis-py retries would multiply the budget, and the probe's caller
    (the state machine) probes again in a few seconds anyway.
    """
    options: dict[str, Any] = {}
    if settings.tls:
        options.update(
            ssl=True,
            ssl_cert_reqs="required",
            ssl_check_hostname=True,
            ssl_ca_certs=settings.tls_ca_file,
            ssl_min_version=ssl.TLSVersion.TLSv1_2,
        )
    return redis.Redis(
        host=settings.host,
        port=settings.port,
        username=credentials.username,
        password=credentials.password,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        health_check_interval=0,
        single_connection_client=True,
        decode_responses=True,
        client_name="gds-failover-probe",
        **options,
    )


def classify_error(error: BaseException) -> str:
    """Map an exception raised while probing to one word of the status vocabulary (docs/probe.md)."""
    if isinstance(error, SecretFormatError):
        return "secret_unavailable"
    if isinstance(error, redis.AuthenticationError | redis.AuthenticationWrongNumberOfArgsError):
        return "auth_failed"
    if isinstance(error, redis.ReadOnlyError):
        return "read_only"
    if isinstance(error, redis.BusyLoadingError):
        return "loading"
    if isinstance(error, redis.OutOfMemoryError):
        return "oom"
    if isinstance(error, redis.TimeoutError | socket.timeout | TimeoutError):
        return "timeout"
    if isinstance(error, redis.ResponseError):
        message = str(error)
        if message.startswith(("NOAUTH", "WRONGPASS", "NOPERM")) or "invalid password" in message:
            return "auth_failed"
        if message.startswith("OOM"):
            return "oom"
        if message.startswith("LOADING"):
            return "loading"
        if message.startswith(("MISCONF", "NOREPLICAS", "MASTERDOWN")):
            return "write_rejected"
        return "error"
    if isinstance(error, redis.ConnectionError):
        return _classify_connection_error(error)
    if isinstance(error, ssl.SSLError):
        return "tls_failed"
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, socket.gaierror):
        return "unresolvable"
    return "error"


def _classify_connection_error(error: redis.ConnectionError) -> str:
    cause: BaseException | None = error.__cause__ or error.__context__
    while cause is not None:
        if isinstance(cause, ssl.SSLError | ssl.CertificateError):
            return "tls_failed"
        if isinstance(cause, ConnectionRefusedError):
            return "refused"
        if isinstance(cause, socket.gaierror):
            return "unresolvable"
        if isinstance(cause, socket.timeout | TimeoutError):
            return "timeout"
        cause = cause.__cause__ or cause.__context__
    message = str(error).lower()
    if "connection refused" in message or "errno 111" in message:
        return "refused"
    if "ssl" in message or "certificate" in message or "tls" in message:
        return "tls_failed"
    if "name or service not known" in message or "temporary failure in name resolution" in message:
        return "unresolvable"
    if "timeout" in message or "timed out" in message:
        return "timeout"
    if "authentication" in message or "auth" in message:
        return "auth_failed"
    return "unreachable"
