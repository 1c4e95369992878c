"""Route 53's verdict on a writer, read from the DNS data plane: the witness record.

Each regional stack owns a failover pair at ``<region>.witness.<RecordName>`` (template.yaml,
WitnessPrimaryRecord / WitnessSecondaryRecord): PRIMARY answers TXT "healthy" and carries that region's
writer health check, SECONDARY answers TXT "unhealthy" and carries none. Route 53 answers the SECONDARY
exactly when the PRIMARY's health check is unhealthy ("If the primary record is unhealthy and the
secondary record is healthy [or has no health check], Route 53 responds with the secondary": Route 53
DG, "How Amazon Route 53 chooses records when health checking is configured"), so the answer is Route
53's checkers' verdict and never the "all unhealthy, answer PRIMARY" fallback of the application record.

Resolving it needs no Route 53 API: "DNS resolution and health checks, and updates to routing resulting
from changes in health checks, will continue to work" during a control-plane impairment (AWS whitepaper
"AWS Fault Isolation Boundaries", Appendix B). The API is served from us-east-1 only; the answer is
served by the VPC resolver of every region, so a secondary can hear the checkers' verdict on a
us-east-1 writer while us-east-1 is gone. Only the probe runs in the VPC: the promoter asks it
(:class:`LambdaWitness`, a synchronous Invoke of this region's probe function, a regional API).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import dns.exception
import dns.resolver

from gdfailover.awscall import call

#: The witness pair's answers and TTL (template.yaml's WitnessPrimaryRecord / WitnessSecondaryRecord).
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
WITNESS_LABEL = "witness"
WITNESS_TTL_SECONDS = 5
#: One query's budget: the VPC resolver answers a private zone in milliseconds; a resolver that does not
#: answer within a second is an unknown reading, never a stalled probe.
RESOLVE_TIMEOUT_SECONDS = 1.0
#: How late Route 53's checkers may turn a lost region's writer health check unhealthy. ASSUMPTION (not
#: documented; the same figure as make rto's ROUTE53_HEALTH_LAG_WORST_S, which reads it from here): the
#: checkers see no data for the alarm and apply InsufficientDataHealthStatus Unhealthy after their usual
#: lag. The data-loss estimate trusts a "healthy" answer as proof the writer was alive this long
#: (plus the TTL) before it: a smaller figure makes a partition look costlier (refuse more often), a
#: larger one makes promotion more likely. make calibrate measures it in your account.
ROUTE53_LOST_REGION_LAG_WORST_S = 30.0
#: The request the promoter sends the probe function (functions/probe/app.py).
CHECK_SOURCE = "witness-check"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")


def witness_name(region: str, record_name: str) -> str:
    """``us-east-1.witness.redis.internal.`` for RecordName ``redis.internal``."""
    return f"{region}.{WITNESS_LABEL}.{record_name.rstrip('.')}."


def valid_region(region: Any) -> bool:
    return isinstance(region, str) and bool(_REGION.match(region))


@dataclass(frozen=True, slots=True)
class WitnessReading:
    """One reading of a region's witness: ``healthy``, ``unhealthy`` or None (no answer: unknown)."""

    region: str
    answer: str | None
    checked_at: float  # epoch seconds
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Any) -> WitnessReading | None:
        if not isinstance(doc, dict) or not valid_region(doc.get("region")):
            return None
        answer = doc.get("answer")
        try:
            checked_at = float(doc["checked_at"])
        except (KeyError, TypeError, ValueError):
            return None
        return cls(
            str(doc["region"]),
            answer if answer in (HEALTHY, UNHEALTHY) else None,
            checked_at,
            str(doc.get("detail", ""))[:300],
        )


class WitnessResolver:
    """Resolves witness names with dnspython: the VPC resolver (/etc/resolv.conf) by default, or one
    ``host:port`` nameserver (WITNESS_RESOLVER; the drill's and the tests' loopback server)."""

    def __init__(
        self,
        record_name: str,
        nameserver: str | None = None,
        timeout: float = RESOLVE_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._record_name = record_name
        self._clock = clock
        if nameserver:
            host, _, port = nameserver.rpartition(":")
            self._resolver = dns.resolver.Resolver(configure=False)
            self._resolver.nameservers = [host]
            self._resolver.port = int(port)
        else:
            self._resolver = dns.resolver.Resolver()
        self._resolver.lifetime = timeout
        self._resolver.timeout = timeout
        self._resolver.cache = None  # every reading asks: the record's own TTL is the only caching

    def read(self, region: str) -> WitnessReading:
        checked_at = self._clock()
        name = witness_name(region, self._record_name)
        try:
            answer = self._resolver.resolve(name, "TXT", search=False)
        except dns.resolver.NXDOMAIN:
            return WitnessReading(region, None, checked_at, f"{name} does not exist: is that stack deployed?")
        except dns.resolver.NoAnswer:
            return WitnessReading(region, None, checked_at, f"{name} has no TXT record")
        except dns.exception.Timeout:
            return WitnessReading(region, None, checked_at, f"no answer for {name} within {self._resolver.lifetime}s")
        except dns.exception.DNSException as error:
            return WitnessReading(region, None, checked_at, f"{name}: {type(error).__name__}: {error}"[:300])
        texts = {b"".join(record.strings).decode("ascii", "replace") for record in answer}
        if len(texts) == 1 and (text := texts.pop()) in (HEALTHY, UNHEALTHY):
            return WitnessReading(region, text, checked_at, f"{name} TXT {text}")
        return WitnessReading(region, None, checked_at, f"{name} answered {sorted(texts)!r:.120}, not a verdict")


class WitnessReader(Protocol):
    def read(self, region: str) -> WitnessReading: ...


class LambdaWitness:
    """The promoter's reading, fresh at every evidence round: a synchronous Invoke of this region's probe
    function (in the VPC) with ``{"source": "witness-check", "region": ...}``. Raises AwsCallError."""

    def __init__(self, client: Any, function_name: str) -> None:
        self._client = client
        self._function_name = function_name

    def read(self, region: str) -> WitnessReading:
        response = call(
            "Invoke",
            self._client.invoke,
            FunctionName=self._function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps({"source": CHECK_SOURCE, "region": region}).encode(),
        )
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise ValueError(f"the probe function failed the witness check: {body[:200]!r}")
        reading = WitnessReading.from_dict(json.loads(body))
        if reading is None:
            raise ValueError(f"the probe function answered no witness reading: {body[:200]!r}")
        return reading
