"""The timing and cost model follows the template's parameters (tools/rto.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tools.cfn import load_template, parameter_defaults, samconfig_overrides
from tools.rto import PREVIOUS_COST_USD, PROFILES, TimingModel, main, monthly_cost


@pytest.fixture
def defaults() -> TimingModel:
    return TimingModel.from_template()


def test_model_reads_the_template_defaults(defaults: TimingModel) -> None:
    params = parameter_defaults(load_template())
    assert defaults.probe_cadence_s == float(params["ProbeCadenceSeconds"])
    assert defaults.heartbeat_threshold_s == float(params["HeartbeatAgeThresholdSeconds"])
    assert defaults.record_ttl_s == float(params["RecordTtl"])
    typical, worst = defaults.total()
    assert 0 < typical < worst


def test_every_step_has_typical_at_most_worst(defaults: TimingModel) -> None:
    for step in defaults.steps():
        assert 0 <= step.typical_s <= step.worst_s, step


@pytest.mark.parametrize(
    ("parameter", "faster", "slower"),
    [
        ("HeartbeatAgeThresholdSeconds", "30", "300"),
        ("RecordTtl", "5", "60"),
        ("PublishHealthOnPromotion", "true", "false"),
        ("ProbeCadenceSeconds", "10", "30"),
    ],
)
def test_parameters_move_the_total_the_right_way(parameter: str, faster: str, slower: str) -> None:
    params = parameter_defaults(load_template())
    fast = TimingModel.from_parameters({**params, parameter: faster}).total()
    slow = TimingModel.from_parameters({**params, parameter: slower}).total()
    assert fast[1] < slow[1]


@pytest.mark.parametrize(
    ("parameter", "faster", "slower"),
    [("TriggerAlarmEvaluationPeriods", "1", "3"), ("TriggerAlarmPeriodSeconds", "30", "60")],
)
def test_the_trigger_alarm_is_the_backstop(parameter: str, faster: str, slower: str) -> None:
    """The state machine's wake-up carries the critical path; the alarm's settings move only the backstop."""
    params = parameter_defaults(load_template())
    fast = TimingModel.from_parameters({**params, parameter: faster})
    slow = TimingModel.from_parameters({**params, parameter: slower})
    assert fast.alarm_backstop()[1] < slow.alarm_backstop()[1]
    assert fast.total() == slow.total()
    assert fast.triggered_after()[1] < fast.alarm_backstop()[1]


def test_the_in_region_ceiling_delays_only_a_writer_whose_region_answers() -> None:
    params = parameter_defaults(load_template())
    short = TimingModel.from_parameters({**params, "InRegionFailoverCeilingSeconds": "60"})
    long = TimingModel.from_parameters({**params, "InRegionFailoverCeilingSeconds": "300"})
    assert short.total("in-region")[0] < long.total("in-region")[0]
    assert short.total() == long.total()
    # the ceiling counts from the writer's first failed probe: never shorter than the ceiling itself
    assert long.decided_after("in-region")[0] >= 300


def test_put_metric_data_marks_a_dead_writer_unhealthy_sooner() -> None:
    params = parameter_defaults(load_template())
    api = TimingModel.from_parameters({**params, "HealthMetricPublisher": "api"}).old_primary_unhealthy_after()
    emf = TimingModel.from_parameters({**params, "HealthMetricPublisher": "emf"}).old_primary_unhealthy_after()
    assert api[1] < emf[1]


def test_faster_cadence_costs_more_lambda(defaults: TimingModel) -> None:
    every_30s, every_10s = replace(defaults, probe_cadence_s=30.0), replace(defaults, probe_cadence_s=10.0)
    lambda_cost = {
        m.probe_cadence_s: next(c for c in monthly_cost(m) if c.item == "Lambda probe").usd_month
        for m in (every_30s, every_10s)
    }
    assert lambda_cost[10.0] == pytest.approx(3 * lambda_cost[30.0])


def test_defaults_meet_the_failover_and_cost_targets(defaults: TimingModel) -> None:
    """Issue 14's targets at the design card's 30 s cadence: region lost <= 150 s typical, <= 330 s worst;
    a writer that dies in a region whose APIs answer <= 210 s typical; the 15 s profile <= 120 s typical."""
    assert defaults.probe_cadence_s == 30
    typical, worst = defaults.total()
    assert typical <= 150
    assert worst <= 330
    assert defaults.total("in-region")[0] <= 210
    fifteen = TimingModel.from_parameters({**defaults.parameters, **PROFILES["15 s profile"]})
    assert fifteen.total()[0] <= 120
    assert sum(line.usd_month for line in monthly_cost(defaults)) <= PREVIOUS_COST_USD


def test_high_resolution_trigger_is_billed_as_such(defaults: TimingModel) -> None:
    alarms = next(c for c in monthly_cost(defaults) if c.item == "CloudWatch alarms")
    standard = replace(defaults, parameters={**defaults.parameters, "TriggerAlarmPeriodSeconds": "60"})
    standard_alarms = next(c for c in monthly_cost(standard) if c.item == "CloudWatch alarms")
    assert alarms.usd_month - standard_alarms.usd_month == pytest.approx(0.20)


def test_node_alarms_are_billed_for_the_monitored_nodes(defaults: TimingModel) -> None:
    def alarms(nodes: str) -> float:
        model = replace(defaults, parameters={**defaults.parameters, "MonitoredNodeCount": nodes})
        return next(c for c in monthly_cost(model) if c.item == "CloudWatch alarms").usd_month

    assert alarms("6") - alarms("3") == pytest.approx(5 * 3 * 0.10)


def test_standard_state_machine_is_priced_by_transitions(defaults: TimingModel) -> None:
    standard = replace(defaults, parameters={**defaults.parameters, "StateMachineType": "STANDARD"})
    items = {line.item: line.usd_month for line in monthly_cost(standard)}
    assert "Step Functions STANDARD" in items
    assert items["Step Functions STANDARD"] > 2.0  # 43,800 executions x 3 transitions at $0.025/1000


def test_samconfig_overrides_apply(tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[drill.deploy.parameters]\nparameter_overrides = "RecordTtl=30 HostedZoneName=\\"my zone\\""\n'
    )
    assert samconfig_overrides("drill", config) == {"RecordTtl": "30", "HostedZoneName": "my zone"}
    with pytest.raises(KeyError, match="no environment"):
        samconfig_overrides("missing", config)
    # `version` is a top-level key of samconfig.toml, not an environment
    with pytest.raises(KeyError, match="no environment 'version'; it has drill"):
        samconfig_overrides("version", config)


def test_every_samconfig_env_yields_a_model() -> None:
    for env in ("default", "primary", "secondary"):
        model = TimingModel.from_template(env)
        assert model.total()[0] > 0


def test_cli_prints_steps_totals_and_cost(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "total to a writable redis.internal" in out
    assert "monthly cost per regional stack" in out
    assert "three regions (SuccessionGraceSeconds=180)" in out
    assert "a third region (stack without the zone)" in out
    assert "against $11.43" in out
    assert "15 s profile" in out
    assert "writer dies, its region's APIs answer" in out
    assert main(["--config-env", "nope"]) == 2
    assert main(["--config-env", "version"]) == 2
