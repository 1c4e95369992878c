"""The three-region drill end to end: three real redis-servers, three stacks' real handlers, the nested
Route 53 answer and the succession between the two secondaries.

Assertions are on emulated time, on the promoters' decisions per region and on what the servers and the
client saw, never on wall time or on the order of two promoters deciding in the same second.
"""

from __future__ import annotations

import shutil

import pytest

from tools.drill.run import ScenarioResult, run_scenario
from tools.drill.scenarios import CATALOGUE

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def outage() -> ScenarioResult:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed; run `make redis-server`")
    return run_scenario(CATALOGUE["three-primary-region-outage"], progress=None)


def _accepted(result: ScenarioResult) -> list[str]:
    return [e.text for e in result.timeline if e.kind == "gds" and "FailoverGlobalReplicationGroup accepted" in e.text]


def test_the_preferred_secondary_promotes_and_the_other_one_waits_then_stands_down(outage: ScenarioResult) -> None:
    assert outage.passed, (outage.observed, outage.checks, outage.errors)
    (accepted,) = _accepted(outage)
    assert "(from us-west-2)" in accepted
    by_region = {label: [r for r in outage.promoter_runs if r.region == label] for label in "BC"}
    assert [r.result["decision"] for r in by_region["B"]].count("promote") == 1
    assert all(r.result["decision"] != "promote" for r in by_region["C"])
    waited = [r for r in by_region["C"] if "succession-wait" in (r.record or {}).get("hold_history", [])]
    assert waited, [r.result for r in by_region["C"]]
    promote = next(r for r in by_region["B"] if r.result["decision"] == "promote")
    assert any("succession go (preferred)" in reason for reason in promote.result["reasons"])


def test_dns_follows_the_nested_pair_and_c_replicates_from_b(outage: ScenarioResult) -> None:
    after = [e for e in outage.timeline if e.at >= outage.fault_at]
    (flip,) = [e for e in after if e.kind == "dns"]
    assert flip.text == "redis.internal -> SECONDARY > PRIMARY master.drill-usw2.drill.us-west-2.cache.amazonaws.com"
    assert flip.details == ["A unhealthy, B healthy, C unhealthy"]
    (complete,) = [e.text for e in after if e.kind == "gds" and "promotion complete" in e.text]
    assert "drill-usw2 (us-west-2) is PRIMARY" in complete
    assert "drill-euw1 now REPLICAOF it" in complete
    recovered = next(e for e in after if e.kind == "client" and e.text.startswith("first successful"))
    assert "us-west-2" in recovered.text
    assert outage.lost_writes == 0
    assert outage.acknowledged_writes > 100


def test_with_the_preferred_replica_down_the_other_secondary_promotes_at_once() -> None:
    result = run_scenario(CATALOGUE["three-preferred-replica-down"], progress=None)
    assert result.passed, (result.observed, result.checks, result.errors)
    (accepted,) = _accepted(result)
    assert "(from eu-west-1)" in accepted
    # a wake-up's replay repeats the decision already made: not a second promotion
    (promote,) = [r for r in result.promoter_runs if r.result["decision"] == "promote" and not r.result.get("replayed")]
    assert promote.region == "C"
    assert any("succession go (rival-cannot)" in reason for reason in promote.result["reasons"])
    assert "succession-wait" not in (promote.record or {}).get("hold_history", [])
    assert not [r for r in result.promoter_runs if r.region == "B" and r.result["decision"] == "promote"]
