"""make invoke's bad input: one line and exit 2, never a traceback; the local world's lag estimate is fixed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gdfailover.evidence import estimate_lag_before_failure
from tests.conftest import ROOT
from tools import invoke
from tools.localaws import EXPECTED_LAG_ESTIMATE, HEARTBEAT_AGES, heartbeat_points


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert invoke.main(list(argv)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("invoke: ")
    return line


def test_a_binary_event_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "probe.png"
    event.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    assert "is not UTF-8 text" in one_line_error(capsys, "ProbeFunction", "--event", str(event), "--local")


@pytest.mark.parametrize("section", ["PromoteFunction", "Parameters"])
@pytest.mark.parametrize("value", [["PROMOTION_MODE=auto"], "auto", 3])
def test_an_env_vars_entry_that_is_not_an_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], section: str, value: object
) -> None:
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({section: value}), encoding="utf-8")
    event = str(ROOT / "events/promote-ok.json")
    line = one_line_error(capsys, "--event", event, "--env-vars", str(env_vars), "--local")
    assert f"{section!r} must be an object" in line


def test_real_aws_without_credentials(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    line = one_line_error(capsys, "--event", str(ROOT / "events/promote-alarm.json"), "--region", "us-west-2")
    assert "no AWS credentials" in line


@pytest.mark.parametrize("second", [0, 1, 29, 30, 58, 59.999])
def test_the_local_lag_estimate_does_not_depend_on_the_second_of_the_minute(second: float) -> None:
    now = datetime(2026, 5, 1, 12, 7, tzinfo=UTC) + timedelta(seconds=second)
    points = heartbeat_points(now)
    assert [age for _, age in points] == list(HEARTBEAT_AGES)
    assert points[-1][0] <= now
    buckets = [stamp.replace(second=0, microsecond=0) for stamp, _ in points]  # GetMetricData, period 60
    assert buckets == [stamp for stamp, _ in points]
    assert len(set(buckets)) == len(points)  # one value per minute: none averaged with another
    first_stale = next(stamp for stamp, age in points if age > 60)  # when the seeded writer alarm fired
    for writer_down_since in (first_stale, now, None):
        estimate = estimate_lag_before_failure(points, writer_down_since=writer_down_since)
        assert estimate.seconds == EXPECTED_LAG_ESTIMATE
