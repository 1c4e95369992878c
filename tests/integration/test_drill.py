"""The local drill end to end: real redis-servers, real handlers, real ASL in moto, emulated AWS timing.

Assertions are on emulated time and on what the client and the servers saw, never on wall time.
"""

from __future__ import annotations

import shutil

import pytest

from tools import rto
from tools.drill.run import ScenarioResult, run_scenario
from tools.drill.scenarios import CATALOGUE, DEFAULT
from tools.drill.world import DRILL_OVERRIDES

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def default_run() -> ScenarioResult:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed; run `make redis-server`")
    return run_scenario(CATALOGUE[DEFAULT], progress=None)


def _model() -> rto.TimingModel:
    defaults = rto.TimingModel.from_template()
    return rto.TimingModel.from_parameters({**defaults.parameters, **DRILL_OVERRIDES})


def test_default_scenario_is_the_primary_region_outage_and_promotes_once(default_run: ScenarioResult) -> None:
    assert default_run.scenario_name == "primary-region-outage"
    assert default_run.observed == ("promote:promote",)
    assert default_run.passed, default_run.checks
    assert not default_run.errors


def test_default_scenario_loses_no_acknowledged_write(default_run: ScenarioResult) -> None:
    assert default_run.acknowledged_writes > 100
    assert default_run.lost_writes == 0


def test_default_scenario_rto_is_within_the_timing_model(default_run: ScenarioResult) -> None:
    """The drill measures the chain `make rto` models: its RTO falls inside the typical-worst band (the
    drill runs the sourced typical promotion and typical delays, so it lands near the typical end)."""
    model = _model()
    (outage,) = default_run.outages
    assert outage is not None, "client writes never recovered"
    typical, worst = model.total()
    assert model.decided_after()[0] + rto.PROMOTION_TYPICAL_S <= outage <= worst
    assert abs(outage - typical) <= model.probe_cadence_s + model.record_ttl_s


def test_default_scenario_timeline_shows_the_whole_chain(default_run: ScenarioResult) -> None:
    after = [e for e in default_run.timeline if e.at >= default_run.fault_at]
    kinds = [e.kind for e in after]
    assert kinds[0] == "fault"
    assert any(e.kind == "alarm" and "promotion trigger OK -> ALARM" in e.text for e in after)
    assert any(e.kind == "promoter" and e.text.startswith("promote") for e in after)
    assert any(e.kind == "gds" and "promotion complete" in e.text for e in after)
    flip = next(e for e in after if e.kind == "dns")
    assert "SECONDARY" in flip.text
    recovered = next(e for e in after if e.kind == "client" and e.text.startswith("first successful"))
    assert "us-west-2" in recovered.text
    assert recovered.at >= flip.at


def test_replication_break_is_refused_because_the_writer_is_alive() -> None:
    result = run_scenario(CATALOGUE["replication-broken"], progress=None)
    assert result.observed == ("refuse:writer-alive",)
    assert result.outages == []
    assert result.passed, result.checks


def test_a_broken_probe_in_the_writer_region_is_outvoted_by_the_live_replication_link() -> None:
    result = run_scenario(CATALOGUE["probe-broken-in-primary"], progress=None)
    assert result.observed == ("refuse:writer-alive",)
    replica_probes = [event.text for event in result.timeline if event.kind == "probe" and event.where == "B"]
    assert replica_probes
    assert all(text.endswith("replication link up") for text in replica_probes), replica_probes
    assert result.passed, result.checks


def test_every_run_in_one_process_keeps_its_decision_records(default_run: ScenarioResult) -> None:
    """Powertools loggers outlive a run (shared by service name): later runs must still capture them."""
    later = run_scenario(CATALOGUE["primary-redis-dies"], progress=None)
    for result in (default_run, later):
        assert result.promoter_runs, result.scenario_name
        assert all(run.record is not None for run in result.promoter_runs), result.scenario_name
        assert not result.errors
