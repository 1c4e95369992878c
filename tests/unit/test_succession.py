"""Which secondary promotes: one row per situation (priority x replica health x lag x what is reachable).

Pure: no AWS, no clock. B (us-west-2) and C (eu-west-1) are the secondaries, A (us-east-1) the lost writer.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gdfailover.config import ConfigError
from gdfailover.elasticache import GlobalDatastore, GlobalDatastoreMember
from gdfailover.ledger import Latch
from gdfailover.succession import (
    Candidacy,
    Peer,
    RivalView,
    Situation,
    SuccessionSettings,
    Verdict,
    decide_succession,
    other_secondary,
    parse_peers,
)

TRIGGER = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=150)
GATE = 120.0
A, B, C = ("my-gds-use1", "us-east-1"), ("my-gds-usw2", "us-west-2"), ("my-gds-euw1", "eu-west-1")
IN_GRACE, AFTER_GRACE = timedelta(seconds=40), timedelta(seconds=200)


def datastore(
    status: str = "available", roles: dict[str, str] | None = None, without: str | None = None
) -> GlobalDatastore:
    roles = {A[0]: "PRIMARY", B[0]: "SECONDARY", C[0]: "SECONDARY"} | (roles or {})
    regions = dict((A, B, C))
    return GlobalDatastore(
        "ldgnf-my-gds",
        status,
        tuple(
            GlobalDatastoreMember(rg, regions[rg], role, "associated") for rg, role in roles.items() if rg != without
        ),
    )


def me(priority: int = 20, healthy: bool = True, lag: float | None = 6.0, who: tuple[str, str] = C) -> Candidacy:
    return Candidacy(who[1], who[0], priority, healthy, lag)


def rival(
    *,
    priority: int | None = 10,
    reach: str = "up",
    lag: float | None = 6.0,
    ledger: str = "empty",
    who: tuple[str, str] = B,
    now: datetime = TRIGGER + IN_GRACE,
) -> RivalView:
    """reach: up | down | silent (stale datapoint) | none (no datapoint) | unreachable (read failed).
    ledger: empty | latched (this incident) | cooldown (an earlier promotion) | expired | unreachable."""
    reachable = {
        "up": (now - timedelta(seconds=70), 1.0),
        "down": (now - timedelta(seconds=70), 0.0),
        "silent": (now - timedelta(minutes=8), 1.0),
        "none": None,
        "unreachable": None,
    }[reach]
    latch = {
        "empty": None,
        "latched": Latch("sns-b-1", TRIGGER - timedelta(seconds=30), TRIGGER + timedelta(minutes=59)),
        "cooldown": Latch("sns-b-0", TRIGGER - timedelta(minutes=40), TRIGGER + timedelta(minutes=20), "PRIMARY"),
        "expired": Latch("sns-b-0", TRIGGER - timedelta(hours=3), TRIGGER - timedelta(hours=2), "PRIMARY"),
        "unreachable": None,
    }[ledger]
    unreachable = "GetMetricData unreachable (EndpointConnectionError)"
    return RivalView(
        region=who[1],
        replication_group_id=who[0],
        priority=priority,
        metrics_error=unreachable if reach == "unreachable" else None,
        reachable=reachable,
        lag_seconds=None if reach == "unreachable" else lag,
        lag_basis="HeartbeatAge before it started climbing",
        ledger_error="GetItem unreachable (EndpointConnectionError)" if ledger == "unreachable" else None,
        latch=latch,
    )


def situation(
    mine: Candidacy | None = None,
    theirs: RivalView | None = None,
    store: GlobalDatastore | None = None,
    elapsed: timedelta = IN_GRACE,
) -> Situation:
    return Situation(
        me=mine or me(),
        rival=theirs,
        datastore=store or datastore(),
        incident_started_at=TRIGGER,
        now=TRIGGER + elapsed,
        grace=GRACE,
        max_lag_seconds=GATE,
    )


# (id, my candidacy, what I see of the rival, datastore, time since my trigger, verdict, code)
ROWS: list[tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any], timedelta, Verdict, str]] = [
    # --- this region preferred (priority 10 vs 20) -----------------------------------------------------
    ("preferred, both fresh", {"priority": 10}, {"priority": 20}, {}, IN_GRACE, Verdict.GO, "preferred"),
    (
        "preferred, rival unreachable",
        {"priority": 10},
        {"priority": 20, "reach": "unreachable", "ledger": "unreachable"},
        {},
        IN_GRACE,
        Verdict.GO,
        "preferred",
    ),
    (
        "preferred but own replica down",
        {"priority": 10, "healthy": False},
        {"priority": 20},
        {},
        IN_GRACE,
        Verdict.YIELD,
        "own-replica-down",
    ),
    (
        "preferred but over the lag gate",
        {"priority": 10, "lag": 300.0},
        {"priority": 20},
        {},
        IN_GRACE,
        Verdict.YIELD,
        "own-lag",
    ),
    (
        "preferred but own lag unknown",
        {"priority": 10, "lag": None},
        {"priority": 20},
        {},
        IN_GRACE,
        Verdict.YIELD,
        "own-lag",
    ),
    (
        "preferred but the rival already latched",
        {"priority": 10},
        {"priority": 20, "ledger": "latched"},
        {},
        IN_GRACE,
        Verdict.YIELD,
        "rival-latched",
    ),
    (
        "preferred but the rival is already PRIMARY",
        {"priority": 10},
        {"priority": 20},
        {"roles": {A[0]: "SECONDARY", B[0]: "PRIMARY"}},
        IN_GRACE,
        Verdict.YIELD,
        "rival-is-writer",
    ),
    (
        "equal priority, region name decides: eu-west-1 first",
        {"priority": 10},
        {"priority": 10},
        {},
        IN_GRACE,
        Verdict.GO,
        "preferred",
    ),
    (
        "priority 0 never promotes",
        {"priority": 0},
        {"priority": 20, "reach": "down"},
        {},
        AFTER_GRACE,
        Verdict.YIELD,
        "never-candidate",
    ),
    # --- the rival preferred (10 vs this region's 20), everything visible --------------------------------
    ("rival fresh: wait the grace", {}, {}, {}, IN_GRACE, Verdict.WAIT, "grace"),
    ("rival replica down: go now", {}, {"reach": "down"}, {}, IN_GRACE, Verdict.GO, "rival-cannot"),
    ("rival probe silent: go now", {}, {"reach": "silent"}, {}, IN_GRACE, Verdict.GO, "rival-cannot"),
    ("rival no datapoint: go now", {}, {"reach": "none"}, {}, IN_GRACE, Verdict.GO, "rival-cannot"),
    ("rival over the lag gate: go now", {}, {"lag": 300.0}, {}, IN_GRACE, Verdict.GO, "rival-cannot"),
    ("rival lag unknown: go now", {}, {"lag": None}, {}, IN_GRACE, Verdict.GO, "rival-cannot"),
    ("rival priority 0: go now", {}, {"priority": 0}, {}, IN_GRACE, Verdict.GO, "rival-cannot"),
    ("rival in an earlier cooldown: go now", {}, {"ledger": "cooldown"}, {}, IN_GRACE, Verdict.GO, "rival-cannot"),
    ("rival's expired latch is no evidence", {}, {"ledger": "expired"}, {}, IN_GRACE, Verdict.WAIT, "grace"),
    ("rival latched: yield", {}, {"ledger": "latched"}, {}, IN_GRACE, Verdict.YIELD, "rival-latched"),
    ("rival latched, even after the grace", {}, {"ledger": "latched"}, {}, AFTER_GRACE, Verdict.YIELD, "rival-latched"),
    (
        "rival PRIMARY: yield",
        {},
        {},
        {"roles": {A[0]: "SECONDARY", B[0]: "PRIMARY"}},
        AFTER_GRACE,
        Verdict.YIELD,
        "rival-is-writer",
    ),
    (
        "datastore modifying: look again",
        {},
        {},
        {"status": "modifying"},
        AFTER_GRACE,
        Verdict.WAIT,
        "datastore-modifying",
    ),
    (
        "rival fresh, grace over, datastore unchanged: it did not",
        {},
        {},
        {},
        AFTER_GRACE,
        Verdict.GO_AFTER_GRACE,
        "rival-did-not",
    ),
    # --- the rival preferred, partly or not reachable from here ------------------------------------------
    (
        "rival region unreachable: wait the grace",
        {},
        {"reach": "unreachable", "ledger": "unreachable"},
        {},
        IN_GRACE,
        Verdict.WAIT,
        "grace",
    ),
    (
        "rival region unreachable, grace over: go",
        {},
        {"reach": "unreachable", "ledger": "unreachable"},
        {},
        AFTER_GRACE,
        Verdict.GO_AFTER_GRACE,
        "rival-did-not",
    ),
    (
        "rival replica down but its ledger unreadable: wait",
        {},
        {"reach": "down", "ledger": "unreachable"},
        {},
        IN_GRACE,
        Verdict.WAIT,
        "grace",
    ),
    (
        "rival replica down, ledger unreadable, grace over: go",
        {},
        {"reach": "down", "ledger": "unreachable"},
        {},
        AFTER_GRACE,
        Verdict.GO_AFTER_GRACE,
        "rival-did-not",
    ),
    ("rival metrics unreadable, ledger empty: wait", {}, {"reach": "unreachable"}, {}, IN_GRACE, Verdict.WAIT, "grace"),
    (
        "rival of unknown priority counts as preferred",
        {"priority": 1},
        {"priority": None},
        {},
        IN_GRACE,
        Verdict.WAIT,
        "grace",
    ),
    ("rival not a member any more", {}, {}, {"without": B[0]}, IN_GRACE, Verdict.GO, "rival-not-member"),
    # --- no rival ------------------------------------------------------------------------------------------
    ("two regions: nobody to defer to", {}, None, {}, IN_GRACE, Verdict.GO, "only-secondary"),
]


Row = tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any], timedelta, Verdict, str]


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_succession(row: Row) -> None:
    _, mine, theirs, store, elapsed, verdict, code = row
    view = None if theirs is None else rival(**theirs, now=TRIGGER + elapsed)
    result = decide_succession(situation(me(**mine), view, datastore(**store), elapsed))
    assert (result.verdict, result.code) == (verdict, code), result.reasons
    assert result.reasons
    assert all(result.reasons)
    assert result.go == (verdict in (Verdict.GO, Verdict.GO_AFTER_GRACE))
    assert (result.retry_after is not None) == (verdict == Verdict.WAIT)


def test_the_grace_wait_ends_exactly_at_the_grace() -> None:
    result = decide_succession(situation(me(), rival(), elapsed=timedelta(seconds=40)))
    assert result.retry_after == timedelta(seconds=110)
    assert "12:02:30" in result.reasons[0]


def test_a_latch_taken_long_before_this_incident_is_a_cooldown_not_a_promotion() -> None:
    old = Latch("sns-b-0", TRIGGER - timedelta(minutes=11), TRIGGER + timedelta(minutes=49), "PRIMARY")
    result = decide_succession(situation(me(), replace(rival(), latch=old)))
    assert (result.verdict, result.code) == (Verdict.GO, "rival-cannot")
    assert "cooldown" in result.reasons[0]


# --- exactly one winner ----------------------------------------------------------------------------------

STATES = {  # (replica healthy, data-loss estimate)
    "fresh": (True, 6.0),
    "replica-down": (False, 6.0),
    "over-gate": (True, 300.0),
    "lag-unknown": (True, None),
}
PRIORITIES = [(10, 20), (20, 10), (10, 10), (0, 20), (20, 0), (0, 0)]


def _view_of(state: str, priority: int, who: tuple[str, str], now: datetime) -> RivalView:
    healthy, lag = STATES[state]
    return rival(priority=priority, reach="up" if healthy else "down", lag=lag, who=who, now=now)


@pytest.mark.parametrize(("b_state", "c_state"), list(itertools.product(STATES, STATES)))
@pytest.mark.parametrize(("b_priority", "c_priority"), PRIORITIES)
def test_when_both_see_each_other_exactly_one_eligible_secondary_goes(
    b_state: str, c_state: str, b_priority: int, c_priority: int
) -> None:
    """Same instant, inside the grace, each region reading the other's real state: at most one goes, and
    one does whenever some secondary is eligible (priority > 0, replica up, lag known and within the gate)."""
    now = TRIGGER + IN_GRACE

    def verdict_of(mine: tuple[tuple[str, str], str, int], other: tuple[tuple[str, str], str, int]) -> Verdict:
        who, state, priority = mine
        healthy, lag = STATES[state]
        view = _view_of(other[1], other[2], other[0], now)
        return decide_succession(situation(me(priority, healthy, lag, who), view, elapsed=IN_GRACE)).verdict

    b = verdict_of((B, b_state, b_priority), (C, c_state, c_priority))
    c = verdict_of((C, c_state, c_priority), (B, b_state, b_priority))
    goes = [v for v in (b, c) if v in (Verdict.GO, Verdict.GO_AFTER_GRACE)]

    def eligible(state: str, priority: int) -> bool:
        return priority > 0 and state == "fresh"

    assert len(goes) == (1 if eligible(b_state, b_priority) or eligible(c_state, c_priority) else 0), (b, c)


def test_the_loser_yields_once_the_winner_has_latched_and_the_datastore_moved() -> None:
    """The sequence: B (preferred) goes and latches; C looks after its grace and yields."""
    b_first = decide_succession(situation(me(10, who=B), rival(priority=20, who=C)))
    assert b_first.verdict == Verdict.GO
    latched = replace(
        rival(priority=10), latch=Latch("sns-b-1", TRIGGER + timedelta(seconds=5), TRIGGER + timedelta(hours=1))
    )
    for store in (datastore("modifying"), datastore(roles={A[0]: "SECONDARY", B[0]: "PRIMARY"})):
        later = decide_succession(situation(me(20), latched, store, AFTER_GRACE))
        assert later.verdict == Verdict.YIELD


# --- configuration ---------------------------------------------------------------------------------------


def test_peers_parse_and_settings_read_the_environment() -> None:
    env = {
        "PROMOTION_PRIORITY": "20",
        "SUCCESSION_PEERS": "us-east-1/my-gds-use1/30/gds-failover-LedgerTable-AAA, us-west-2/my-gds-usw2/10/t-b",
        "SUCCESSION_GRACE_SECONDS": "180",
    }
    settings = SuccessionSettings.from_env(env)
    assert settings.priority == 20
    assert settings.grace == timedelta(seconds=180)
    assert settings.peer("my-gds-usw2") == Peer("us-west-2", "my-gds-usw2", 10, "t-b")
    assert settings.peer("nope") is None
    assert SuccessionSettings.from_env({}) == SuccessionSettings()


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("us-east-1/my-gds-use1/30", "is not region/replication-group-id/priority/ledger-table"),
        ("us-east-1/my-gds-use1/300/table", "priority must be 0-255"),
        ("US-EAST-1/rg/3/table", "is not region"),
        ("us-east-1/rg/3/table,us-west-2/rg/4/table", "twice"),
    ],
)
def test_bad_peers_are_one_line_errors(text: str, phrase: str) -> None:
    with pytest.raises(ConfigError, match=phrase):
        parse_peers(text)


@pytest.mark.parametrize(("name", "value"), [("PROMOTION_PRIORITY", "256"), ("SUCCESSION_GRACE_SECONDS", "301")])
def test_out_of_range_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        SuccessionSettings.from_env({name: value})


def test_the_rival_is_the_member_that_is_neither_this_region_nor_the_writer() -> None:
    assert other_secondary(datastore(), C[0]) == B[0]
    assert other_secondary(datastore(roles={A[0]: "SECONDARY", B[0]: "PRIMARY"}), C[0]) == A[0]
    assert other_secondary(datastore(without=C[0]), B[0]) is None
