"""The Redis edge: build a bounded client and name what went wrong.

Each probe opens one fresh connection: it exercises DNS, TCP, TLS and AUTH every time (a cached
connection would keep reporting "healthy" through a rotated password or an expired certificate),
and it costs nothing at two probes a minute.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any, ClassVar, Protocol

import redis
from redis.backoff import NoBackoff
from redis.driver_info import DriverInfo
from redis.retry import Retry

from gdfailover.config import ProbeSettings
from gdfailover.credentials import Credentials, SecretFormatError


class RedisLike(Protocol):
    """The commands the probe uses (redis.Redis satisfies it; tests may pass a fake)."""

    def ping(self) -> Any: ...
    def set(self, name: str, value: str, ex: int | None = None) -> Any: ...
    def get(self, name: str) -> Any: ...
    def info(self, section: str | None = None) -> Any: ...  # parsed: {"master_link_status": "up", ...}
    def close(self) -> None: ...


# redis-py resolves its own version through importlib.metadata on every connection unless told.
_DRIVER_INFO = DriverInfo(lib_version=redis.__version__)


class CachedContextSSLConnection(redis.SSLConnection):
    """redis-py builds a new SSLContext on every connect, which loads the system CA bundle
    (~27 ms of CPU per probe here, more on a small Lambda). The probe connects afresh each time by
    design, so build each distinct context once per process and reuse it."""

    _contexts: ClassVar[dict[tuple[str | None, bool, int], ssl.SSLContext]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def _wrap_socket_with_ssl(self, sock: socket.socket) -> ssl.SSLSocket:
        key = (self.ca_certs, bool(self.check_hostname), int(self.cert_reqs))
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                # cafile given: trust that private CA only; none: the system bundle (ElastiCache's CA).
                context = ssl.create_default_context(cafile=self.ca_certs)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                context.check_hostname = bool(self.check_hostname)
                context.verify_mode = self.cert_reqs
                self._contexts[key] = context
        return context.wrap_socket(sock, server_hostname=self.host)


def connect(settings: ProbeSettings, credentials: Credentials, timeout: float) -> redis.Redis:
    """A single-connection client whose connect and socket timeouts never exceed ``timeout``.

    ``Retry(NoBackoff(), 0)``: redis-py retries would multiply the budget, and the probe's caller
    (the state machine) probes again in a few seconds anyway.
    """
    options: dict[str, Any] = {"connection_class": redis.Connection}
    if settings.tls:
        options = {
            "connection_class": CachedContextSSLConnection,
            "ssl_cert_reqs": "required",
            "ssl_check_hostname": True,
            "ssl_ca_certs": settings.tls_ca_file,
        }
    pool = redis.ConnectionPool(
        host=settings.host,
        port=settings.port,
        username=credentials.username,
        password=credentials.password,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
        decode_responses=True,
        client_name="gds-failover-probe",
        driver_info=_DRIVER_INFO,
        max_connections=1,
        **options,
    )
    return redis.Redis(connection_pool=pool, single_connection_client=True, retry=Retry(NoBackoff(), 0))


# First match wins: exception classes (redis-py's own first), then reply prefixes, then the
# socket-level cause chained under a redis ConnectionError, then words in its message.
_ERROR_CLASSES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    (SecretFormatError, "secret_unavailable"),
    ((redis.AuthenticationError, redis.AuthenticationWrongNumberOfArgsError), "auth_failed"),
    (redis.ReadOnlyError, "read_only"),
    (redis.BusyLoadingError, "loading"),
    (redis.OutOfMemoryError, "oom"),
    ((redis.TimeoutError, socket.timeout, TimeoutError), "timeout"),
)
_REPLY_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("NOAUTH", "WRONGPASS", "NOPERM", "ERR invalid password", "ERR AUTH"), "auth_failed"),
    (("OOM",), "oom"),
    (("LOADING",), "loading"),
    (("READONLY",), "read_only"),
    (("MISCONF", "NOREPLICAS", "MASTERDOWN"), "write_rejected"),
)
_SOCKET_CAUSES: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((ssl.SSLError, ssl.CertificateError), "tls_failed"),
    (ConnectionRefusedError, "refused"),
    (socket.gaierror, "unresolvable"),
    ((socket.timeout, TimeoutError), "timeout"),
)
_MESSAGE_WORDS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("connection refused", "errno 111"), "refused"),
    (("ssl", "certificate", "tls"), "tls_failed"),
    (("name or service not known", "name resolution"), "unresolvable"),
    (("timeout", "timed out"), "timeout"),
)


def classify_error(error: BaseException) -> str:
    """Map an exception raised while probing to one word of the status vocabulary (docs/probe.md)."""
    for classes, status in _ERROR_CLASSES:
        if isinstance(error, classes):
            return status
    if isinstance(error, redis.ResponseError):
        message = str(error)
        return next((status for prefixes, status in _REPLY_PREFIXES if message.startswith(prefixes)), "error")
    if isinstance(error, redis.ConnectionError | OSError):
        return _classify_connection_error(error)
    return "error"


def _classify_connection_error(error: BaseException) -> str:
    cause: BaseException | None = error
    while cause is not None:
        for classes, status in _SOCKET_CAUSES:
            if isinstance(cause, classes):
                return status
        cause = cause.__cause__ or cause.__context__
    message = str(error).lower()
    return next((status for words, status in _MESSAGE_WORDS if any(w in message for w in words)), "unreachable")
