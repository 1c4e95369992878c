"""make delete against moto: the zone-owning stack goes last; a fake sam delete removes the stand-in stack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.integration.aws_pair import PRIMARY_REGION, SECONDARY_REGION, deploy_stack, write_samconfig
from tools import delete


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def clients(service: str, region: str) -> Any:
    return boto3.client(service, region_name=region)  # type: ignore[call-overload]


class FakeSamDelete:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str]) -> int:
        self.calls.append(argv)
        name, region = argv[argv.index("--stack-name") + 1], argv[argv.index("--region") + 1]
        boto3.client("cloudformation", region_name=region).delete_stack(StackName=name)
        return 0


def run(tmp_path: Path, *argv: str, runner: FakeSamDelete) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = delete.main(
        list(argv), clients=clients, runner=runner, samconfig=write_samconfig(tmp_path), say=lines.append
    )
    return code, lines


@pytest.mark.usefixtures("aws")
def test_the_zone_owner_waits_for_its_peer_then_both_go(tmp_path: Path) -> None:
    deploy_stack(PRIMARY_REGION, {"FailoverRole": "PRIMARY"})
    deploy_stack(SECONDARY_REGION, {"FailoverRole": "SECONDARY"})
    fake = FakeSamDelete()

    code, lines = run(tmp_path, "--config-env", "primary", runner=fake)
    assert code == 1
    assert fake.calls == []
    assert lines[-1].endswith("First: make delete CONFIG_ENV=secondary")

    code, lines = run(tmp_path, "--config-env", "secondary", runner=fake)
    assert code == 0, lines
    assert fake.calls[-1][1:] == ["delete", "--stack-name", "gds-failover", "--region", SECONDARY_REGION]
    assert fake.calls[-1][0].endswith("sam")

    code, lines = run(tmp_path, "--config-env", "primary", runner=fake)
    assert code == 0, lines
    assert fake.calls[-1][-1] == PRIMARY_REGION
    assert "ledger table" in lines[-1]


def test_dry_run_makes_no_aws_call(tmp_path: Path) -> None:
    def no_aws(service: str, region: str) -> Any:
        raise AssertionError(f"no AWS call expected, got {service} in {region}")

    lines: list[str] = []
    fake = FakeSamDelete()
    code = delete.main(
        ["--config-env", "primary", "--dry-run"],
        clients=no_aws,
        runner=fake,
        samconfig=write_samconfig(tmp_path),
        say=lines.append,
    )
    assert code == 0
    assert fake.calls == []
    assert "secondary (gds-failover in us-west-2)" in lines[0]
    assert lines[-1].endswith(f"delete --stack-name gds-failover --region {PRIMARY_REGION}")


def test_an_unknown_environment_is_a_one_line_usage_error(tmp_path: Path) -> None:
    code, lines = run(tmp_path, "--config-env", "nope", runner=FakeSamDelete())
    assert code == 2
    (line,) = lines
    assert line.startswith("delete: ")
    assert "nope" in line


@pytest.mark.usefixtures("aws")
def test_make_switchover_takes_the_target_from_samconfig_and_its_stack(tmp_path: Path) -> None:
    import argparse

    from tests.integration.aws_pair import GDS_ID, PRIMARY_RG
    from tools import switchover

    deploy_stack(PRIMARY_REGION, {"FailoverRole": "PRIMARY", "ReplicationGroupId": PRIMARY_RG})
    args = switchover.parse_args(["--config-env", "primary", "--dry-run"])
    switchover.target_from_samconfig(args, clients, write_samconfig(tmp_path))
    assert (args.global_replication_group_id, args.target_region, args.target_replication_group_id) == (
        GDS_ID,
        PRIMARY_REGION,
        PRIMARY_RG,
    )
    assert args.ledger_table == f"gds-failover-LedgerTable-{PRIMARY_RG}"

    missing = argparse.Namespace(**{**vars(args), "ledger_table": None, "config_env": "secondary"})
    with pytest.raises(switchover.TargetUnknown, match="secondary's stack gds-failover in us-west-2 has no"):
        switchover.target_from_samconfig(missing, clients, write_samconfig(tmp_path))


def test_switchover_without_a_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from tools import switchover

    with pytest.raises(SystemExit) as exit_:
        switchover.parse_args(["--dry-run"])
    assert exit_.value.code == 2
    assert "name the target with --config-env or with --global-replication-group-id" in capsys.readouterr().err
