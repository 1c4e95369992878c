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
