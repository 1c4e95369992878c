"""Every file in events/ goes through the Docker-free invoker (tools/invoke.py), like `make invoke`."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.cfn import load_template
from tools.invoke import (
    FUNCTION_BY_PREFIX,
    InvokeError,
    emf_metrics,
    function_for_event_file,
    function_spec,
    invoke_function,
)
from tools.localaws import EXPECTED_LAG_ESTIMATE
from tools.localredis import RedisServer

EVENT_FILES = sorted((ROOT / "events").glob("*.json"))
#: What `make invoke EVENT=<file>` prints, as the file is and with FRESH=1 (docs/promotion.md and README).
DOCUMENTED = {
    "probe.json": ({"status": "healthy", "role": "writer"}, {"status": "healthy", "role": "writer"}),
    "probe-witness-check.json": ({"region": "us-east-1", "answer": "unhealthy"},) * 2,
    "promote-alarm.json": (
        {"decision": "noop", "code": "stale"},
        {"decision": "promote", "code": "promote", "acted": False},
    ),
    "promote-ok.json": ({"decision": "noop", "code": "not-alarm"},) * 2,
    "promote-foreign-alarm.json": ({"decision": "noop", "code": "foreign-alarm"},) * 2,
    "promote-wakeup.json": (
        {"decision": "noop", "code": "stale"},
        {"decision": "promote", "code": "promote", "acted": False},
    ),
}


def _function_for(event_file: Path) -> str:
    function = function_for_event_file(event_file)
    assert function, f"{event_file.name}: name it <{'|'.join(FUNCTION_BY_PREFIX)}>-*.json"
    return function


def make_invoke(tmp_path: Path, *assignments: str) -> subprocess.CompletedProcess[str]:
    """Exactly the command `make invoke <assignments>` runs (make -n prints it), run from the repository."""
    planned = subprocess.run(
        ["make", "-n", "invoke", f"VENV={sys.prefix}", *assignments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    command = [line for line in planned.stdout.splitlines() if "-m tools.invoke" in line]
    assert len(command) == 1, planned.stdout + planned.stderr
    return subprocess.run(
        shlex.split(command[0]),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )


def test_every_event_file_is_documented() -> None:
    assert {path.name for path in EVENT_FILES} == set(DOCUMENTED)


@pytest.mark.parametrize("fresh", [False, True], ids=["as-is", "FRESH=1"])
@pytest.mark.parametrize("event_file", EVENT_FILES, ids=lambda p: p.name)
def test_make_invoke_runs_every_event_file_out_of_the_box(event_file: Path, fresh: bool, tmp_path: Path) -> None:
    completed = make_invoke(tmp_path, f"EVENT=events/{event_file.name}", *(["FRESH=1"] if fresh else []))
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout)
    outcome = result["results"][0] if "results" in result else result
    expected = DOCUMENTED[event_file.name][fresh]
    assert {key: outcome.get(key) for key in expected} == expected, outcome
    assert list(tmp_path.iterdir()) == []  # the local redis-server's TLS keys and data are gone
    if outcome.get("decision") == "promote":  # the estimate is the seeded world's, at any second of the minute
        assert f"estimated data loss {EXPECTED_LAG_ESTIMATE:g}s within" in " ".join(outcome["reasons"])


@pytest.mark.parametrize(
    ("assignments", "message"),
    [
        (["EVENT=events/no-such.json"], "invoke: event file events/no-such.json does not exist"),
        (
            ["EVENT=events/probe.json", "ENV_VARS=events/env-vars/no-such.json"],
            "invoke: env-vars file events/env-vars/no-such.json does not exist",
        ),
        (["EVENT=README.md"], "invoke: event file README.md is not JSON"),
        (
            ["EVENT=events/probe.json", "REAL_AWS=1"],  # no REDIS_HOST and nothing local to start
            "invoke: ProbeFunction's configuration: REDIS_HOST is required but not set",
        ),
    ],
)
def test_a_missing_or_bad_file_is_a_one_line_error(assignments: list[str], message: str, tmp_path: Path) -> None:
    completed = make_invoke(tmp_path, *assignments)
    assert completed.returncode == 2
    (line,) = completed.stderr.splitlines()
    assert line.startswith(message), line


def test_make_invoke_refuses_the_old_env_variable() -> None:
    completed = subprocess.run(
        ["make", "-s", "invoke", f"VENV={sys.prefix}", "EVENT=events/probe.json", "ENV=x.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "ENV= is no longer read; use ENV_VARS=<env-vars.json>" in completed.stdout


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
