"""The experiments make gameday can run, what each is expected to end in, and when it has.

An experiment is an FIS template of examples/gameday/template.yaml, found by its tags
(``gds-failover-experiment`` = the name, ``gds-failover-datastore`` = the Global Datastore).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tools.gameday.chain import ChainState

EXPERIMENT_TAG = "gds-failover-experiment"
DATASTORE_TAG = "gds-failover-datastore"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Expectation:
    """What the chain must end in, for one experiment in one PromotionMode."""

    text: str
    #: the end state is there (the run stops watching and stops the experiment)
    reached: Callable[[ChainState], bool]
    judge: Callable[[ChainState], Verdict]


@dataclass(frozen=True)
class Experiment:
    name: str
    summary: str
    proves: str
    cannot_show: str
    default_timeout_minutes: int

    def expectation(self, promotion_mode: str, settle_s: float) -> Expectation:
        if self.name == "in-region-failover":
            return _in_region(settle_s)
        if promotion_mode == "auto":
            return _promoted()
        return _decided_not_acted(promotion_mode)


def _promotes(state: ChainState) -> list[dict[str, object]]:
    return [record for record in state.peer_decisions if record.get("decision") == "promote"]


def _in_region(settle_s: float) -> Expectation:
    def reached(state: ChainState) -> bool:
        done = state.in_region_failover_at
        return done is not None and state.now is not None and (state.now - done).total_seconds() >= settle_s

    def judge(state: ChainState) -> Verdict:
        reasons = []
        if state.in_region_failover_at is None:
            reasons.append("no in-region failover seen (no primary node change, no ElastiCache failover event)")
        if _promotes(state):
            reasons.append(f"the peer decided promote {len(_promotes(state))} time(s) during an in-region failover")
        if state.writer_group != state.writer.group:
            reasons.append(f"the Global Datastore's writer moved to {state.writer_group}")
        return Verdict(not reasons, tuple(reasons) or ("in-region failover, no cross-region promotion",))

    return Expectation(
        f"a Multi-AZ failover inside the writer's region, then {settle_s:.0f} s without a cross-region promotion",
        reached,
        judge,
    )


def _decided_not_acted(mode: str) -> Expectation:
    def reached(state: ChainState) -> bool:
        return bool(_promotes(state))

    def judge(state: ChainState) -> Verdict:
        reasons = []
        promotes = _promotes(state)
        if not promotes:
            reasons.append("no promote decision record from the peer's promoter")
        if any(record.get("acted") for record in promotes):
            reasons.append(f"the promoter acted in PromotionMode={mode}")
        if state.writer_group != state.writer.group:
            reasons.append(f"the Global Datastore's writer moved to {state.writer_group}")
        return Verdict(not reasons, tuple(reasons) or (f"promote decided, not acted ({mode}), no failover",))

    return Expectation(f"a promote decision record from the peer ({mode}: not acted) and no failover", reached, judge)


def _promoted() -> Expectation:
    def reached(state: ChainState) -> bool:
        return state.writer_group == state.peer.group and state.dns_answer == state.peer.endpoint

    def judge(state: ChainState) -> Verdict:
        reasons = []
        acted = [record for record in _promotes(state) if record.get("acted")]
        if len(acted) != 1:
            reasons.append(f"{len(acted)} promotions acted (expected exactly one)")
        if state.writer_group != state.peer.group:
            reasons.append(f"the Global Datastore's writer is {state.writer_group}, not {state.peer.group}")
        if state.dns_answer != state.peer.endpoint:
            reasons.append(f"the record answers {state.dns_answer or 'nothing'}, not {state.peer.endpoint}")
        return Verdict(not reasons, tuple(reasons) or ("one failover, the datastore and DNS on the peer",))

    return Expectation("one failover: the peer is the writer and the record answers it", reached, judge)


EXPERIMENTS = {
    experiment.name: experiment
    for experiment in (
        Experiment(
            name="in-region-failover",
            summary="FIS interrupts AZ power to the writer group's nodes in its primary's AZ",
            proves=(
                "a real Multi-AZ failover is ridden out inside the region: the promoter holds or refuses, "
                "the Global Datastore keeps its writer"
            ),
            cannot_show="a failover of the whole region (the other AZs and the region's APIs keep working)",
            default_timeout_minutes=20,
        ),
        Experiment(
            name="writer-unreachable",
            summary="FIS denies all traffic in and out of the writer's tagged subnets (its Redis and its probe)",
            proves=(
                "the surviving region detects a writer it cannot see, decides from a second vantage "
                "(the writer region's own probes, Route 53) and, in auto mode, promotes once and moves DNS"
            ),
            cannot_show=(
                "a regional outage: the writer region's APIs, CloudWatch and Lambda keep answering, and "
                "Global Datastore replication runs on AWS's network, which FIS does not cut"
            ),
            default_timeout_minutes=20,
        ),
    )
}
