"""The probe: is THIS region's Redis a healthy writer, a replica (and how fresh), or broken (how)?

Algorithm (docs/probe.md): PING, SET the heartbeat key and read it back. A READONLY reply means the
node is a replica: read the heartbeat replicated from the writer and report its age. The whole probe
runs against a hard time budget: it runs in a worker thread and the caller stops waiting when the
budget is spent, whatever the server does; socket timeouts bound the worker itself.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from gdfailover.config import ProbeSettings
from gdfailover.credentials import Credentials
from gdfailover.redis_client import RedisLike, classify_error

HEALTHY = "healthy"
READ_ONLY = "read_only"
TIMEOUT = "timeout"
SECRET_UNAVAILABLE = "secret_unavailable"  # noqa: S105 - a status word, not a secret
VALUE_MISMATCH = "value_mismatch"

#: Every status the probe can report. Alarms only read ``healthy``; the rest is for humans.
STATUSES: dict[str, str] = {
    HEALTHY: "writer: PING, SET and GET of the heartbeat all succeeded",
    READ_ONLY: "replica: the write was refused with READONLY; heartbeat age read from the replica",
    "refused": "nothing listens on the endpoint (connection refused)",
    TIMEOUT: "no answer within the probe budget (hung, paused or overloaded server, or network)",
    "unresolvable": "the endpoint name does not resolve",
    "unreachable": "the connection failed for another network reason",
    "tls_failed": "TLS handshake failed (plaintext server, untrusted or mismatched certificate)",
    "auth_failed": "AUTH rejected (wrong or missing password, or no permission)",
    SECRET_UNAVAILABLE: "the AUTH token could not be read from Secrets Manager",
    "loading": "the server is loading its dataset into memory",
    "oom": "the write was rejected: out of memory with a noeviction policy",
    "write_rejected": "the write was rejected for another reason (MISCONF, NOREPLICAS, ...)",
    VALUE_MISMATCH: "the heartbeat read back differs from the one just written",
    "error": "any other error (see detail)",
}

#: Statuses for which the server answered at the Redis protocol level.
ANSWERED = frozenset({HEALTHY, READ_ONLY, "auth_failed", "loading", "oom", "write_rejected", VALUE_MISMATCH})
WRITER_STATUSES = frozenset({HEALTHY, "oom", "write_rejected", VALUE_MISMATCH})


@dataclass(frozen=True, slots=True)
class Heartbeat:
    region: str
    ts: float
    nonce: str
    replication_group_id: str = "unknown"

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, raw: str | bytes | None) -> Heartbeat | None:
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
            return cls(
                region=str(doc["region"]),
                ts=float(doc["ts"]),
                nonce=str(doc["nonce"]),
                replication_group_id=str(doc.get("replication_group_id", "unknown")),
            )
        except (ValueError, KeyError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class ProbeResult:
    healthy: int
    status: str
    role: str
    latency_ms: float
    region: str
    replication_group_id: str
    reachable: int
    stage: str
    heartbeat_age_s: float | None = None
    heartbeat_region: str | None = None
    detail: str = ""
    checked_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Connector = Callable[[ProbeSettings, Credentials, float], RedisLike]


@dataclass
class _Attempt:
    """Shared between the caller and the worker thread; the caller reads it after ``done``."""

    settings: ProbeSettings
    credentials: Callable[[], Credentials]
    connector: Connector
    clock: Callable[[], float]
    monotonic: Callable[[], float]
    deadline: float
    stage: str = "auth_secret"
    client: RedisLike | None = None
    outcome: tuple[str, str, str, float | None, str | None] | None = None  # status, role, detail, age, region
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


def run_probe(
    settings: ProbeSettings,
    credentials: Callable[[], Credentials],
    connector: Connector,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> ProbeResult:
    """Probe once; always returns within ``settings.timeout_seconds`` (plus thread scheduling)."""
    started_wall = clock()
    started = monotonic()
    deadline = started + settings.timeout_seconds
    attempt = _Attempt(settings, credentials, connector, clock, monotonic, deadline)
    worker = threading.Thread(target=_probe_steps, args=(attempt,), name="redis-probe", daemon=True)
    worker.start()
    attempt.done.wait(timeout=max(0.0, deadline - monotonic()))
    latency_ms = round((monotonic() - started) * 1000.0, 2)

    if not attempt.done.is_set():
        _close_quietly(attempt.client)  # unblocks a worker stuck in recv(); its socket timeout is the backstop
        return _result(
            attempt,
            TIMEOUT,
            "unknown",
            latency_ms=latency_ms,
            checked_at=started_wall,
            detail=f"no answer within {settings.timeout_seconds:g}s budget (stage {attempt.stage})",
        )
    if attempt.outcome is not None:
        status, role, detail, age, hb_region = attempt.outcome
        return _result(
            attempt,
            status,
            role,
            latency_ms=latency_ms,
            checked_at=started_wall,
            detail=detail,
            heartbeat_age_s=age,
            heartbeat_region=hb_region,
        )
    error = attempt.error
    assert error is not None
    status = SECRET_UNAVAILABLE if attempt.stage == "auth_secret" else classify_error(error)
    role = "writer" if status in WRITER_STATUSES else "replica" if status == READ_ONLY else "unknown"
    return _result(
        attempt,
        status,
        role,
        latency_ms=latency_ms,
        checked_at=started_wall,
        detail=f"{type(error).__name__}: {error}"[:300],
    )


def _probe_steps(attempt: _Attempt) -> None:
    settings, clock = attempt.settings, attempt.clock
    try:
        creds = attempt.credentials()
        attempt.stage = "connect"
        remaining = max(0.05, attempt.deadline - attempt.monotonic())
        attempt.client = attempt.connector(settings, creds, remaining)
        attempt.client.ping()  # connects, AUTHs, then PINGs

        attempt.stage = "write"
        beat = Heartbeat(settings.region, clock(), secrets.token_hex(8), settings.replication_group_id)
        try:
            attempt.client.set(settings.heartbeat_key, beat.encode(), ex=settings.heartbeat_ttl_seconds)
        except Exception as error:
            if classify_error(error) != READ_ONLY:
                raise
            attempt.stage = "replica_read"
            attempt.outcome = _replica_outcome(attempt.client.get(settings.heartbeat_key), clock())
            return

        attempt.stage = "read"
        echoed = attempt.client.get(settings.heartbeat_key)
        if echoed != beat.encode():
            attempt.outcome = (
                VALUE_MISMATCH,
                "writer",
                f"wrote nonce {beat.nonce}, read back {echoed!r:.80}",
                None,
                None,
            )
            return
        attempt.outcome = (HEALTHY, "writer", "", 0.0, settings.region)
    except BaseException as error:  # classified by the caller; nothing escapes a probe
        attempt.error = error
    finally:
        _close_quietly(attempt.client)
        attempt.done.set()


def _replica_outcome(raw: Any, now: float) -> tuple[str, str, str, float | None, str | None]:
    beat = Heartbeat.decode(raw)
    if beat is None:
        detail = "no heartbeat key on the replica" if raw is None else "heartbeat value does not parse"
        return READ_ONLY, "replica", detail, None, None
    age = round(max(0.0, now - beat.ts), 3)
    return READ_ONLY, "replica", f"heartbeat from {beat.region}", age, beat.region


def _result(
    attempt: _Attempt,
    status: str,
    role: str,
    *,
    latency_ms: float,
    checked_at: float,
    detail: str = "",
    heartbeat_age_s: float | None = None,
    heartbeat_region: str | None = None,
) -> ProbeResult:
    return ProbeResult(
        healthy=1 if status == HEALTHY else 0,
        status=status,
        role=role,
        latency_ms=latency_ms,
        region=attempt.settings.region,
        replication_group_id=attempt.settings.replication_group_id,
        reachable=1 if status in ANSWERED else 0,
        stage=attempt.stage,
        heartbeat_age_s=heartbeat_age_s,
        heartbeat_region=heartbeat_region,
        detail=detail,
        checked_at=round(checked_at, 3),
    )


def _close_quietly(client: RedisLike | None) -> None:
    if client is None:
        return
    with contextlib.suppress(Exception):  # closing a broken connection may fail; nothing to do about it
        client.close()
