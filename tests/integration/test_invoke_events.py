"""Every file in events/ goes through the Docker-free invoker (tools/invoke.py), like `make invoke`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.cfn import load_template
from tools.invoke import InvokeError, emf_metrics, function_spec, invoke_function
from tools.localredis import RedisServer

EVENT_FILES = sorted((ROOT / "events").glob("*.json"))
#: An event file's name starts with the function it is for.
FUNCTION_BY_PREFIX = {"probe": "ProbeFunction", "promote": "PromoteFunction"}


def _function_for(event_file: Path) -> str:
    prefix = event_file.stem.split("-", 1)[0]
    assert prefix in FUNCTION_BY_PREFIX, f"{event_file.name}: name it <{'|'.join(FUNCTION_BY_PREFIX)}>-*.json"
    return FUNCTION_BY_PREFIX[prefix]


@pytest.mark.parametrize("event_file", EVENT_FILES, ids=lambda p: p.name)
def test_every_event_file_is_json_for_a_function_in_the_template(event_file: Path) -> None:
    json.loads(event_file.read_text())
    resources = load_template()["Resources"]
    function = _function_for(event_file)
    if function not in resources:
        pytest.skip(f"{function} is not in template.yaml yet")
    assert resources[function]["Type"] == "AWS::Serverless::Function"


@pytest.mark.parametrize("event_file", [p for p in EVENT_FILES if p.name.startswith("probe")], ids=lambda p: p.name)
def test_probe_events_through_the_invoker(
    event_file: Path, redis_factory: Callable[..., RedisServer], capsys: pytest.CaptureFixture[str]
) -> None:
    server = redis_factory("plain", tls=False, password=None)
    env = {
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(server.port),
        "REDIS_TLS": "false",
        "REPLICATION_GROUP_ID": "rg-events",
    }
    result = invoke_function("ProbeFunction", json.loads(event_file.read_text()), {"ProbeFunction": env})
    assert (result["status"], result["healthy"]) == ("healthy", 1)
    assert emf_metrics(capsys.readouterr().out)["HealthCheckStatus"] == 1


def test_make_invoke_cli_prints_the_result_as_json_on_stdout(
    redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    server = redis_factory("plain", tls=False, password=None)
    env_file = tmp_path / "env.json"
    env_file.write_text(
        json.dumps(
            {
                "ProbeFunction": {
                    "REDIS_HOST": "127.0.0.1",
                    "REDIS_PORT": str(server.port),
                    "REDIS_TLS": "false",
                }
            }
        )
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.invoke",
            "ProbeFunction",
            "--event",
            "events/probe.json",
            "--env-vars",
            str(env_file),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["status"] == "healthy"
    assert '"HealthCheckStatus"' in completed.stderr  # the handler's EMF output goes to stderr


def test_env_vars_file_overrides_only_declared_variables() -> None:
    spec = function_spec("ProbeFunction")
    from tools.invoke import apply_env_vars_file

    env = apply_env_vars_file(
        spec,
        {"Parameters": {"REDIS_PORT": "7000"}, "ProbeFunction": {"REDIS_HOST": "h", "NOT_DECLARED": "x"}},
    )
    assert (env["REDIS_PORT"], env["REDIS_HOST"]) == ("7000", "h")
    assert "NOT_DECLARED" not in env


def test_unknown_function_is_a_clear_error() -> None:
    with pytest.raises(InvokeError, match="not an AWS::Serverless::Function"):
        invoke_function("NoSuchFunction", {})


def test_invalid_configuration_fails_naming_the_variable() -> None:
    from gdfailover.config import ConfigError

    with pytest.raises(ConfigError, match="REDIS_PORT"):
        invoke_function("ProbeFunction", {}, {"ProbeFunction": {"REDIS_HOST": "h", "REDIS_PORT": "not-a-port"}})
