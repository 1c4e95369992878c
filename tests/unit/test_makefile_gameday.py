"""make gameday / make calibrate / make rto MEASURED=: variables reach the tools as names or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_makefile import make


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gameday"], "usage: make gameday CONFIG_ENV=<env> EXPERIMENT=<in-region-failover|writer-unreachable>"),
        (["gameday", "CONFIG_ENV=primary", "EXPERIMENT=x;touch gameday-pwned"], "EXPERIMENT=x;touch gameday-pwned is"),
        (
            ["gameday", "CONFIG_ENV=primary", "EXPERIMENT=writer-unreachable", "TIMEOUT_MINUTES=1a"],
            "TIMEOUT_MINUTES must",
        ),
        (
            ["gameday", "CONFIG_ENV=primary", "EXPERIMENT=w", "CONFIRM=1/x y"],
            "CONFIRM=1/x y is not <account>/<datastore>",
        ),
        (["gameday", "CONFIG_ENV=primary", "EXPERIMENT=region-gone"], "gameday: unknown EXPERIMENT 'region-gone'"),
        (["calibrate"], "usage: make calibrate CONFIG_ENV=<env>"),
        # refused when the Makefile is read, before any recipe (the common check of every make variable)
        (["calibrate", "CONFIG_ENV=$(shell id)"], "CONFIG_ENV=$(shell id) cannot be a name"),
        (["calibrate", "CONFIG_ENV=primary", "MINUTES=-1"], "MINUTES must be a whole number of minutes"),
    ],
)
def test_bad_variables_are_refused_in_one_line(args: list[str], message: str) -> None:
    completed = make(*args)
    assert completed.returncode == 2
    assert message in completed.stdout + completed.stderr, completed.stdout + completed.stderr
    assert not Path("gameday-pwned").exists()


def test_rto_passes_a_measured_file_and_refuses_a_missing_one(tmp_path: Path) -> None:
    completed = make("rto", f"MEASURED={tmp_path}/none.json")
    assert completed.returncode == 2
    assert f"rto: cannot read {tmp_path}/none.json" in completed.stderr
