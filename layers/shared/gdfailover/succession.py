"""Succession: when the writer is gone and two secondaries see it, exactly one of them promotes.

Pure: no AWS, no clock, no logging. Consulted after the promotion decision says "promote this
region"; it answers whether THIS region should go now, wait, or yield to the other secondary.

The rules (Redis Sentinel's ``replica-priority`` and Patroni's ``maximum_lag_on_failover`` are the
models):

- every region has a priority; the LOWER number is preferred, ``0`` means "never promoted
  automatically" (as in Sentinel); equal priorities are broken by region name, so the order is total
  and both secondaries, configured alike, rank each other the same way;
- a secondary whose replica is down, whose probe is silent, or whose estimated data loss is unknown or
  above the lag gate cannot promote, whatever its priority: its own promoter refuses;
- the preferred secondary goes at once; the other one waits a bounded grace from the start of the
  incident, then looks at what it can see from its own region (the datastore's status and members,
  the rival's ledger and probe metrics where reachable) and promotes only when the preferred one
  cannot (seen directly) or did not (grace over, the datastore unchanged);
- whatever the priorities, a rival that already took its promotion latch for this incident, or is
  already the PRIMARY member, wins.

No shared database decides: each region reads the other's own ledger and metrics (read-only, in that
region), and the Global Datastore itself (its status turns ``modifying`` on a failover, from every
region) is the only state both sides write to. See docs/three-regions.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from gdfailover.cloudwatch import Point
from gdfailover.config import ConfigError, env_int, env_optional
from gdfailover.elasticache import STATUS_MODIFYING, GlobalDatastore, MemberRole
from gdfailover.ledger import Latch

#: Sentinel's replica-priority 0: this region is never promoted automatically.
NEVER = 0
DEFAULT_PRIORITY = 100
MAX_PRIORITY = 255
#: The rival detects the same death from the same kind of signal; its latch taken up to this long before
#: our own trigger fired belongs to this incident (trigger skew + hold retries + EMF delay, with margin).
SAME_INCIDENT_SKEW = timedelta(minutes=10)
#: Same default as the promoter's LOCAL_HEALTH_MAX_AGE_SECONDS: an older Reachable datapoint means the
#: rival's probe is silent, and its promoter refuses (local-health-stale).
DEFAULT_HEALTH_MAX_AGE = timedelta(seconds=300)
DEFAULT_GRACE_SECONDS = 180
#: The promoter's hold re-check delay (HOLD_RETRY_DELAY_SECONDS) while the datastore is modifying.
MODIFYING_RECHECK = timedelta(seconds=20)
MAX_GRACE_SECONDS = 300

_PEER = re.compile(
    r"^(?P<region>[a-z]{2}(-[a-z]+)+-\d)/(?P<rg>[A-Za-z][A-Za-z0-9-]{0,39})"
    r"/(?P<priority>\d{1,3})/(?P<table>[A-Za-z0-9_.-]{3,255})$"
)


class Verdict(StrEnum):
    GO = "go"  # promote now: preferred, or the preferred rival visibly cannot
    WAIT = "wait"  # not yet: the preferred rival may be promoting; look again after retry_after
    YIELD = "yield"  # do not promote: the rival is (or should be) the new writer, or this region cannot
    GO_AFTER_GRACE = "go-after-grace"  # the grace is over and the preferred rival did not promote


@dataclass(frozen=True, slots=True)
class Peer:
    """Another region's member as configured in this stack (SUCCESSION_PEERS)."""

    region: str
    replication_group_id: str
    priority: int
    ledger_table: str


@dataclass(frozen=True, slots=True)
class SuccessionSettings:
    priority: int = DEFAULT_PRIORITY
    peers: tuple[Peer, ...] = ()
    grace: timedelta = timedelta(seconds=DEFAULT_GRACE_SECONDS)

    def peer(self, replication_group_id: str) -> Peer | None:
        return next((p for p in self.peers if p.replication_group_id == replication_group_id), None)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SuccessionSettings:
        return cls(
            priority=env_int(env, "PROMOTION_PRIORITY", DEFAULT_PRIORITY, NEVER, MAX_PRIORITY),
            peers=parse_peers(env_optional(env, "SUCCESSION_PEERS") or ""),
            grace=timedelta(
                seconds=env_int(env, "SUCCESSION_GRACE_SECONDS", DEFAULT_GRACE_SECONDS, 0, MAX_GRACE_SECONDS)
            ),
        )


def parse_peers(text: str) -> tuple[Peer, ...]:
    """``region/replication-group/priority/ledger-table`` entries, comma-separated (the template parameter)."""
    peers: list[Peer] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        match = _PEER.match(entry)
        if match is None:
            raise ConfigError(
                f"SUCCESSION_PEERS entry {entry!r} is not region/replication-group-id/priority/ledger-table"
            )
        priority = int(match["priority"])
        if priority > MAX_PRIORITY:
            raise ConfigError(f"SUCCESSION_PEERS entry {entry!r}: priority must be 0-{MAX_PRIORITY}")
        peers.append(Peer(match["region"], match["rg"], priority, match["table"]))
    if len({p.replication_group_id for p in peers}) != len(peers):
        raise ConfigError("SUCCESSION_PEERS names a replication group twice")
    return tuple(peers)


@dataclass(frozen=True, slots=True)
class Candidacy:
    """This region, as the promotion decision already judged it."""

    region: str
    replication_group_id: str
    priority: int
    replica_healthy: bool
    lag_seconds: float | None


@dataclass(frozen=True, slots=True)
class RivalView:
    """What this region can see of the other secondary (read in ITS region by gdfailover.peers)."""

    region: str
    replication_group_id: str
    priority: int | None  # None: a member this stack has no SUCCESSION_PEERS entry for
    metrics_error: str | None = None  # its CloudWatch could not be read (unreachable, denied, ...)
    reachable: Point | None = None  # its latest per-minute Maximum of Reachable
    lag_seconds: float | None = None  # its data-loss estimate, from its own HeartbeatAge series
    lag_basis: str = ""
    ledger_error: str | None = None  # its ledger could not be read
    latch: Latch | None = None  # its promotion latch, if any
    heartbeat_age_now: float | None = None  # the writer's heartbeat age its latest probe read

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "replication_group_id": self.replication_group_id,
            "priority": self.priority,
            "metrics_error": self.metrics_error,
            "reachable": [self.reachable[0].isoformat(), self.reachable[1]] if self.reachable else None,
            "lag_seconds": self.lag_seconds,
            "lag_basis": self.lag_basis,
            "ledger_error": self.ledger_error,
            "latch": self.latch.as_dict() if self.latch else None,
            "heartbeat_age_now": self.heartbeat_age_now,
        }


@dataclass(frozen=True, slots=True)
class Situation:
    me: Candidacy
    rival: RivalView | None  # None: no other secondary (two regions)
    datastore: GlobalDatastore
    incident_started_at: datetime  # this region's trigger went to ALARM (the grace runs from here)
    now: datetime
    grace: timedelta
    max_lag_seconds: float
    health_max_age: timedelta = DEFAULT_HEALTH_MAX_AGE


@dataclass(frozen=True, slots=True)
class Succession:
    verdict: Verdict
    code: str
    reasons: tuple[str, ...]
    retry_after: timedelta | None = None  # WAIT only: when looking again can change the answer

    @property
    def go(self) -> bool:
        return self.verdict in (Verdict.GO, Verdict.GO_AFTER_GRACE)

    def as_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "code": self.code,
            "reasons": list(self.reasons),
            "retry_after_seconds": self.retry_after.total_seconds() if self.retry_after is not None else None,
        }


class Ability(StrEnum):
    CAN = "can"
    CANNOT = "cannot"
    UNKNOWN = "unknown"


def other_secondary(datastore: GlobalDatastore, replication_group_id: str) -> str | None:
    """The member that is neither this region's nor the PRIMARY: the rival, if the datastore has three."""
    primary = datastore.primary
    others = [
        member.replication_group_id
        for member in datastore.members
        if member.replication_group_id != replication_group_id
        and (primary is None or member.replication_group_id != primary.replication_group_id)
    ]
    return others[0] if len(others) == 1 else None


def decide_succession(situation: Situation) -> Succession:
    checks = (
        _own_candidacy,
        _no_rival,
        _rival_already_won,
        _datastore_moving,
        _rival_not_member,
        _this_region_preferred,
        _rival_cannot,
        _within_grace,
    )
    for check in checks:
        verdict = check(situation)
        if verdict is not None:
            return verdict
    return _rival_did_not(situation)


def rival_ability(rival: RivalView, situation: Situation) -> tuple[Ability, str]:
    """Can the rival promote itself, as far as its own promoter will judge (same metrics, same gate)?"""
    for check in (_rival_configured_out, _rival_metrics, _rival_lag):
        found = check(rival, situation)
        if found is not None:
            return found
    return Ability.CAN, f"replica answers, estimated data loss {rival.lag_seconds:.0f}s"


def _rival_configured_out(rival: RivalView, situation: Situation) -> tuple[Ability, str] | None:
    if rival.priority == NEVER:
        return Ability.CANNOT, "priority 0 (never promoted automatically)"
    latch = rival.latch
    if latch is not None and latch.active(situation.now) and not _latched_for_this_incident(rival, situation):
        return Ability.CANNOT, f"in its cooldown until {latch.latched_until.isoformat()}: its promoter refuses"
    return None


def _rival_metrics(rival: RivalView, situation: Situation) -> tuple[Ability, str] | None:
    if rival.metrics_error is not None:
        return Ability.UNKNOWN, f"its probe metrics are unreadable from here ({rival.metrics_error})"
    if rival.reachable is None:
        return Ability.CANNOT, "no Reachable datapoint: its promoter refuses (local-health-unknown)"
    stamp, value = rival.reachable
    age = situation.now - stamp
    if age > situation.health_max_age:
        return Ability.CANNOT, f"its last Reachable datapoint is {age.total_seconds():.0f}s old: its probe is silent"
    if value < 1:
        return Ability.CANNOT, "its replica does not answer its probe (Reachable 0)"
    return None


def _rival_lag(rival: RivalView, situation: Situation) -> tuple[Ability, str] | None:
    if rival.lag_seconds is None:
        return Ability.CANNOT, f"its data loss cannot be estimated ({rival.lag_basis or 'no HeartbeatAge'})"
    if rival.lag_seconds > situation.max_lag_seconds:
        return (
            Ability.CANNOT,
            f"its estimated data loss {rival.lag_seconds:.0f}s is above the lag gate {situation.max_lag_seconds:g}s",
        )
    return None


def _name(rival: RivalView) -> str:
    return f"{rival.replication_group_id} ({rival.region})"


def _ranking(situation: Situation, rival: RivalView) -> str:
    me = situation.me
    return f"{_rank(me.priority, me.region)} vs {_name(rival)} {_rank(rival.priority, rival.region)}"


def _no_rival(situation: Situation) -> Succession | None:
    if situation.rival is None:
        return Succession(Verdict.GO, "only-secondary", ("no other secondary member: nobody to defer to",))
    return None


def _rival_already_won(situation: Situation) -> Succession | None:
    rival = situation.rival
    assert rival is not None
    member = situation.datastore.member(rival.replication_group_id)
    if member is not None and member.role == MemberRole.PRIMARY:
        return Succession(Verdict.YIELD, "rival-is-writer", (f"{_name(rival)} is already the PRIMARY member",))
    if _latched_for_this_incident(rival, situation):
        assert rival.latch is not None
        return Succession(
            Verdict.YIELD,
            "rival-latched",
            (
                f"{_name(rival)} took its promotion latch at {rival.latch.taken_at.isoformat()} "
                f"({rival.latch.outcome or 'no outcome yet'}): it is promoting",
            ),
        )
    return None


def _datastore_moving(situation: Situation) -> Succession | None:
    if situation.datastore.status == STATUS_MODIFYING:
        return Succession(
            Verdict.WAIT,
            "datastore-modifying",
            ("the Global Datastore is modifying (a failover may be under way): look again",),
            retry_after=MODIFYING_RECHECK,
        )
    return None


def _rival_not_member(situation: Situation) -> Succession | None:
    rival = situation.rival
    assert rival is not None
    if situation.datastore.member(rival.replication_group_id) is None:
        return Succession(
            Verdict.GO,
            "rival-not-member",
            (f"{_name(rival)} is not a member of the datastore", _ranking(situation, rival)),
        )
    return None


def _this_region_preferred(situation: Situation) -> Succession | None:
    rival = situation.rival
    assert rival is not None
    if _preferred(situation.me, rival):
        return Succession(Verdict.GO, "preferred", (f"this region is preferred: {_ranking(situation, rival)}",))
    return None


def _rival_cannot(situation: Situation) -> Succession | None:
    """Seen directly: the preferred rival cannot promote. Only with its ledger read (it has not latched)."""
    rival = situation.rival
    assert rival is not None
    ability, why = rival_ability(rival, situation)
    if ability == Ability.CANNOT and rival.ledger_error is None:
        return Succession(
            Verdict.GO,
            "rival-cannot",
            (f"{_name(rival)} is preferred ({_ranking(situation, rival)}) but cannot promote: {why}",),
        )
    return None


def _within_grace(situation: Situation) -> Succession | None:
    rival = situation.rival
    assert rival is not None
    elapsed = situation.now - situation.incident_started_at
    if elapsed >= situation.grace:
        return None
    _, why = rival_ability(rival, situation)
    return Succession(
        Verdict.WAIT,
        "grace",
        (
            f"{_name(rival)} is preferred ({_ranking(situation, rival)}) and may be promoting ({why}); waiting until "
            f"{(situation.incident_started_at + situation.grace).isoformat()} "
            f"(grace {situation.grace.total_seconds():.0f}s from the trigger) before looking again",
        ),
        retry_after=situation.grace - elapsed,
    )


def _rival_did_not(situation: Situation) -> Succession:
    rival = situation.rival
    assert rival is not None
    _, why = rival_ability(rival, situation)
    elapsed = situation.now - situation.incident_started_at
    primary = situation.datastore.primary
    writer = f"{primary.replication_group_id} ({primary.region})" if primary else "no member"
    seen_ledger = (
        f"its ledger unreadable ({rival.ledger_error})" if rival.ledger_error else "no promotion latch in its ledger"
    )
    return Succession(
        Verdict.GO_AFTER_GRACE,
        "rival-did-not",
        (
            f"{_name(rival)} is preferred ({_ranking(situation, rival)}) but did not promote within the grace "
            f"({elapsed.total_seconds():.0f}s since the trigger): the datastore is {situation.datastore.status}, "
            f"PRIMARY is still {writer}, {seen_ledger}; its state: {why}",
        ),
    )


def _own_candidacy(situation: Situation) -> Succession | None:
    me = situation.me
    if me.priority == NEVER:
        return Succession(Verdict.YIELD, "never-candidate", ("PROMOTION_PRIORITY 0: never promoted automatically",))
    if not me.replica_healthy:
        return Succession(Verdict.YIELD, "own-replica-down", ("this region's replica does not answer",))
    if me.lag_seconds is None or me.lag_seconds > situation.max_lag_seconds:
        estimate = "unknown" if me.lag_seconds is None else f"{me.lag_seconds:.0f}s"
        return Succession(
            Verdict.YIELD,
            "own-lag",
            (f"this region's estimated data loss is {estimate} (gate {situation.max_lag_seconds:g}s)",),
        )
    return None


def _latched_for_this_incident(rival: RivalView, situation: Situation) -> bool:
    latch = rival.latch
    return (
        latch is not None
        and latch.active(situation.now)
        and latch.taken_at >= situation.incident_started_at - SAME_INCIDENT_SKEW
    )


def _preferred(me: Candidacy, rival: RivalView) -> bool:
    """Lower priority number first, then region name; a rival of unknown priority is treated as preferred."""
    if rival.priority is None:
        return False
    return (me.priority, me.region) < (rival.priority, rival.region)


def _rank(priority: int | None, region: str) -> str:
    return f"{region} priority {priority if priority is not None else 'unknown'}"
