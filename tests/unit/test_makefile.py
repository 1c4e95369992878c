"""The Makefile's user-facing behaviour that needs no virtualenv: help, old variable names, Python choice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tools.drill.scenarios import CATALOGUE


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """make in this repository with the running virtualenv (only when make built it and it is up to date)."""
    venv = f"VENV={sys.prefix}"
    if subprocess.run(["make", "-q", "venv", venv], cwd=ROOT, capture_output=True, check=False).returncode != 0:
        pytest.skip(f"{sys.prefix} is not a virtualenv `make venv` built and keeps up to date")
    return subprocess.run(["make", "-s", venv, *args], cwd=ROOT, capture_output=True, text=True, check=False, env=env)


def test_make_help_lists_every_drill_scenario() -> None:
    completed = make("help")
    assert completed.returncode == 0
    listed = completed.stdout.split("drill scenarios (make drill SCENARIO=<name>):", 1)[1].split()
    assert listed == list(CATALOGUE)


@pytest.mark.parametrize(("target", "new_name"), [("rto", "CONFIG_ENV"), ("invoke", "ENV_VARS")])
def test_the_old_env_variable_is_refused_with_the_new_name(target: str, new_name: str) -> None:
    completed = make(target, "ENV=primary")
    assert completed.returncode == 2
    assert f"ENV= is no longer read; use {new_name}=" in completed.stdout


def test_a_shell_env_variable_does_not_leak_into_rto() -> None:
    completed = make("rto", env={"PATH": "/usr/bin:/bin", "ENV": "/root/.shrc"})
    assert completed.returncode == 0, completed.stderr
    assert "template.yaml defaults\n" in completed.stdout


def test_find_python_refuses_an_older_python_in_one_line(tmp_path: Path) -> None:
    old = tmp_path / "python3"
    old.write_text("#!/bin/sh\necho 3.10\n")
    old.chmod(0o755)
    completed = subprocess.run(
        ["/bin/bash", str(ROOT / "tools/find-python")],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(tmp_path)},  # its only python3 is "3.10"
    )
    assert completed.returncode == 1
    (line,) = completed.stderr.splitlines()
    assert "the tooling needs 3.11, 3.12 or 3.13" in line


@pytest.mark.parametrize(
    ("target", "assignment"),
    [
        ("rto", "CONFIG_ENV=primary;echo pwned"),
        ("rto", "CONFIG_ENV=$(shell echo pwned)"),
        ("rto", "CONFIG_ENV=primary `echo pwned`"),
        ("invoke", "EVENT=events/probe.json; echo pwned"),
        ("invoke", "FN=ProbeFunction|echo pwned"),
        ("drill", "SCENARIO=x&&echo pwned"),
        ("drill", "PLOT=$$(echo pwned).png"),
        ("verify", "PEER=secondary'echo pwned'"),
        ("verify", "MINUTES=1;echo pwned"),
    ],
)
def test_a_value_that_cannot_be_a_name_is_refused_before_any_recipe(target: str, assignment: str) -> None:
    others = [] if assignment.startswith("CONFIG_ENV") else ["CONFIG_ENV=primary"]
    completed = make(target, assignment, *others)
    assert completed.returncode == 2
    assert "pwned" not in completed.stdout
    (line,) = completed.stderr.splitlines()
    assert "cannot be a name" in line


@pytest.mark.parametrize("value", ["valky", "redis valkey", "valkey;echo pwned", "$$(echo pwned)"])
def test_an_engine_that_is_not_one_is_refused_in_one_line(value: str) -> None:
    completed = make("drill", f"ENGINE={value}")
    assert completed.returncode == 2
    assert "pwned" not in completed.stdout
    (line,) = completed.stderr.splitlines()
    assert "is not an engine: use redis or valkey" in line


def test_every_variable_a_recipe_passes_on_is_quoted() -> None:
    """make -n shows the commands: each user value reaches its command as one quoted word."""
    dry = make(
        "-n",
        "deploy",
        "verify",
        "drill",
        "rto",
        "CONFIG_ENV=primary",
        "PEER=secondary",
        "MINUTES=5",
        "SCENARIO=blip-20s",
        "ENGINE=valkey",
        "PLOT=t.png",
    )
    assert dry.returncode == 0, dry.stderr
    for quoted in (
        '--config-env "primary"',
        '--peer "secondary"',
        '--minutes "5"',
        '--scenario "blip-20s"',
        '--engine "valkey"',
        '--plot "t.png"',
    ):
        assert quoted in dry.stdout
    assert "--config-env primary" not in dry.stdout


def test_deploy_dry_run_builds_for_python313_and_calls_no_aws() -> None:
    """The build is local (the layer for python3.13 from this Python); tools.deploy --dry-run calls no AWS."""
    dry = make("-n", "deploy", "CONFIG_ENV=primary", "DRY_RUN=1")
    assert dry.returncode == 0, dry.stderr
    assert "sam build" in dry.stdout
    assert "BUILD_PYTHON=" in dry.stdout
    assert '--config-env "primary"' in dry.stdout
    assert "--dry-run" in dry.stdout


def test_delete_and_switchover_want_an_environment() -> None:
    for target in ("delete", "switchover"):
        completed = make(target)
        assert completed.returncode == 2
        assert completed.stdout.startswith(f"usage: make {target} CONFIG_ENV=")


def test_delete_dry_run_runs_the_virtualenvs_sam_with_the_stack_and_region() -> None:
    completed = make("delete", "CONFIG_ENV=primary", "DRY_RUN=1", env={"PATH": "/usr/bin:/bin"})
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.rstrip().endswith("/bin/sam delete --stack-name gds-failover --region us-east-1")
