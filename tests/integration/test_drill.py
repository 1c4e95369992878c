"""The local drill end to end: real redis-servers, real handlers, real ASL in moto, emulated AWS timing.

Assertions are on emulated time and on what the client and the servers saw, never on wall time.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

import tools.drill.__main__ as drill_main
from tools import rto
from tools.drill.report import _plotted_events, display_path, plot, summary_text
from tools.drill.run import LOG_DIR, ScenarioResult, run_scenario
from tools.drill.scenarios import CATALOGUE, DEFAULT
from tools.drill.world import DRILL_OVERRIDES

pytestmark = [pytest.mark.redis, pytest.mark.slow]


@pytest.fixture(scope="module")
def drill_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("drill-tmp")


@pytest.fixture(scope="module")
def default_run(drill_tmp: Path) -> ScenarioResult:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed; run `make redis-server`")
    saved, tempfile.tempdir = tempfile.tempdir, str(drill_tmp)  # where the drill's TLS keys go
    try:
        return run_scenario(CATALOGUE[DEFAULT], progress=None)
    finally:
        tempfile.tempdir = saved


def test_a_run_leaves_no_temporary_files_and_says_where_its_logs_are(
    default_run: ScenarioResult, drill_tmp: Path
) -> None:
    assert list(drill_tmp.iterdir()) == []  # no tls/server.key left behind
    assert default_run.log_file == LOG_DIR / f"{DEFAULT}.log"
    assert '"promotion decision: promote' in default_run.log_file.read_text(encoding="utf-8")
    assert f"handler logs (Powertools JSON, EMF): {display_path(default_run.log_file)}" in summary_text(default_run)


def test_the_plot_shows_every_probe_and_a_key_for_the_other_events(default_run: ScenarioResult, tmp_path: Path) -> None:
    probes, labelled = _plotted_events(default_run)
    writer_probes = [p for p in probes if p.where == "A" and p.at < default_run.fault_at]
    timeline_writer_probes = [e for e in default_run.timeline if e.kind == "probe" and e.where == "A"]
    assert len(writer_probes) >= 4 > len(timeline_writer_probes)  # the text folds repeats, the plot does not
    assert any(event.kind == "fault" for event in labelled)
    png = tmp_path / "timeline.png"
    assert plot(default_run, png).startswith("timeline plot written to")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_scenario_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert drill_main.main(["--scenario", "nope"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("make drill: no scenario 'nope'; scenarios: primary-region-outage, ")


def test_an_unknown_engine_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert drill_main.main(["--engine", "valky"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == "make drill: no engine 'valky'; engines: redis, valkey"


def test_the_engine_and_its_tls_are_said_before_the_drill_runs() -> None:
    assert drill_main.engine_line("valkey").startswith("engine: Valkey 9.")
    assert drill_main.engine_line("valkey").endswith("AUTH, TLS off")
    assert drill_main.engine_line("redis").endswith("TLS + AUTH")


@pytest.mark.parametrize(
    ("plot_path", "problem"),
    [
        ("/nonexistent/dir/x.png", "directory /nonexistent/dir does not exist"),
        ("timeline.txt", "ending in .png"),
    ],
)
def test_a_plot_path_that_cannot_be_written_fails_before_the_drill_runs(
    plot_path: str, problem: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the drill ran")

    monkeypatch.setattr(drill_main, "run_scenario", must_not_run)
    assert drill_main.main(["--plot", plot_path]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert problem in line


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
    """The drill measures the chain `make rto` models, at the model's typical phase (FAULT_AT_S) with its
    typical delays: its RTO falls in the typical-worst band. The model adds half the record TTL for a
    resolver's cache; the drill's client re-resolves on reconnect, so it may land up to that much sooner."""
    model = _model()
    (outage,) = default_run.outages
    assert outage is not None, "client writes never recovered"
    typical, worst = model.total()
    assert typical - model.record_ttl_s / 2 <= outage <= worst


def _assert_outage_in_the_model_band(result: ScenarioResult, case: str) -> rto.TimingModel:
    """The client's one outage falls in `make rto`'s typical-worst band for ``case`` (less half the TTL: the
    drill's client re-resolves on reconnect)."""
    model = _model()
    (outage,) = result.outages
    assert outage is not None, "client writes never recovered"
    typical, worst = model.total(case)
    assert typical - model.record_ttl_s / 2 <= outage <= worst
    return model


def test_a_writer_that_dies_in_a_region_whose_apis_answer_waits_for_the_in_region_ceiling() -> None:
    result = run_scenario(CATALOGUE["primary-redis-dies"], progress=None)
    model = _assert_outage_in_the_model_band(result, "in-region")
    promoted = next(run for run in result.promoter_runs if run.result.get("decision") == "promote")
    assert "in-region-ceiling" in (promoted.record or {}).get("hold_history", [])
    assert promoted.at - result.fault_at <= model.in_region_ceiling_s  # woken early, it held in one run


@pytest.mark.parametrize("name", ["us-east-1-outage-two-regions", "us-east-1-outage-route53-late"])
def test_a_lost_us_east_1_writer_is_promoted_on_the_witness_within_the_model(name: str) -> None:
    """Route 53's API is gone with us-east-1; the witness, read in B's VPC, is the outside vantage. The RTO
    falls in `make rto`'s us-east-1 band, Route 53 as late as the model's worst case included."""
    result = run_scenario(CATALOGUE[name], progress=None)
    _assert_outage_in_the_model_band(result, "us-east-1")
    promoted = next(run for run in result.promoter_runs if run.result.get("decision") == "promote")
    signals = {s["source"]: s["vote"] for s in (promoted.record or {})["evidence"]["writer_signals"]}
    assert signals["route53"] == "unknown"  # GetHealthCheckStatus: us-east-1's API
    assert signals["route53_witness@us-east-1"] == "dead"


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
        # a concurrent duplicate (in progress) or a replay decides nothing new, so it logs no record
        decided = [
            run
            for run in result.promoter_runs
            if run.result.get("code") != "duplicate-in-progress" and not run.result.get("replayed")
        ]
        assert decided, result.scenario_name
        assert all(run.record is not None for run in decided), result.scenario_name
        assert not result.errors
