"""The probe: is THIS region's Redis a healthy writer, a replica (and how fresh), or broken (how)?

Algorithm (docs/probe.md): PING, SET the heartbeat key and read it back. A READONLY reply means the
node is a replica: read the heartbeat replicated from the writer and report its age, then ask the
replica (``INFO replication``) whether its link to the writer is up. The whole probe
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
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from gdfailover.config import ProbeSettings
from gdfailover.credentials import Credentials, RefreshableCredentials
from gdfailover.redis_client import RedisLike, classify_error
from gdfailover.witness import WitnessReader

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

LINK_UP = "up"
LINK_DOWN = "down"
#: A writer pings its replicas every 10 s (repl-ping-replica-period); a link that has carried nothing
#: for longer than this is not evidence that the writer is alive, even while Redis still calls it "up".
REPLICATION_LINK_MAX_IO_AGE_S = 30


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
    replication_link: str | None = None  # a replica's master_link_status: "up" / "down"; None when unknown
    link_last_io_s: float | None = None  # a replica's master_last_io_seconds_ago
    detail: str = ""
    checked_at: float = 0.0
    #: A replica's reading of its writer's witness record (gdfailover.witness): Route 53's verdict on the
    #: writer, "healthy" / "unhealthy", None when not read or no answer (``witness_detail`` says which)
    writer_witness: str | None = None
    witness_detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "replication_link_up": self.replication_link_up}

    @property
    def replication_link_up(self) -> int | None:
        """1 when this replica heard from the writer recently, 0 when not or unknown; None off a replica."""
        if self.role != "replica":
            return None
        recent = self.link_last_io_s is not None and 0 <= self.link_last_io_s <= REPLICATION_LINK_MAX_IO_AGE_S
        return 1 if self.replication_link == LINK_UP and recent else 0


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: str
    role: str
    detail: str = ""
    heartbeat_age_s: float | None = None
    heartbeat_region: str | None = None
    replication_link: str | None = None
    link_last_io_s: float | None = None


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
    outcome: _Outcome | None = None  # set as soon as known; a replica's is refined by INFO afterwards
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
        replica = attempt.outcome
        if replica is not None and replica.role == "replica":  # the heartbeat was read; INFO ran out of budget
            late = replica.replication_link is None
            note = f"; INFO replication: no answer within {settings.timeout_seconds:g}s budget" if late else ""
            return _result(
                attempt, replica, latency_ms=latency_ms, checked_at=started_wall, detail=replica.detail + note
            )
        return _result(
            attempt,
            _Outcome(TIMEOUT, "unknown"),
            latency_ms=latency_ms,
            checked_at=started_wall,
            detail=f"no answer within {settings.timeout_seconds:g}s budget (stage {attempt.stage})",
        )
    if attempt.outcome is not None:
        return _result(attempt, attempt.outcome, latency_ms=latency_ms, checked_at=started_wall)
    error = attempt.error
    assert error is not None
    status = SECRET_UNAVAILABLE if attempt.stage == "auth_secret" else classify_error(error)
    role = "writer" if status in WRITER_STATUSES else "replica" if status == READ_ONLY else "unknown"
    return _result(
        attempt,
        _Outcome(status, role, detail=f"{type(error).__name__}: {error}"[:300]),
        latency_ms=latency_ms,
        checked_at=started_wall,
    )


def with_writer_witness(result: ProbeResult, reader: WitnessReader | None) -> ProbeResult:
    """A replica that read its writer's heartbeat also reads that writer's witness (Route 53's verdict,
    from the DNS data plane), after the Redis probe and outside its budget: one bounded DNS query."""
    writer = result.heartbeat_region
    if reader is None or result.role != "replica" or writer is None or writer == result.region:
        return result
    reading = reader.read(writer)
    return replace(result, writer_witness=reading.answer, witness_detail=reading.detail)


def _probe_steps(attempt: _Attempt) -> None:
    settings, clock = attempt.settings, attempt.clock
    try:
        creds = attempt.credentials()
        attempt.stage = "connect"
        remaining = max(0.05, attempt.deadline - attempt.monotonic())
        try:
            attempt.client = attempt.connector(settings, creds, remaining)  # connects and AUTHs
            attempt.client.ping()
        except Exception as error:
            fresh = reread_secret_after_auth_failure(attempt.credentials, creds, error)
            if fresh is None:
                raise
            _close_quietly(attempt.client)  # a rotated token: once more with the secret's current value
            remaining = max(0.05, attempt.deadline - attempt.monotonic())
            attempt.client = attempt.connector(settings, fresh, remaining)
            attempt.client.ping()

        attempt.stage = "write"
        beat = Heartbeat(settings.region, clock(), secrets.token_hex(8), settings.replication_group_id)
        try:
            attempt.client.set(settings.heartbeat_key, beat.encode(), ex=settings.heartbeat_ttl_seconds)
        except Exception as error:
            if classify_error(error) != READ_ONLY:
                raise
            attempt.stage = "replica_read"
            replica = _replica_outcome(attempt.client.get(settings.heartbeat_key), clock())
            attempt.outcome = replica
            attempt.outcome = _with_replication_link(replica, attempt.client)
            return

        attempt.stage = "read"
        echoed = attempt.client.get(settings.heartbeat_key)
        if echoed != beat.encode():
            attempt.outcome = _Outcome(VALUE_MISMATCH, "writer", f"wrote nonce {beat.nonce}, read back {echoed!r:.80}")
            return
        attempt.outcome = _Outcome(HEALTHY, "writer", heartbeat_age_s=0.0, heartbeat_region=settings.region)
    except BaseException as error:  # classified by the caller; nothing escapes a probe
        attempt.error = error
    finally:
        _close_quietly(attempt.client)
        attempt.done.set()


def reread_secret_after_auth_failure(
    credentials: Callable[[], Credentials], used: Credentials, error: BaseException
) -> Credentials | None:
    """The credentials to try once more after ``error``, or None (report ``error`` as it is).

    Only when AUTH was rejected and the credentials come from a secret: it is re-read past its cache,
    and a value different from ``used`` (a rotation the cache has not seen yet) is worth one more try.
    An unchanged secret, or one that cannot be read now, leaves ``auth_failed`` standing.
    """
    if classify_error(error) != "auth_failed" or not isinstance(credentials, RefreshableCredentials):
        return None
    try:
        fresh = credentials.refresh()
    except Exception:  # Secrets Manager unreachable or the new value unparsable: the AUTH failure stands
        return None
    return fresh if fresh != used else None


def _replica_outcome(raw: Any, now: float) -> _Outcome:
    beat = Heartbeat.decode(raw)
    if beat is None:
        detail = "no heartbeat key on the replica" if raw is None else "heartbeat value does not parse"
        return _Outcome(READ_ONLY, "replica", detail)
    age = round(max(0.0, now - beat.ts), 3)
    return _Outcome(READ_ONLY, "replica", f"heartbeat from {beat.region}", age, beat.region)


def _with_replication_link(replica: _Outcome, client: RedisLike) -> _Outcome:
    """The replica's own view of its link to the writer: independent of the writer region's probe.

    INFO may be refused (an RBAC user without ``info``) or fail; the probe is then still a replica
    whose link is unknown, never an error.
    """
    try:
        info = client.info("replication")
    except Exception as error:  # a replica that answered GET stays read_only whatever INFO does
        return replace(replica, detail=f"{replica.detail}; INFO replication failed: {type(error).__name__}"[:300])
    if not isinstance(info, dict):
        return replace(replica, detail=f"{replica.detail}; INFO replication did not parse")
    status = info.get("master_link_status")
    link = status if status in (LINK_UP, LINK_DOWN) else None
    last_io = _number(info.get("master_last_io_seconds_ago"))
    return replace(
        replica,
        replication_link=link,
        link_last_io_s=last_io if last_io is not None and last_io >= 0 else None,  # -1: no writer connection
    )


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _result(
    attempt: _Attempt, outcome: _Outcome, *, latency_ms: float, checked_at: float, detail: str | None = None
) -> ProbeResult:
    return ProbeResult(
        healthy=1 if outcome.status == HEALTHY else 0,
        status=outcome.status,
        role=outcome.role,
        latency_ms=latency_ms,
        region=attempt.settings.region,
        replication_group_id=attempt.settings.replication_group_id,
        reachable=1 if outcome.status in ANSWERED else 0,
        stage=attempt.stage,
        heartbeat_age_s=outcome.heartbeat_age_s,
        heartbeat_region=outcome.heartbeat_region,
        replication_link=outcome.replication_link,
        link_last_io_s=outcome.link_last_io_s,
        detail=outcome.detail if detail is None else detail,
        checked_at=round(checked_at, 3),
    )


def _close_quietly(client: RedisLike | None) -> None:
    if client is None:
        return
    with contextlib.suppress(Exception):  # closing a broken connection may fail; nothing to do about it
        client.close()
