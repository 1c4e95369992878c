"""preflight's online part: moto (STS, EC2, ElastiCache replication groups, Secrets Manager, Route 53,
CloudFormation) and the Global Datastore emulator (moto has no global-datastore APIs) behind the same
boto3 ElastiCache client, answering only DescribeGlobalReplicationGroups."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.integration.aws_pair import write_samconfig
from tools import preflight
from tools.gds_emulator import GdsEmulator

GDS = "ldgnf-orders"
REGIONS = {"primary": "us-east-1", "secondary": "us-west-2"}
GROUPS = {"primary": "orders-use1", "secondary": "orders-usw2"}


@dataclass
class Site:
    """One region's prerequisites as moto created them."""

    vpc_id: str
    subnet_ids: list[str]
    security_group_id: str
    endpoint: str
    secret_arn: str


def build_site(env: str, auth: bool = True) -> Site:
    region = REGIONS[env]
    ec2 = boto3.client("ec2", region_name=region)
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.1.{index}.0/24", AvailabilityZone=f"{region}{zone}")["Subnet"][
            "SubnetId"
        ]
        for index, zone in enumerate("ab")
    ]
    group_id = ec2.create_security_group(GroupName="probe", Description="probe", VpcId=vpc_id)["GroupId"]
    elasticache = boto3.client("elasticache", region_name=region)
    elasticache.create_replication_group(
        ReplicationGroupId=GROUPS[env],
        ReplicationGroupDescription="orders",
        Engine="redis",
        CacheNodeType="cache.r7g.large",
        NumCacheClusters=2,
        TransitEncryptionEnabled=True,
        **({"AuthToken": "a-long-enough-auth-token"} if auth else {}),
    )
    group = elasticache.describe_replication_groups(ReplicationGroupId=GROUPS[env])["ReplicationGroups"][0]
    secret_arn = boto3.client("secretsmanager", region_name=region).create_secret(
        Name="orders-auth", SecretString="a-long-enough-auth-token"
    )["ARN"]
    return Site(vpc_id, subnet_ids, group_id, group["NodeGroups"][0]["PrimaryEndpoint"]["Address"], secret_arn)


def samconfig_text(sites: dict[str, Site], extra: dict[str, list[str]] | None = None) -> str:
    blocks = ["version = 0.1"]
    for env, site in sites.items():
        items = [
            f"FailoverRole={'PRIMARY' if env == 'primary' else 'SECONDARY'}",
            f"GlobalReplicationGroupId={GDS}",
            f"ReplicationGroupId={GROUPS[env]}",
            f"RedisPrimaryEndpoint={site.endpoint}",
            f"RedisAuthSecretArn={site.secret_arn}",
            f"VpcId={site.vpc_id}",
            f"SubnetIds={','.join(site.subnet_ids)}",
            f"SecurityGroupIds={site.security_group_id}",
            *((extra or {}).get(env, [])),
        ]
        lines = ",\n    ".join(f'"{item}"' for item in items)
        blocks.append(
            f'[{env}.deploy.parameters]\nstack_name = "gds-failover"\nregion = "{REGIONS[env]}"\n'
            f"parameter_overrides = [\n    {lines},\n]"
        )
    return "\n\n".join(blocks) + "\n"


ACCOUNT = "210987654321"  # not moto's default 123456789012, an AWS documentation example preflight refuses


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[GdsEmulator]:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    with mock_aws():
        yield GdsEmulator(
            gds_id=GDS,
            roles={
                GROUPS["primary"]: (REGIONS["primary"], "PRIMARY"),
                GROUPS["secondary"]: (REGIONS["secondary"], "SECONDARY"),
            },
        )


def factory(emulator: GdsEmulator) -> Any:
    made: dict[tuple[str, str], Any] = {}

    def clients(service: str, region: str) -> Any:
        if (service, region) not in made:
            client = boto3.client(service, region_name=region)  # type: ignore[call-overload]
            if service == "elasticache":
                emulator.attach(client, only="DescribeGlobalReplicationGroups")
            made[service, region] = client
        return made[service, region]

    return clients


def run(samconfig: Path, emulator: GdsEmulator, env: str = "primary") -> tuple[int, list[str]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = preflight.main(["--config-env", env], clients=factory(emulator), samconfig=samconfig)
    return code, out.getvalue().splitlines()


def with_egress(site: Site, region: str) -> None:
    boto3.client("ec2", region_name=region).create_vpc_endpoint(
        VpcId=site.vpc_id,
        ServiceName=f"com.amazonaws.{region}.secretsmanager",
        VpcEndpointType="Interface",
        SubnetIds=site.subnet_ids,
    )


def test_a_ready_region_passes_every_check(tmp_path: Path, emulator: GdsEmulator) -> None:
    sites = {env: build_site(env) for env in REGIONS}
    with_egress(sites["primary"], "us-east-1")
    code, lines = run(write_samconfig(tmp_path, samconfig_text(sites)), emulator)
    assert code == 0, "\n".join(lines)
    for expected in (
        f"ok    credentials: account {ACCOUNT}",
        f"ok    datastore: {GDS} is available",
        "ok    datastore: orders-use1 in us-east-1 is PRIMARY",
        "ok    datastore: orders-usw2 in us-west-2 is SECONDARY",
        f"ok    replication group: orders-use1 available, primary endpoint {sites['primary'].endpoint}:6379",
        "ok    probe egress: secretsmanager: interface endpoint vpce-",
        "ok    secret: orders-auth exists",
        "ok    members: orders-use1 and orders-usw2 match: cluster mode disabled, shards 1, node type cache.r7g.large",
        "ok    zone: no HostedZoneId: this stack creates the zone",
        "ok    stack: gds-failover not deployed yet in us-east-1",
    ):
        assert any(line.startswith(expected) for line in lines), (expected, lines)
    assert lines[-1].startswith("preflight primary: ready")
    assert emulator.operations("DescribeGlobalReplicationGroups")[0].params == {
        "GlobalReplicationGroupId": GDS,
        "ShowMemberInfo": True,
    }


def test_wrong_prerequisites_each_fail_with_one_line(tmp_path: Path, emulator: GdsEmulator) -> None:
    sites = {env: build_site(env) for env in REGIONS}
    other_vpc = boto3.client("ec2", region_name="us-east-1").create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    wrong = dict(sites)
    wrong["primary"] = Site(
        vpc_id=other_vpc,  # the subnets and security group are in another VPC
        subnet_ids=sites["primary"].subnet_ids,
        security_group_id=sites["primary"].security_group_id,
        endpoint="master.orders-use1.zzzzzz.use1.cache.amazonaws.com",
        secret_arn=sites["primary"].secret_arn.replace("orders-auth", "gone-auth"),
    )
    code, lines = run(write_samconfig(tmp_path, samconfig_text(wrong, {"primary": ["RedisTls=false"]})), emulator)
    assert code == 1
    fails = [line for line in lines if line.startswith("FAIL")]
    for expected in (
        "FAIL  replication group: RedisPrimaryEndpoint is master.orders-use1.zzzzzz",
        "FAIL  replication group: RedisTls=false but in-transit encryption is True",
        f"FAIL  network: subnets {', '.join(sites['primary'].subnet_ids)} are not in {other_vpc}",
        f"FAIL  network: security groups {sites['primary'].security_group_id} are not in {other_vpc}",
        "FAIL  probe egress: secretsmanager: no interface endpoint in the VPC and no NAT route from",
        f"FAIL  secret: arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:gone-auth",
    ):
        assert any(line.startswith(expected) for line in fails), (expected, fails)


def test_a_member_missing_from_the_datastore_fails(tmp_path: Path, emulator: GdsEmulator) -> None:
    sites = {env: build_site(env) for env in REGIONS}
    with_egress(sites["primary"], "us-east-1")
    emulator.roles = {GROUPS["primary"]: ("us-east-1", "PRIMARY")}
    code, lines = run(write_samconfig(tmp_path, samconfig_text(sites)), emulator)
    assert code == 1
    assert "FAIL  datastore: orders-usw2 (secondary, us-west-2) is not a member" in lines


def test_the_writer_elsewhere_is_a_warning_for_the_primary_record(tmp_path: Path, emulator: GdsEmulator) -> None:
    sites = {env: build_site(env) for env in REGIONS}
    with_egress(sites["primary"], "us-east-1")
    emulator.roles = {GROUPS["primary"]: ("us-east-1", "SECONDARY"), GROUPS["secondary"]: ("us-west-2", "PRIMARY")}
    code, lines = run(write_samconfig(tmp_path, samconfig_text(sites)), emulator)
    assert code == 0
    assert "warn  datastore: orders-use1 has the PRIMARY record but is SECONDARY today (after a failover?)" in lines


def test_an_unknown_datastore_and_a_denied_call(tmp_path: Path, emulator: GdsEmulator) -> None:
    sites = {env: build_site(env) for env in REGIONS}
    with_egress(sites["primary"], "us-east-1")
    emulator.gds_id = "ldgnf-other"
    code, lines = run(write_samconfig(tmp_path, samconfig_text(sites)), emulator)
    assert code == 1
    assert any(line.startswith(f"FAIL  datastore: no Global Datastore {GDS} seen from us-east-1") for line in lines)

    emulator.gds_id = GDS
    emulator.fail_next("DescribeGlobalReplicationGroups", "AccessDenied", "not authorized")
    code, lines = run(write_samconfig(tmp_path, samconfig_text(sites)), emulator)
    assert code == 2
    (line,) = [line for line in lines if line.startswith("error datastore:")]
    assert "access_denied: AccessDenied" in line


def test_a_nat_route_is_egress_enough(tmp_path: Path, emulator: GdsEmulator) -> None:
    sites = {env: build_site(env) for env in REGIONS}
    ec2 = boto3.client("ec2", region_name="us-east-1")
    site = sites["primary"]
    nat = ec2.create_nat_gateway(SubnetId=site.subnet_ids[0])["NatGateway"]["NatGatewayId"]
    table = ec2.create_route_table(VpcId=site.vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    for subnet in site.subnet_ids:
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    code, lines = run(write_samconfig(tmp_path, samconfig_text(sites)), emulator)
    assert code == 0, lines
    assert "ok    probe egress: secretsmanager: through a NAT route" in lines


def test_no_credentials_is_exit_2_in_one_line(
    tmp_path: Path, emulator: GdsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    sites = {env: build_site(env) for env in REGIONS}
    from botocore.exceptions import NoCredentialsError

    class NoCredentials:
        def get_caller_identity(self) -> Any:
            raise NoCredentialsError()

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = preflight.main(
            ["--config-env", "primary"],
            clients=lambda service, region: NoCredentials(),
            samconfig=write_samconfig(tmp_path, samconfig_text(sites)),
        )
    assert code == 2
    assert "error credentials: GetCallerIdentity failed (error: NoCredentialsError): Unable to locate credentials" in (
        out.getvalue().splitlines()
    )


def test_the_secondary_checks_the_primary_zone_reaches_its_vpc(tmp_path: Path, emulator: GdsEmulator) -> None:
    from tests.integration.aws_pair import deploy_stack

    sites = {env: build_site(env) for env in REGIONS}
    with_egress(sites["secondary"], "us-west-2")
    route53 = boto3.client("route53")
    zone_id = route53.create_hosted_zone(
        Name="internal",
        CallerReference="preflight",
        HostedZoneConfig={"Comment": "primary's zone", "PrivateZone": True},
        VPC={"VPCRegion": "us-east-1", "VPCId": sites["primary"].vpc_id},
    )["HostedZone"]["Id"].split("/")[-1]
    deploy_stack("us-east-1", {"FailoverRole": "PRIMARY", "HostedZoneId": zone_id})
    samconfig = write_samconfig(tmp_path, samconfig_text(sites))

    code, lines = run(samconfig, emulator, env="secondary")
    assert code == 1
    assert (
        f"FAIL  zone: internal is not associated with {sites['secondary'].vpc_id}: "
        "clients there cannot resolve redis.internal"
    ) in lines

    route53.associate_vpc_with_hosted_zone(
        HostedZoneId=zone_id, VPC={"VPCRegion": "us-west-2", "VPCId": sites["secondary"].vpc_id}
    )
    code, lines = run(samconfig, emulator, env="secondary")
    assert code == 0, lines
    assert f"ok    zone: internal ({zone_id}), private, associated with {sites['secondary'].vpc_id}" in lines


def test_cluster_mode_must_match_the_group(tmp_path: Path, emulator: GdsEmulator) -> None:
    sites = {env: build_site(env) for env in REGIONS}
    with_egress(sites["primary"], "us-east-1")
    code, lines = run(write_samconfig(tmp_path, samconfig_text(sites, {"primary": ["ClusterMode=enabled"]})), emulator)
    assert code == 1
    assert (
        "FAIL  replication group: ClusterMode=enabled but orders-use1 has cluster mode disabled "
        "(set ClusterMode=disabled; RedisPrimaryEndpoint is then its primary endpoint)"
    ) in lines
