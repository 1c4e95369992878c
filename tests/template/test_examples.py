"""The examples' wiring: the Kubernetes manifests feed gds_client exactly the settings it reads, and the
datastore stack's outputs are the failover stack's parameters. (Schemas, cfn-lint and checkov: .ci/example-gates.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gds_client import ClientSettings
from tests.template.test_template import _samconfig_overrides
from tools.cfn import ROOT, load_template

KUBERNETES = ROOT / "examples" / "kubernetes"
DATASTORE = ROOT / "examples" / "datastore" / "template.yaml"
SETTINGS_SOURCE = ROOT / "examples" / "client-python" / "gds_client" / "settings.py"
#: What the datastore stack provides to the failover stack in the same region.
FROM_DATASTORE = {
    "GlobalReplicationGroupId",
    "ReplicationGroupId",
    "RedisPrimaryEndpoint",
    "RedisAuthSecretArn",
    "VpcId",
    "SubnetIds",
    "SecurityGroupIds",
}


def manifests() -> dict[str, dict[str, Any]]:
    """Every Kubernetes object of the example, by kind/name."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document:
                found[f"{document['kind']}/{document['metadata']['name']}"] = document
    return found


def test_manifests_apply_in_file_order() -> None:
    kinds = [
        document["kind"]
        for path in sorted(KUBERNETES.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if document
    ]
    assert kinds[0] == "Namespace"
    assert {d["metadata"].get("namespace") for d in manifests().values() if d["kind"] != "Namespace"} == {
        "gds-client-demo"
    }


def test_configmap_holds_exactly_settings_the_client_reads() -> None:
    data = manifests()["ConfigMap/redis-client"]["data"]
    known = set(re.findall(r'"(REDIS_[A-Z_]+)"', SETTINGS_SOURCE.read_text(encoding="utf-8")))
    assert set(data) <= known, f"unknown to ClientSettings.from_env: {set(data) - known}"
    assert "REDIS_AUTH_TOKEN" not in data  # the token is a Secret reference, never a ConfigMap value
    settings = ClientSettings.from_env({k: v for k, v in data.items() if k != "REDIS_AUTH_TOKEN_FILE"})
    assert settings.tls
    assert settings.host == "redis"


def test_external_name_service_is_the_clients_host_and_points_at_the_failover_record() -> None:
    objects = manifests()
    host = objects["ConfigMap/redis-client"]["data"]["REDIS_HOST"]
    service = objects[f"Service/{host}"]
    record_name = load_template()["Parameters"]["RecordName"]["Default"]
    assert service["spec"] == {"type": "ExternalName", "externalName": record_name}


def test_the_token_is_a_mounted_secret_reference() -> None:
    objects = manifests()
    pod = objects["Deployment/gds-client-demo"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "env" not in container  # nothing literal: settings from the ConfigMap, the token from the Secret
    assert container["envFrom"] == [{"configMapRef": {"name": "redis-client"}}]
    secret_volume = next(v for v in pod["volumes"] if "secret" in v)
    mount = next(m for m in container["volumeMounts"] if m["name"] == secret_volume["name"])
    item = secret_volume["secret"]["items"][0]
    token_file = Path(mount["mountPath"]) / item["path"]
    assert objects["ConfigMap/redis-client"]["data"]["REDIS_AUTH_TOKEN_FILE"] == str(token_file)
    assert (secret_volume["secret"]["secretName"], item["key"]) == ("redis-auth", "password")


@pytest.fixture(scope="module")
def datastore() -> dict[str, Any]:
    return load_template(DATASTORE)


def test_outputs_are_named_as_the_failover_stacks_parameters(datastore: dict[str, Any]) -> None:
    failover_parameters = set(load_template()["Parameters"])
    outputs = set(datastore["Outputs"]) - {"CacheSecurityGroupId"}
    assert outputs <= failover_parameters
    assert outputs >= FROM_DATASTORE
    for environment in ("primary", "secondary"):
        # the values a user fills in from the datastore's outputs (samconfig's EDIT block, taken in)
        assert set(_samconfig_overrides(environment)) >= FROM_DATASTORE


def test_primary_is_multi_az_encrypted_and_authenticated_by_a_secrets_manager_reference(
    datastore: dict[str, Any],
) -> None:
    resources = datastore["Resources"]
    primary = resources["PrimaryReplicationGroup"]["Properties"]
    for flag in ("MultiAZEnabled", "AutomaticFailoverEnabled", "TransitEncryptionEnabled", "AtRestEncryptionEnabled"):
        assert primary[flag] is True, flag
    assert primary["AuthToken"] == {"Fn::Sub": "{{resolve:secretsmanager:${AuthSecret}:SecretString:password}}"}
    assert primary["NumCacheClusters"] == {
        "Fn::If": ["IsClusterMode", {"Ref": "AWS::NoValue"}, {"Ref": "NumCacheClusters"}]
    }
    assert datastore["Parameters"]["NumCacheClusters"]["MinValue"] >= 2  # Multi-AZ needs a replica


def test_cluster_mode_variant_shards_with_a_replica_each_and_exposes_the_configuration_endpoint(
    datastore: dict[str, Any],
) -> None:
    """ClusterMode=enabled: NumNodeGroups shards of 1 + ReplicasPerNodeGroup nodes (Multi-AZ needs >= 1
    replica per shard), a cluster-enabled parameter group, and the configuration endpoint as the output the
    failover stack takes as RedisPrimaryEndpoint."""
    resources, parameters = datastore["Resources"], datastore["Parameters"]
    primary = resources["PrimaryReplicationGroup"]["Properties"]
    assert primary["NumNodeGroups"] == {"Fn::If": ["IsClusterMode", {"Ref": "NumNodeGroups"}, {"Ref": "AWS::NoValue"}]}
    assert parameters["ReplicasPerNodeGroup"]["MinValue"] >= 1
    group = primary["CacheParameterGroupName"]["Fn::If"][1]["Fn::Sub"][0]
    assert group == "default.${Engine}${Major}.cluster.on"
    secondary = resources["SecondaryReplicationGroup"]["Properties"]
    assert "NumNodeGroups" not in secondary  # inherited from the Global Datastore with the shard layout
    endpoint = datastore["Outputs"]["RedisPrimaryEndpoint"]["Value"]["Fn::If"]
    assert endpoint[0] == "IsClusterMode"
    assert endpoint[1]["Fn::If"][1] == {"Fn::GetAtt": ["PrimaryReplicationGroup", "ConfigurationEndPoint.Address"]}
    assert datastore["Outputs"]["ClusterMode"]["Value"] == {"Ref": "ClusterMode"}


def test_global_datastore_is_built_around_the_primary_and_the_secondary_joins_it(datastore: dict[str, Any]) -> None:
    resources = datastore["Resources"]
    members = resources["GlobalDatastore"]["Properties"]["Members"]
    assert members == [
        {
            "ReplicationGroupId": {"Ref": "PrimaryReplicationGroup"},
            "ReplicationGroupRegion": {"Ref": "AWS::Region"},
            "Role": "PRIMARY",
        }
    ]
    secondary = resources["SecondaryReplicationGroup"]
    assert secondary["Properties"]["GlobalReplicationGroupId"] == {"Ref": "GlobalReplicationGroupId"}
    # Inherited from the Global Datastore; ElastiCache refuses them on a joining group.
    inherited = {
        "Engine",
        "EngineVersion",
        "CacheNodeType",
        "TransitEncryptionEnabled",
        "AtRestEncryptionEnabled",
        "AuthToken",
    }
    assert not inherited & set(secondary["Properties"])
    assert resources["AuthSecret"]["Properties"]["ReplicaRegions"] == [{"Region": {"Ref": "PeerRegion"}}]


def test_the_cache_admits_the_probes_group_which_is_the_failover_stacks_security_group(
    datastore: dict[str, Any],
) -> None:
    resources = datastore["Resources"]
    ingress = resources["CacheFromProbe"]["Properties"]
    assert ingress["GroupId"] == {"Ref": "CacheSecurityGroup"}
    assert ingress["SourceSecurityGroupId"] == {"Ref": "ProbeSecurityGroup"}
    assert datastore["Outputs"]["SecurityGroupIds"]["Value"] == {"Ref": "ProbeSecurityGroup"}


@pytest.mark.parametrize(
    ("engine", "versions"), [("redis", {"7.0", "7.1"}), ("valkey", {"7.2", "8.0", "8.1", "8.2", "9.0", "9.1"})]
)
def test_engines_and_versions_are_selectable(datastore: dict[str, Any], engine: str, versions: set[str]) -> None:
    assert engine in datastore["Parameters"]["Engine"]["AllowedValues"]
    rule = next(
        r for r in datastore["Rules"].values() if r["RuleCondition"] == {"Fn::Equals": [{"Ref": "Engine"}, engine]}
    )
    allowed = rule["Assertions"][0]["Assert"]["Fn::Contains"][0]
    assert set(allowed) == versions
    assert versions <= set(datastore["Parameters"]["EngineVersion"]["AllowedValues"])


def test_the_python_client_builds_as_a_package_with_the_tested_dependencies(tmp_path: Path) -> None:
    """pip can install examples/client-python: a wheel with the package, its marker and compatible ranges."""
    import shutil
    import subprocess
    import sys
    import tomllib
    import zipfile

    source = tmp_path / "client-python"
    shutil.copytree(ROOT / "examples" / "client-python", source, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("gds_client-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"gds_client/__init__.py", "gds_client/client.py", "gds_client/py.typed"} <= set(names)
    project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = dict(
        line.split("==")
        for line in (source / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    )
    from packaging.requirements import Requirement

    ranges = {Requirement(item).name: Requirement(item).specifier for item in project["dependencies"]}
    assert set(ranges) == set(pins)
    for name, pinned in pins.items():
        assert pinned in ranges[name], f"{name}=={pinned} (tested) is outside {ranges[name]}"
