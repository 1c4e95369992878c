"""make deploy against moto: the peer's outputs are read with DescribeStacks in the peer's region and
passed to a fake sam deploy (tests/integration/aws_pair.py); no test runs the real sam deploy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.integration.aws_pair import (
    PRIMARY_REGION,
    SAMCONFIG,
    SECONDARY_REGION,
    SECONDARY_RG,
    FakeSamDeploy,
    stack,
    write_samconfig,
)
from tools import deploy

REGIONS = {"primary": PRIMARY_REGION, "secondary": SECONDARY_REGION}


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def samconfig(tmp_path: Path) -> Path:
    return write_samconfig(tmp_path)


def clients(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)  # type: ignore[call-overload]


def run(samconfig: Path, *argv: str, runner: FakeSamDeploy | None = None) -> tuple[int, list[str], FakeSamDeploy]:
    lines: list[str] = []
    fake = runner or FakeSamDeploy(REGIONS)
    code = deploy.main(list(argv), clients=clients, runner=fake, samconfig=samconfig, say=lines.append)
    return code, lines, fake


@pytest.mark.usefixtures("aws")
def test_first_region_deploys_without_peer_wiring_and_prints_the_follow_up(samconfig: Path) -> None:
    code, lines, fake = run(samconfig, "--config-env", "primary")
    assert code == 0
    assert len(fake.calls) == 1
    argv = fake.calls[0]
    assert argv[1:4] == ["deploy", "--config-env", "primary"]
    overrides = fake.overrides(0)
    assert (
        overrides["PeerHealthCheckId"] == overrides["PeerWriterAlarmName"] == overrides["PeerPromotionTopicArn"] == ""
    )
    # the PRIMARY creates the zone and associates the peer environment's VPC, taken from samconfig.toml
    assert overrides["PeerVpcId"] == "vpc-0b1c2d3e4f5a60718"
    assert overrides["PeerVpcRegion"] == SECONDARY_REGION
    assert overrides["PeerReplicationGroupId"] == SECONDARY_RG  # the dashboard's peer panels
    assert "HostedZoneId" not in overrides
    assert any("secondary's stack gds-failover in us-west-2 is not deployed yet" in line for line in lines)
    assert lines[-1].endswith("Next: make deploy CONFIG_ENV=secondary, then make deploy CONFIG_ENV=primary again")


@pytest.mark.usefixtures("aws")
def test_second_region_takes_the_peer_outputs_and_the_zone(samconfig: Path) -> None:
    run(samconfig, "--config-env", "primary")
    primary_outputs, _ = stack(PRIMARY_REGION)

    code, lines, fake = run(samconfig, "--config-env", "secondary")

    assert code == 0
    overrides = fake.overrides(0)
    assert overrides["PeerHealthCheckId"] == primary_outputs["HealthCheckId"]
    assert overrides["PeerWriterAlarmName"] == primary_outputs["WriterAlarmName"]  # read, never guessed
    assert overrides["PeerPromotionTopicArn"] == primary_outputs["PromotionTopicArn"]
    assert overrides["HostedZoneId"] == primary_outputs["HostedZoneId"]
    assert "PeerVpcId" not in overrides  # only the zone's creator associates VPCs
    assert lines[-1].endswith("Next: make deploy CONFIG_ENV=primary")


@pytest.mark.usefixtures("aws")
def test_pair_deploys_primary_secondary_primary_and_wires_both_ways(samconfig: Path) -> None:
    code, lines, fake = run(samconfig, "--config-env", "primary", "--pair")

    assert code == 0
    assert [argv[3] for argv in fake.calls] == ["primary", "secondary", "primary"]
    primary_outputs, primary_parameters = stack(PRIMARY_REGION)
    secondary_outputs, secondary_parameters = stack(SECONDARY_REGION)
    for output, parameter in (
        ("HealthCheckId", "PeerHealthCheckId"),
        ("WriterAlarmName", "PeerWriterAlarmName"),
        ("PromotionTopicArn", "PeerPromotionTopicArn"),
    ):
        assert secondary_parameters[parameter] == primary_outputs[output]
        assert primary_parameters[parameter] == secondary_outputs[output]
    assert secondary_parameters["HostedZoneId"] == primary_outputs["HostedZoneId"]
    assert primary_parameters["HostedZoneId"] == ""  # the primary keeps creating (owning) the zone
    assert lines[-1] == "deploy primary: done; primary and secondary are wired to each other"


@pytest.mark.usefixtures("aws")
def test_a_renamed_writer_alarm_tells_the_peer_to_follow_and_the_peer_picks_it_up(tmp_path: Path) -> None:
    samconfig = write_samconfig(tmp_path)
    run(samconfig, "--config-env", "primary", "--pair")
    # the writer alarm's name changes with its settings; here the stand-in derives it from the group id
    renamed = write_samconfig(
        tmp_path, SAMCONFIG.replace('"ReplicationGroupId=orders-usw2"', '"ReplicationGroupId=orders-usw2b"')
    )

    code, lines, _ = run(renamed, "--config-env", "secondary")
    assert code == 0
    assert lines[-1].endswith(
        "primary's stack does not carry secondary's current PeerWriterAlarmName yet. "
        "Next: make deploy CONFIG_ENV=primary"
    )

    code, lines, fake = run(renamed, "--config-env", "primary")
    assert code == 0
    assert fake.overrides(0)["PeerWriterAlarmName"] == "gds-failover-writer-orders-usw2b-p60"
    assert lines[-1] == "deploy primary: done; primary and secondary are wired to each other"


@pytest.mark.usefixtures("aws")
def test_secondary_first_is_refused_because_the_zone_comes_from_the_primary(samconfig: Path) -> None:
    code, lines, fake = run(samconfig, "--config-env", "secondary")
    assert code == 1
    assert fake.calls == []
    assert "deploy it first (make deploy CONFIG_ENV=primary)" in lines[-1]


@pytest.mark.usefixtures("aws")
def test_explicit_samconfig_values_win_with_a_note(tmp_path: Path) -> None:
    text = SAMCONFIG.replace(
        '"FailoverRole=SECONDARY",',
        '"FailoverRole=SECONDARY",\n    "PeerHealthCheckId=0a1b2c3d-0a1b-4c5d-8e9f-0a1b2c3d4e5f",',
    )
    samconfig = write_samconfig(tmp_path, text)
    run(samconfig, "--config-env", "primary")
    code, lines, fake = run(samconfig, "--config-env", "secondary")
    assert code == 0
    assert fake.overrides(0)["PeerHealthCheckId"] == "0a1b2c3d-0a1b-4c5d-8e9f-0a1b2c3d4e5f"
    assert any("keeping yours" in line for line in lines)


@pytest.mark.parametrize("env", ["primary", "secondary"])
def test_dry_run_makes_no_aws_call_and_names_the_peer_values_it_would_read(samconfig: Path, env: str) -> None:
    def no_aws(service: str, region: str) -> Any:
        raise AssertionError(f"no AWS call expected, got {service} in {region}")

    lines: list[str] = []
    fake = FakeSamDeploy(REGIONS)
    code = deploy.main(
        ["--config-env", env, "--dry-run"], clients=no_aws, runner=fake, samconfig=samconfig, say=lines.append
    )
    assert code == 0, lines
    assert fake.calls == []
    assert lines[-1].startswith("dry run, not running: ")
    assert "--parameter-overrides" in lines[-1]
    peer = "secondary" if env == "primary" else "primary"
    assert f"  PeerHealthCheckId=<{peer} stack output HealthCheckId>" in lines
    (read,) = [line for line in lines if "a real run reads" in line]
    assert f"{peer}'s stack gds-failover in {REGIONS[peer]}" in read
    assert "PeerWriterAlarmName" in read
    assert ("HostedZoneId" in read) == (env == "secondary")


@pytest.mark.usefixtures("aws")
def test_a_failing_sam_deploy_exits_1(samconfig: Path) -> None:
    code, lines, _ = run(samconfig, "--config-env", "primary", runner=FakeSamDeploy(REGIONS, exit_status=1))
    assert code == 1
    assert lines[-1] == "deploy primary: sam deploy exited 1"


def test_placeholders_are_refused_before_any_aws_call(tmp_path: Path) -> None:
    samconfig = write_samconfig(tmp_path, SAMCONFIG.replace("vpc-0a1b2c3d4e5f60718", "vpc-0123456789abcdef0"))

    def no_aws(service: str, region: str) -> Any:
        raise AssertionError(f"no AWS call expected, got {service} in {region}")

    lines: list[str] = []
    fake = FakeSamDeploy(REGIONS)
    code = deploy.main(["--config-env", "primary"], clients=no_aws, runner=fake, samconfig=samconfig, say=lines.append)
    assert code == 1
    assert fake.calls == []
    assert any("VpcId=vpc-0123456789abcdef0 (an example id)" in line for line in lines)
    assert lines[-1].endswith("refused by preflight; fix samconfig.toml (make preflight CONFIG_ENV=primary)")


def test_an_unreadable_peer_is_an_aws_error_not_an_unwired_deploy(samconfig: Path) -> None:
    from botocore.exceptions import EndpointConnectionError

    class Unreachable:
        def describe_stacks(self, **kwargs: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://cloudformation.us-west-2.amazonaws.com/")

    lines: list[str] = []
    fake = FakeSamDeploy(REGIONS)
    code = deploy.main(
        ["--config-env", "primary"],
        clients=lambda s, r: Unreachable(),
        runner=fake,
        samconfig=samconfig,
        say=lines.append,
    )
    assert code == 2
    assert fake.calls == []
    assert "cannot read secondary's stack gds-failover in us-west-2" in lines[-1]
    assert "SKIP_PEER=1" in lines[-1]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--config-env", "nope"], "has no environment 'nope'"),
        (["--config-env", "primary", "--pair", "--skip-peer"], "contradict"),
    ],
)
def test_usage_errors_exit_2_with_one_line(samconfig: Path, argv: list[str], expected: str) -> None:
    lines: list[str] = []
    code = deploy.main(argv, clients=clients, runner=FakeSamDeploy(REGIONS), samconfig=samconfig, say=lines.append)
    assert code == 2
    assert len(lines) == 1
    assert expected in lines[0]


def test_a_missing_sam_cli_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert deploy.sam_runner(["/nonexistent/sam", "deploy"]) == 127
    assert capsys.readouterr().out.startswith("cannot run /nonexistent/sam: No such file or directory")
