"""make gameday and make calibrate without AWS: the timeline and step arithmetic, the verdicts, the one-line
exits without credentials, and make rto MEASURED's input checks."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.aws_pair import SAMCONFIG, write_samconfig
from tools import calibrate, rto
from tools.awsclients import StackView
from tools.gameday import __main__ as gameday
from tools.gameday.chain import ChainEvent, ChainState, Side
from tools.gameday.experiments import EXPERIMENTS
from tools.gameday.report import step_rows, timeline

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def side(label: str, group: str, endpoint: str) -> Side:
    stack = StackView(
        "gds-failover",
        "us-east-1" if label == "A" else "us-west-2",
        "CREATE_COMPLETE",
        "",
        {},
        {
            "ReplicationGroupId": group,
            "RedisPrimaryEndpoint": endpoint,
        },
    )
    return Side(label, "primary" if label == "A" else "secondary", stack.region, stack)


A, B = side("A", "orders-use1", "a.cache"), side("B", "orders-usw2", "b.cache")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_the_timeline_is_the_drills_format_on_wall_clock_seconds() -> None:
    events = [
        ChainEvent(at(-1), "fault", "A", "FIS experiment initiating"),
        ChainEvent(at(0), "fault", "A", "FIS action disrupt-connectivity started", clock="aws"),
        ChainEvent(at(95), "alarm", "B", "trigger OK -> ALARM", clock="aws"),
        ChainEvent(at(100), "promoter", "B", "promote (writer-gone) mode=dry-run", ("the writer is down",)),
    ]
    assert timeline(events, at(0), at(-1)).splitlines() == [
        "Timeline (wall clock, T+0 = fault injected at 2026-12-01T10:00:00+00:00):",
        "  T   -1s  FAULT    A        FIS experiment initiating",
        "  T   +0s  FAULT    A        FIS action disrupt-connectivity started",
        "  T  +95s  alarm    B        trigger OK -> ALARM",
        "  T +100s  PROMOTER B        promote (writer-gone) mode=dry-run",
        "                               the writer is down",
    ]


def test_steps_are_measured_between_milestones_beside_the_models_steps() -> None:
    model = rto.TimingModel.from_template()
    state = ChainState(writer=A, peer=B, fault_at=at(0))
    for key, seconds in (("trigger_alarm", 95), ("decision", 100), ("peer_is_writer", 160), ("dns_on_peer", 170)):
        state.mark(key, at(seconds))
    state.mark("decision", at(120))  # a later sighting does not move the milestone
    rows = {row.name: row for row in step_rows("writer-unreachable", model, state)}
    trigger = rows["promotion trigger -> ALARM (B)"]
    assert trigger.measured_at_s == 95
    assert trigger.model_at == model.alarm_backstop()  # the wake-up's backstop
    decision = rows["promoter's promote decision record (B)"]
    assert (decision.measured_at_s, decision.measured_step_s) == (100, 100)  # from T+0: the wake-up may come first
    assert decision.model_at == decision.model_step == model.decided_after()
    promotion = rows["Global Datastore writer is B"]
    assert (promotion.measured_step_s, promotion.model_step) == (60, model.promotion_s)
    assert rows["B's health check healthy"].measured_at_s is None
    total = model.total()
    assert rows["redis.internal answers B (before client TTL)"].model_at == (
        total[0] - model.record_ttl_s / 2,
        total[1] - model.record_ttl_s,
    )


@pytest.mark.parametrize(
    ("mode", "decisions", "writer", "dns", "passed"),
    [
        ("dry-run", [{"decision": "promote", "acted": False}], "orders-use1", "a.cache", True),
        ("dry-run", [{"decision": "promote", "acted": True}], "orders-use1", "a.cache", False),
        ("dry-run", [{"decision": "hold", "acted": False}], "orders-use1", "a.cache", False),
        ("notify", [{"decision": "promote", "acted": False}], "orders-usw2", "a.cache", False),
        ("auto", [{"decision": "promote", "acted": True}], "orders-usw2", "b.cache", True),
        ("auto", [{"decision": "promote", "acted": True}] * 2, "orders-usw2", "b.cache", False),
        ("auto", [{"decision": "promote", "acted": True}], "orders-usw2", "a.cache", False),
    ],
)
def test_writer_unreachable_verdicts(
    mode: str, decisions: list[dict[str, object]], writer: str, dns: str, passed: bool
) -> None:
    state = ChainState(writer=A, peer=B, writer_group=writer, dns_answer=dns, peer_decisions=list(decisions))
    expectation = EXPERIMENTS["writer-unreachable"].expectation(mode, settle_s=150)
    assert expectation.judge(state).passed is passed


def test_in_region_failover_waits_the_settle_time_before_it_ends() -> None:
    expectation = EXPERIMENTS["in-region-failover"].expectation("auto", settle_s=150)
    state = ChainState(writer=A, peer=B, writer_group=A.group, in_region_failover_at=at(30), now=at(100))
    assert not expectation.reached(state)
    state.now = at(181)
    assert expectation.reached(state)
    assert expectation.judge(state).passed


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return write_samconfig(tmp_path, SAMCONFIG)


def test_without_credentials_gameday_exits_2_with_one_line(no_credentials: Path) -> None:
    lines: list[str] = []
    code = gameday.main(
        ["--config-env", "primary", "--experiment", "writer-unreachable"], samconfig=no_credentials, out=lines.append
    )
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith("gameday: no usable AWS credentials: GetCallerIdentity failed"), lines


def test_without_credentials_calibrate_exits_2_with_one_line(no_credentials: Path) -> None:
    lines: list[str] = []
    code = calibrate.main(["--config-env", "primary"], samconfig=no_credentials, out=lines.append)
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith("calibrate: no usable AWS credentials: GetCallerIdentity failed"), lines


def rto_run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = rto.main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"kind": "something else"}', "has no 'measured' object"),
        ('{"measured": {"emf_delay": {"typical": 1, "worst": 2}}}', "unknown measurement 'emf_delay'"),
        (
            '{"measured": {"emf_delay_s": {"typical": 9, "worst": 2}}}',
            "emf_delay_s needs numbers 0 <= typical <= worst",
        ),
        ('{"measured": {"promotion_s": {"typical": "60", "worst": 90}}}', "promotion_s needs numbers"),
        ('{"measured": {"promotion_s": {"typical": true, "worst": 90}}}', "promotion_s needs numbers"),
    ],
)
def test_a_malformed_measured_file_is_one_line_and_exit_2(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(content, encoding="utf-8")
    code, out, err = rto_run("--measured", str(path))
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert message in err


def test_a_missing_measured_file_is_one_line(tmp_path: Path) -> None:
    code, _, err = rto_run("--measured", str(tmp_path / "nope.json"))
    assert code == 2
    assert err.startswith("rto: cannot read ")


def test_measured_promotion_moves_the_total_and_an_empty_report_changes_nothing(tmp_path: Path) -> None:
    base = rto.TimingModel.from_template()
    path = tmp_path / "gameday.json"
    path.write_text(json.dumps({"measured": {"promotion_s": {"typical": 95, "worst": 95, "samples": 1}}}))
    measured = rto.TimingModel.from_template(measured=rto.load_measured(path))
    assert measured.steps()[-1].typical_s == 95
    assert measured.total()[1] < base.total()[1]  # 95 s measured replaces the 180 s worst-case assumption
    path.write_text(json.dumps({"measured": {}}))
    code, out, _ = rto_run("--measured", str(path))
    assert code == 0
    assert "none: the file holds no measurement; every assumption stays" in out


def test_the_confirmation_must_name_the_account_and_the_datastore() -> None:
    token = "123456789012/ldgnf-orders"
    gameday.confirm(token, token, ask=lambda _: "", interactive=False)  # CI: the flag names both
    gameday.confirm(token, None, ask=lambda prompt: token if token in prompt else "", interactive=True)
    refusals = [
        (f"{token}x", lambda _: "", False, "does not name this account and datastore"),
        (None, lambda _: token, False, f"no terminal to confirm on: pass CONFIRM={token}"),
        (None, lambda _: "yes", True, "not confirmed: nothing started"),
    ]
    for given, ask, interactive, message in refusals:
        with pytest.raises(gameday.UsageError, match=message):
            gameday.confirm(token, given, ask=ask, interactive=interactive)

    def end_of_input(_: str) -> str:
        raise EOFError

    with pytest.raises(gameday.UsageError, match="not confirmed"):
        gameday.confirm(token, None, ask=end_of_input, interactive=True)
